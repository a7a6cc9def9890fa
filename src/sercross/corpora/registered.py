"""Corpora known by the cache: a copy of each manifest that was given by path or under a new name.

``sercross extract corpora/urdu.toml`` or ``sercross extract csv --root DIR --name urdu`` keeps the manifest in
``<cache>/manifests/<name>.toml``; from then on the corpus is known by its name in every command of that cache
(``pair --source emovo --target urdu``, ``corpora list``, schemes, experiment files). A name is never taken over
silently: reusing it for another manifest, or for another root of a table-labelled corpus, is refused unless asked
for (``--force``).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from sercross.corpora.manifests import Manifest, available_manifests, parse_manifest, read_toml
from sercross.infra import SercrossError, atomic_write_text, features_dir, manifests_dir, read_json, toml_dumps


@dataclass(frozen=True)
class CachedFeatures:
    feature_set: str
    root: str
    n_utterances: int
    created: str
    emotions: tuple[tuple[str, int], ...] = ()  # (class, utterances), the classes the table holds

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(e for e, _ in self.emotions)


def cached_features(cache: Path, corpus: str) -> list[CachedFeatures]:
    """Feature sets the cache holds for a corpus: the root each was extracted from, its utterances and classes
    (read from the table's meta.json and index.csv; no audio library is loaded, so ``corpora list`` stays quick)."""
    base = features_dir(Path(cache), corpus, "_").parent
    found = []
    if not base.is_dir():
        return found
    for meta_path in sorted(base.glob("*/meta.json")):
        try:
            meta = read_json(meta_path)
        except (SercrossError, OSError, ValueError):
            continue
        if not isinstance(meta, dict):
            continue
        found.append(CachedFeatures(
            feature_set=str(meta.get("feature_set", meta_path.parent.name)),
            root=str(meta.get("root", "")),
            n_utterances=int(meta.get("n_utterances", 0) or 0),
            created=str(meta.get("created", "")),
            emotions=_emotions(meta_path.parent / "index.csv"),
        ))
    return found


def _emotions(index: Path) -> tuple[tuple[str, int], ...]:
    from sercross.corpora.manifests import CANONICAL_EMOTIONS

    try:
        with open(index, encoding="utf-8", newline="") as fh:
            counts = Counter(row.get("emotion") or "" for row in csv.DictReader(fh))
    except OSError:
        return ()
    order = [e for e in CANONICAL_EMOTIONS if e in counts] + sorted(set(counts) - set(CANONICAL_EMOTIONS) - {""})
    return tuple((e, counts[e]) for e in order) + ((("(unlabelled)", counts[""]),) if counts.get("") else ())


def registered_manifests(cache: Path | None) -> dict[str, Path]:
    """Name -> manifest copy in the cache's ``manifests/`` folder."""
    folder = manifests_dir(Path(cache)) if cache is not None else None
    if folder is None or not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def renamed(manifest: Manifest, name: str) -> tuple[Manifest, str]:
    """``manifest`` under the name ``name`` (no aliases: they belong to the original), and its TOML text."""
    if manifest.path is None:
        raise SercrossError(f"corpus {manifest.name!r} has no manifest file to copy")
    data = read_toml(Path(manifest.path), f"manifest {manifest.path}")
    data = {**data, "name": name, "title": data.get("title", manifest.title)}
    data.pop("aliases", None)
    text = toml_dumps(data, comment=f"The manifest of corpus {name!r}: {manifest.path} under its own name "
                                    f"(written by `sercross extract {manifest.name} --name {name}`).")
    return replace(manifest, name=name, aliases=()), text


def register(cache: Path, manifest: Manifest, name: str | None = None, force: bool = False) -> Manifest:
    """Keep ``manifest`` (under ``name`` when given) in the cache, so that its corpus is known by name there.

    Shipped or user manifests known by that name already need no copy. A name the cache knows from another
    manifest is refused unless ``force``."""
    name = name or manifest.name
    _check_name(name)
    shipped = available_manifests()
    if name in shipped and name == manifest.name and Path(shipped[name]).resolve() == _resolved(manifest.path):
        return manifest  # a shipped or user manifest, known by name everywhere
    if name != manifest.name:
        _refuse_known_name(name, shipped)
        manifest, text = renamed(manifest, name)
    else:
        if name in shipped:
            raise SercrossError(f"{manifest.path} is named {name!r}, the name of the manifest {shipped[name]}",
                                hint=f"give the corpus a name of its own: --name {name}2 (or change `name` in the "
                                "file)")
        text = Path(manifest.path).read_text(encoding="utf-8")
    dest = manifests_dir(Path(cache)) / f"{name}.toml"
    if dest.is_file() and dest.read_text(encoding="utf-8") != text and not force:
        raise SercrossError(f"the cache already knows a corpus {name!r} from another manifest ({dest})",
                            hint="choose another --name, or add --force to replace it (its runs go out of date)")
    if not dest.is_file() or dest.read_text(encoding="utf-8") != text:
        atomic_write_text(dest, text)
    return replace(parse_manifest(dest), path=dest)


def check_root(manifest: Manifest, root: Path, cached_roots: list[str], force: bool) -> str | None:
    """Refuse to extract a table-labelled (or renamed) corpus into the features of the same name taken from another
    root, unless ``force``; for other corpora (a moved copy of a known corpus), a note. None when it is the same."""
    other = sorted({r for r in cached_roots if r and Path(r) != Path(root).resolve()})
    if not other:
        return None
    strict = manifest.kind == "csv" or manifest.name not in available_manifests()
    what = (f"the cache has features of corpus {manifest.name!r} extracted from {other[0]}, not from "
            f"{Path(root).resolve()}")
    if strict and not force:
        raise SercrossError(what, hint=f"give this corpus its own name (`--name NAME`), or add --force to replace "
                                       f"{manifest.name!r} (its pairs and runs go out of date)")
    return what + ("; replacing them (--force)" if strict else "; its files are matched by content, so the "
                   "features of unchanged files are reused")


def _check_name(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or "__" in name or "~" in name or not name.isprintable():
        raise SercrossError(f"{name!r} cannot name a corpus",
                            hint="use letters, digits, '-' and single '_' (no '/', '__' or '~')")


def _refuse_known_name(name: str, shipped: dict) -> None:
    if name in shipped:
        raise SercrossError(f"{name!r} is the name of a known corpus ({shipped[name]})",
                            hint="choose a name of its own for this corpus")
    for path in shipped.values():
        try:
            aliases = parse_manifest(path).aliases
        except SercrossError:
            continue
        if name.lower() in aliases:
            raise SercrossError(f"{name!r} is an alias of the known corpus {path.stem!r}",
                                hint="choose a name of its own for this corpus")


def _resolved(path: Path | None) -> Path | None:
    return Path(path).resolve() if path is not None else None
