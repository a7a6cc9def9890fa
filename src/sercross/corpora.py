"""Corpus manifests, root resolution, and scanning a corpus folder into a labelled index.

A manifest (``corpora_manifests/<name>.toml``) says which files belong to a corpus (``include`` globs,
relative to the corpus root), how to read emotion and speaker from a file's relative path (``rules``:
regular expressions with named groups ``emotion`` and optionally ``speaker``; the first that matches
wins) and how native emotion names map onto the canonical vocabulary (``[emotions]``).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sercross.errors import SercrossError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CANONICAL_EMOTIONS = (
    "anger",
    "boredom",
    "calm",
    "contempt",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
)

ENV_MANIFESTS = "SERCROSS_MANIFESTS"
USER_CONFIG = Path("~/.config/sercross/config.toml")


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    include: tuple[str, ...]
    rules: tuple[str, ...]
    emotions: dict[str, str]
    ignore_case: bool = False
    aliases: tuple[str, ...] = ()
    citation: str = ""
    homepage: str = ""
    layout: str = ""
    expected_files: int | None = None
    expected_speakers: int | None = None
    expected_emotions: dict[str, int] = field(default_factory=dict)
    path: Path | None = None

    @property
    def env_var(self) -> str:
        return "SERCROSS_ROOT_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper())

    def canonical(self, native: str) -> str | None:
        key = native.lower() if self.ignore_case else native
        return self._lookup.get(key)

    @property
    def _lookup(self) -> dict[str, str]:
        if self.ignore_case:
            return {k.lower(): v for k, v in self.emotions.items()}
        return self.emotions

    @property
    def classes(self) -> tuple[str, ...]:
        """Canonical emotions this corpus can provide, in canonical order."""
        present = set(self.emotions.values())
        return tuple(e for e in CANONICAL_EMOTIONS if e in present) + tuple(
            sorted(present - set(CANONICAL_EMOTIONS))
        )


@dataclass(frozen=True)
class Utterance:
    file: str  # path relative to the corpus root, forward slashes
    speaker: str
    emotion: str  # canonical
    native: str  # the corpus's own label


@dataclass(frozen=True)
class Skipped:
    file: str
    reason: str


@dataclass
class CorpusIndex:
    corpus: str
    root: Path
    utterances: list[Utterance]
    skipped: list[Skipped]


def manifest_dirs() -> list[Path]:
    """Manifest folders, user ones (``$SERCROSS_MANIFESTS``, ``:``-separated) first."""
    dirs = [Path(p).expanduser() for p in os.environ.get(ENV_MANIFESTS, "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent
    # Installed wheel: shipped inside the package. Source checkout / editable install: repo top level.
    dirs += [here / "corpora_manifests", here.parents[1] / "corpora_manifests"]
    return [d for d in dirs if d.is_dir()]


def available_manifests() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in manifest_dirs():
        for p in sorted(d.glob("*.toml")):
            found.setdefault(p.stem, p)
    return found


def load_manifest(name_or_path: str | os.PathLike) -> Manifest:
    """Load a manifest by corpus name, alias (``B``, ``emodb``) or path to a ``.toml`` file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.is_file():
        return _parse_manifest(p)
    known = available_manifests()
    key = str(name_or_path).lower()
    if key in known:
        return _parse_manifest(known[key])
    for path in known.values():
        m = _parse_manifest(path)
        if key in m.aliases:
            return m
    raise SercrossError(
        f"unknown corpus {str(name_or_path)!r}",
        hint=f"known corpora: {', '.join(sorted(known))}; or pass a manifest file (see corpora_manifests/README.md)",
    )


