"""Corpus manifests, root resolution, and scanning a corpus folder into a labelled index.

A manifest (``corpora_manifests/<name>.toml``) says which files belong to a corpus and how each is labelled.
Two kinds exist:

- ``kind = "rules"`` (the default): ``include`` globs (relative to the corpus root) select the files, and
  ``rules`` (regular expressions with named groups ``emotion`` and optionally ``speaker``, matched against
  the whole relative path; the first that matches wins) read the labels from the path.
- ``kind = "csv"``: a table in the root (``csv = "labels.csv"``) lists file, emotion and optionally speaker.

Both map native emotion names onto the canonical vocabulary (``[emotions]``); ``[[exclude]]`` entries drop
known non-corpus files with a stated reason. Every file that is left out is kept in the index with its reason.
See ``corpora_manifests/README.md`` for the format.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sercross.infra import SercrossError

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
KINDS = ("rules", "csv")

NO_RULE = "file name matches no label rule of the manifest"
MACOS_JUNK = "macOS metadata (an AppleDouble '._' file or a __MACOSX folder), not audio"

# Column names accepted in a csv-kind table, first the canonical one; a manifest's [csv_columns] overrides.
CSV_COLUMN_ALIASES = {
    "file": ("file", "path", "filename", "file_name", "filepath", "wav", "audio"),
    "emotion": ("emotion", "label", "class", "emo"),
    "speaker": ("speaker", "speaker_id", "spk", "actor", "subject"),
}

# The error path looks through the whole root for hints; stop after this many files (a mistaken --root ~).
_HINT_WALK_LIMIT = 200_000


@dataclass(frozen=True)
class Exclusion:
    """Files whose relative path fully matches ``pattern`` are left out, with ``reason``."""

    pattern: str
    reason: str


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
    kind: str = "rules"
    exclude: tuple[Exclusion, ...] = ()
    csv: str = "labels.csv"  # csv kind: the table, relative to the root
    csv_columns: dict[str, str] = field(default_factory=dict)  # csv kind: role (file/emotion/speaker) -> column
    expected_per_speaker: int | None = None  # files per speaker, when the same for every speaker
    expected_speaker_files: dict[str, int] = field(default_factory=dict)  # per-speaker exceptions

    @property
    def env_var(self) -> str:
        return "SERCROSS_ROOT_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper())

    def canonical(self, native: str) -> str | None:
        key = native.lower() if self.ignore_case else native
        return self._lookup.get(key)

    @property
    def _lookup(self) -> dict[str, str]:
        table = dict(self.emotions)
        if self.kind == "csv":
            # A table may use the canonical names directly; the manifest's own entries take precedence.
            table = {**{e: e for e in CANONICAL_EMOTIONS}, **table}
        if self.ignore_case:
            return {k.lower(): v for k, v in table.items()}
        return table

    @property
    def classes(self) -> tuple[str, ...]:
        """Canonical emotions this corpus can provide, in canonical order."""
        present = set(self._lookup.values())
        return tuple(e for e in CANONICAL_EMOTIONS if e in present) + tuple(
            sorted(present - set(CANONICAL_EMOTIONS))
        )

    def expected_for_speaker(self, speaker: str) -> int | None:
        return self.expected_speaker_files.get(speaker, self.expected_per_speaker)


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
    included: int = 0  # files the manifest considered (selected by include, or listed in the table)


@dataclass(frozen=True)
class CorpusGuess:
    """How well a known manifest labels the files under a folder."""

    name: str
    labelled: int
    included: int


# ---------------------------------------------------------------------------------------------
# manifests


def manifest_dirs() -> list[Path]:
    """Manifest folders, user ones (``$SERCROSS_MANIFESTS``, ``:``-separated) first."""
    dirs = [Path(p).expanduser() for p in os.environ.get(ENV_MANIFESTS, "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parents[1]  # src/sercross (the wheel puts corpora_manifests here)
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
    if p.suffix == ".toml":
        if not p.is_file():
            raise SercrossError(f"manifest file {p} not found",
                                hint="give the path of a corpus manifest (see corpora_manifests/README.md)")
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
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SercrossError(f"cannot read manifest {path}: {exc}") from exc
    kind = data.get("kind", "rules")
    if kind not in KINDS:
        raise SercrossError(f"manifest {path}: unknown kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    required = ("name", "include", "rules", "emotions") if kind == "rules" else ("name",)
    missing = [k for k in required if k not in data]
    if missing:
        raise SercrossError(f"manifest {path} lacks {', '.join(missing)}", hint="see corpora_manifests/README.md")
    flags = re.IGNORECASE if data.get("ignore_case") else 0
    rules = tuple(data.get("rules", ())) if kind == "rules" else ()
    for rule in rules:
        rx = _compile(path, rule, flags, "rule")
        if "emotion" not in rx.groupindex:
            raise SercrossError(f"manifest {path}: rule {rule!r} has no (?P<emotion>...) group")
    exclude = []
    for entry in data.get("exclude", ()):
        if not isinstance(entry, dict) or "pattern" not in entry:
            raise SercrossError(
                f"manifest {path}: every [[exclude]] entry needs a pattern (and a reason)",
                hint="see corpora_manifests/README.md",
            )
        _compile(path, entry["pattern"], flags, "exclude pattern")
        exclude.append(Exclusion(entry["pattern"], entry.get("reason", "excluded by the manifest")))
    emotions = dict(data.get("emotions", {}))
    bad = sorted({v for v in emotions.values() if v not in CANONICAL_EMOTIONS})
    expected = data.get("expected", {})
    bad += sorted(set(expected.get("emotions", {})) - set(CANONICAL_EMOTIONS))
    if bad:
        raise SercrossError(
            f"manifest {path} uses non-canonical emotions {bad}",
            hint=f"use one of: {', '.join(CANONICAL_EMOTIONS)}",
        )
    columns = dict(data.get("csv_columns", {}))
    unknown_roles = sorted(set(columns) - set(CSV_COLUMN_ALIASES))
    if unknown_roles:
        raise SercrossError(
            f"manifest {path}: [csv_columns] knows file, emotion and speaker, not {', '.join(unknown_roles)}"
        )
    return Manifest(
        name=data["name"],
        title=data.get("title", data["name"]),
        include=tuple(data.get("include", ())),
        rules=rules,
        emotions=emotions,
        ignore_case=bool(data.get("ignore_case", False)),
        aliases=tuple(a.lower() for a in data.get("aliases", ())),
        citation=data.get("citation", ""),
        homepage=data.get("homepage", ""),
        layout=data.get("layout", ""),
        expected_files=expected.get("files"),
        expected_speakers=expected.get("speakers"),
        expected_emotions=dict(expected.get("emotions", {})),
        path=path,
        kind=kind,
        exclude=tuple(exclude),
        csv=data.get("csv", "labels.csv"),
        csv_columns=columns,
        expected_per_speaker=expected.get("per_speaker"),
        expected_speaker_files={str(k): int(v) for k, v in expected.get("speaker_files", {}).items()},
    )


def _compile(path: Path, pattern: str, flags: int, what: str) -> re.Pattern:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise SercrossError(f"manifest {path}: bad {what} {pattern!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# roots


def configured_root(manifest: Manifest) -> tuple[str | None, str | None]:
    """The root configured for a corpus and where it came from, without checking that it exists:
    ``$SERCROSS_ROOT_<NAME>``, else ``[roots]`` in ~/.config/sercross/config.toml, else ``(None, None)``."""
    env = os.environ.get(manifest.env_var)
    if env:  # an empty variable counts as unset (it would otherwise mean the current folder)
        return env, manifest.env_var
    root = _config_root(manifest.name, manifest.aliases)
    if root:
        return root, str(USER_CONFIG)
    return None, None


def resolve_root(manifest: Manifest, root: str | os.PathLike | None = None) -> Path:
    """``--root``, else ``$SERCROSS_ROOT_<NAME>``, else ``[roots]`` in ~/.config/sercross/config.toml."""
    source: str | None = "--root"
    if root is None:
        root, source = configured_root(manifest)
    if root is None:
        raise SercrossError(
            f"no root folder given for corpus {manifest.name!r}",
            hint=f"pass --root PATH, set {manifest.env_var}, or add it under [roots] in {USER_CONFIG}",
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        why = "is a file, not a folder" if path.exists() else "does not exist"
        raise SercrossError(
            f"root folder {path} of corpus {manifest.name!r} (from {source}) {why}",
            hint="point it at the folder that holds the corpus as downloaded"
            + (f" ({manifest.layout})" if manifest.layout else ""),
        )
    return path


def _config_root(name: str, aliases: tuple[str, ...] = ()) -> str | None:
    cfg = USER_CONFIG.expanduser()
    if not cfg.is_file():
        return None
    try:
        data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SercrossError(f"cannot read {cfg}: {exc}") from exc
    roots = data.get("roots", {})
    if not isinstance(roots, dict):
        raise SercrossError(f"{cfg}: [roots] must be a table of corpus = \"path\" lines")
    for key in (name, *aliases):
        if roots.get(key):
            return str(roots[key])
    return None


# ---------------------------------------------------------------------------------------------
# walking a root and matching globs


def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern:
    """A regular expression for a relative-path glob: ``*`` and ``?`` stay within one folder, a ``**``
    component stands for any number of folders (also none), ``[...]`` is a character class."""
    parts = pattern.strip("/").split("/")
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_glob_part(part) + ("" if last else "/"))
    return re.compile("".join(out), re.IGNORECASE if ignore_case else 0)


def _glob_part(part: str) -> str:
    out, i = [], 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in part[i + 2 :]:
            end = part.index("]", i + 2)
            body = part[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _max_depth(patterns: tuple[str, ...]) -> int | None:
    """How many path components the patterns can reach; None when one has ``**``."""
    if not patterns:
        return 0
    if any("**" in p for p in patterns):
        return None
    return max(len(p.strip("/").split("/")) for p in patterns)


def walk_files(root: Path, max_depth: int | None = None, limit: int | None = None) -> tuple[list[str], list[str]]:
    """Relative posix paths of the files under ``root`` (symlinks followed, each folder once, sorted) up to
    ``max_depth`` components, and the folders that could not be read."""
    files: list[str] = []
    unreadable: list[str] = []
    seen: set[str] = set()

    def visit(folder: str, prefix: str, depth: int) -> None:
        real = os.path.realpath(folder)
        if real in seen:  # a symlink loop, or the same folder reached twice
            return
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            unreadable.append(prefix.rstrip("/") or ".")
            return
        subdirs = []
        for e in entries:
            try:
                if e.is_dir():
                    subdirs.append(e)
                elif e.is_file():
                    files.append(prefix + e.name)
            except OSError:
                continue
        if max_depth is not None and depth + 1 >= max_depth:
            return
        for e in subdirs:
            if limit is not None and len(files) >= limit:
                return
            visit(e.path, prefix + e.name + "/", depth + 1)

    visit(os.fspath(root), "", 0)
    return files, unreadable


def _is_macos_junk(rel: str) -> bool:
    parts = rel.split("/")
    return parts[-1].startswith("._") or "__MACOSX" in parts[:-1] or parts[-1] == ".DS_Store"


# ---------------------------------------------------------------------------------------------
# labelling


def label_paths(manifest: Manifest, files: list[str]) -> tuple[list[Utterance], list[Skipped], int]:
    """Label relative paths (forward slashes) with a rules manifest, without touching the file system:
    (utterances, skipped, number of files the include globs select)."""
    flags = re.IGNORECASE if manifest.ignore_case else 0
    includes = [glob_regex(p, manifest.ignore_case) for p in manifest.include]
    rules = [re.compile(r, flags) for r in manifest.rules]
    excludes = [(re.compile(x.pattern, flags), x.reason) for x in manifest.exclude]
    utterances, skipped, n = [], [], 0
    for rel in files:
        if not any(rx.fullmatch(rel) for rx in includes):
            continue
        n += 1
        reason = _left_out(rel, excludes)
        if reason:
            skipped.append(Skipped(rel, reason))
            continue
        m = next((m for m in (r.fullmatch(rel) for r in rules) if m), None)
        if m is None:
            skipped.append(Skipped(rel, NO_RULE))
            continue
        native = m.group("emotion")
        emotion = manifest.canonical(native)
        if emotion is None:
            skipped.append(Skipped(rel, f"unknown emotion label {native!r}"))
            continue
        speaker = m.groupdict().get("speaker") or ""
        utterances.append(Utterance(rel, speaker, emotion, native))
    return utterances, skipped, n


def _left_out(rel: str, excludes: list[tuple[re.Pattern, str]]) -> str | None:
    if _is_macos_junk(rel):
        return MACOS_JUNK
    return next((reason for rx, reason in excludes if rx.fullmatch(rel)), None)


def scan(manifest: Manifest, root: Path, *, strict: bool = True) -> CorpusIndex:
    """Every file the manifest includes, labelled; files left out are kept as skipped, with their reason.

    With ``strict`` (the default) a root in which nothing gets a label is an error that says why, when it
    can tell: an empty folder, the corpus one folder further down, or the files of another known corpus.
    """
    root = Path(root)
    if manifest.kind == "csv":
        index = _scan_csv(manifest, root)
    else:
        files, bad_dirs = walk_files(root, _max_depth(manifest.include))
        utterances, skipped, n = label_paths(manifest, files)
        skipped += [Skipped(d + "/", "folder cannot be read (permission denied?)") for d in bad_dirs]
        index = CorpusIndex(manifest.name, root, utterances, skipped, n)
    if strict and not index.utterances:
        raise no_labels_error(manifest, root, index)
    return index


def no_labels_error(manifest: Manifest, root: Path, index: CorpusIndex) -> SercrossError:
    """The error for a root in which the manifest labels nothing, with the most useful hint found."""
    files, _ = walk_files(root, None, _HINT_WALK_LIMIT)
    where = f"for corpus {manifest.name!r} under {root}"
    if not files:
        message = f"found no files {where}: the folder is empty"
    elif not index.included:
        message = f"found no files {where} (it holds {len(files)} files, none where the manifest looks)"
    else:
        message = f"found {index.included} files but none with a known label {where}"
    hints = []
    nested = nested_root(manifest, files) if manifest.kind == "rules" else None
    if nested:
        prefix, n = nested
        hints.append(f"the corpus seems to be one level down: {n} files get a label with --root {root / prefix}")
    other = different_corpus_hint(manifest, root, 0, files)
    if other:
        hints.append(other)
    hints.append(
        f"expected layout: {manifest.layout or ', '.join(manifest.include)}; is this the right folder "
        "(and the right corpus)?"
    )
    return SercrossError(message, hint="; ".join(hints))


def nested_root(manifest: Manifest, files: list[str]) -> tuple[str, int] | None:
    """The sub-folder (one or two levels down) under which the manifest labels the most files, if any."""
    best: tuple[str, int] | None = None
    for k in (1, 2):
        groups: dict[str, list[str]] = defaultdict(list)
        for f in files:
            parts = f.split("/")
            if len(parts) > k:
                groups["/".join(parts[:k])].append("/".join(parts[k:]))
        for prefix, sub in sorted(groups.items()):
            n = len(label_paths(manifest, sub)[0])
            if n and (best is None or n > best[1]):
                best = (prefix, n)
    return best


def identify(root: Path, files: list[str] | None = None) -> list[CorpusGuess]:
    """Known rules manifests that label at least one file under ``root``, the best first."""
    if files is None:
        files, _ = walk_files(Path(root), None, _HINT_WALK_LIMIT)
    guesses = []
    for path in available_manifests().values():
        try:
            m = _parse_manifest(path)
        except SercrossError:
            continue  # a broken user manifest must not break the diagnosis of another corpus
        if m.kind != "rules":
            continue
        utterances, _, n = label_paths(m, files)
        if utterances:
            guesses.append(CorpusGuess(m.name, len(utterances), n))
    return sorted(guesses, key=lambda g: (-g.labelled, g.name))


def different_corpus_hint(
    manifest: Manifest, root: Path, labelled: int, files: list[str] | None = None
) -> str | None:
    """A sentence naming another known corpus when its manifest labels at least twice as many files under
    ``root`` as this one does (``labelled``); None otherwise."""
    for g in identify(root, files):
        if g.name == manifest.name:
            continue
        if g.labelled >= 2 * labelled and g.labelled > labelled:
            return (
                f"the files look like corpus {g.name!r} instead: its manifest labels {g.labelled} of them "
                f"(this one: {labelled}); try `sercross corpora check {g.name} --root {root}`"
            )
        return None
    return None


# ---------------------------------------------------------------------------------------------
# csv kind


def _scan_csv(manifest: Manifest, root: Path) -> CorpusIndex:
    table = Path(manifest.csv)
    table = table if table.is_absolute() else root / table
    if not table.is_file():
        raise SercrossError(
            f"corpus {manifest.name!r} is labelled by a table, but {table} does not exist",
            hint="write a CSV with the columns file, emotion and (optionally) speaker there, one row per audio "
            "file, paths relative to the root (see corpora_manifests/README.md)",
        )
    try:
        text = table.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SercrossError(f"cannot read {table}: {exc}", hint="save the table as UTF-8 text") from exc
    rows = list(csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise SercrossError(f"{table} is empty", hint="its first line must name the columns: file,emotion,speaker")
    cols = _csv_columns(manifest, [c.strip() for c in rows[0]], table)
    flags = re.IGNORECASE if manifest.ignore_case else 0
    excludes = [(re.compile(x.pattern, flags), x.reason) for x in manifest.exclude]
    utterances, skipped = [], []
    first_row: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        cell = dict.fromkeys(cols, "")
        for role, i in cols.items():
            cell[role] = row[i].strip() if i < len(row) else ""
        where = f"{table.name} line {line}"
        if not cell["file"]:
            skipped.append(Skipped(f"({where})", "row without a file name"))
            continue
        rel = _table_path(cell["file"], root)
        if rel in first_row:
            skipped.append(Skipped(rel, f"listed twice in {table.name} (lines {first_row[rel]} and {line})"))
            continue
        first_row[rel] = line
        reason = _left_out(rel, excludes)
        if reason:
            skipped.append(Skipped(rel, reason))
            continue
        if not (root / rel).is_file():
            skipped.append(Skipped(rel, f"listed in {where} but not found under the root"))
            continue
        native = cell["emotion"]
        emotion = manifest.canonical(native) if native else None
        if emotion is None:
            why = "no emotion" if not native else f"unknown emotion label {native!r}"
            skipped.append(Skipped(rel, f"{why} ({where})"))
            continue
        utterances.append(Utterance(rel, cell.get("speaker", ""), emotion, native))
    n = len(first_row)
    if manifest.include:
        files, _ = walk_files(root, _max_depth(manifest.include))
        includes = [glob_regex(p, manifest.ignore_case) for p in manifest.include]
        for rel in files:
            if rel not in first_row and not _is_macos_junk(rel) and any(rx.fullmatch(rel) for rx in includes):
                skipped.append(Skipped(rel, f"not listed in {table.name}"))
                n += 1
    utterances.sort(key=lambda u: u.file)
    return CorpusIndex(manifest.name, root, utterances, skipped, n)


def _sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_columns(manifest: Manifest, header: list[str], table: Path) -> dict[str, int]:
    lower = [h.lower() for h in header]
    cols: dict[str, int] = {}
    for role, aliases in CSV_COLUMN_ALIASES.items():
        wanted = (manifest.csv_columns[role],) if role in manifest.csv_columns else aliases
        idx = next((lower.index(w.lower()) for w in wanted if w.lower() in lower), None)
        if idx is not None:
            cols[role] = idx
        elif role != "speaker" or role in manifest.csv_columns:
            raise SercrossError(
                f"{table}: no {role} column (looked for {', '.join(wanted)}; the header has {', '.join(header)})",
                hint="name the columns file, emotion and speaker, or map them with [csv_columns] in the manifest",
            )
    return cols


def _table_path(value: str, root: Path) -> str:
    """A table's file cell as a path relative to the root (forward slashes); absolute paths outside the
    root stay absolute."""
    value = value.replace("\\", "/")
    p = Path(value)
    if p.is_absolute():
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            try:
                return p.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                return p.as_posix()
    while value.startswith("./"):
        value = value[2:]
    return value