def _parse_manifest(path: Path) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SercrossError(f"cannot read manifest {path}: {exc}") from exc
    missing = [k for k in ("name", "include", "rules", "emotions") if k not in data]
    if missing:
        raise SercrossError(f"manifest {path} lacks {', '.join(missing)}", hint="see corpora_manifests/README.md")
    flags = re.IGNORECASE if data.get("ignore_case") else 0
    for rule in data["rules"]:
        try:
            rx = re.compile(rule, flags)
        except re.error as exc:
            raise SercrossError(f"manifest {path}: bad rule {rule!r}: {exc}") from exc
        if "emotion" not in rx.groupindex:
            raise SercrossError(f"manifest {path}: rule {rule!r} has no (?P<emotion>...) group")
    bad = sorted({v for v in data["emotions"].values() if v not in CANONICAL_EMOTIONS})
    if bad:
        raise SercrossError(
            f"manifest {path} maps onto non-canonical emotions {bad}",
            hint=f"use one of: {', '.join(CANONICAL_EMOTIONS)}",
        )
    expected = data.get("expected", {})
    return Manifest(
        name=data["name"],
        title=data.get("title", data["name"]),
        include=tuple(data["include"]),
        rules=tuple(data["rules"]),
        emotions=dict(data["emotions"]),
        ignore_case=bool(data.get("ignore_case", False)),
        aliases=tuple(a.lower() for a in data.get("aliases", ())),
        citation=data.get("citation", ""),
        homepage=data.get("homepage", ""),
        layout=data.get("layout", ""),
        expected_files=expected.get("files"),
        expected_speakers=expected.get("speakers"),
        expected_emotions=dict(expected.get("emotions", {})),
        path=path,
    )


def resolve_root(manifest: Manifest, root: str | os.PathLike | None = None) -> Path:
    """``--root``, else ``$SERCROSS_ROOT_<NAME>``, else ``[roots]`` in ~/.config/sercross/config.toml."""
    source = "--root"
    if root is None:
        root, source = os.environ.get(manifest.env_var), manifest.env_var
    if root is None:
        root, source = _config_root(manifest.name), str(USER_CONFIG)
    if root is None:
        raise SercrossError(
            f"no root folder given for corpus {manifest.name!r}",
            hint=f"pass --root PATH, set {manifest.env_var}, or add it under [roots] in {USER_CONFIG}",
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise SercrossError(
            f"root folder {path} of corpus {manifest.name!r} (from {source}) does not exist",
            hint="point it at the folder that holds the corpus as downloaded"
            + (f" ({manifest.layout})" if manifest.layout else ""),
        )
    return path


def _config_root(name: str) -> str | None:
    cfg = USER_CONFIG.expanduser()
    if not cfg.is_file():
        return None
    try:
        data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SercrossError(f"cannot read {cfg}: {exc}") from exc
    return data.get("roots", {}).get(name)


def scan(manifest: Manifest, root: Path) -> CorpusIndex:
    """Every file the manifest includes, labelled by its rules; unlabelled files are kept as skipped."""
    root = Path(root)
    flags = re.IGNORECASE if manifest.ignore_case else 0
    rules = [re.compile(r, flags) for r in manifest.rules]
    files: set[str] = set()
    for pattern in manifest.include:
        for p in root.glob(pattern):
            if p.is_file():
                files.add(p.relative_to(root).as_posix())
    utterances, skipped = [], []
    for rel in sorted(files):
        m = next((m for m in (r.fullmatch(rel) for r in rules) if m), None)
        if m is None:
            skipped.append(Skipped(rel, "file name matches no label rule of the manifest"))
            continue
        native = m.group("emotion")
        emotion = manifest.canonical(native)
        if emotion is None:
            skipped.append(Skipped(rel, f"unknown emotion label {native!r}"))
            continue
        speaker = m.groupdict().get("speaker") or ""
        utterances.append(Utterance(rel, speaker, emotion, native))
    if not utterances:
        what = "no files" if not files else f"{len(files)} files but none with a known label"
        raise SercrossError(
            f"found {what} for corpus {manifest.name!r} under {root}",
            hint=f"expected layout: {manifest.layout or ', '.join(manifest.include)}; "
            "is this the right folder (and the right corpus)?",
        )
    return CorpusIndex(manifest.name, root, utterances, skipped)
