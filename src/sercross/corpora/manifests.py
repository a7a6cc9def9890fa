"""Corpus manifests: the TOML format, parsing it, the manifests sercross knows, and what scanning a corpus yields.

A manifest (``corpora_manifests/<name>.toml``) says which files belong to a corpus and how each is labelled.
Two kinds exist:

- ``kind = "rules"`` (the default): ``include`` globs (relative to the corpus root) select the files, and
  ``rules`` (regular expressions with named groups ``emotion`` and optionally ``speaker``, matched against
  the whole relative path; the first that matches wins) read the labels from the path.
- ``kind = "csv"``: a table in the root (``csv = "labels.csv"``) lists file, emotion and optionally speaker.

Both map native emotion names onto the canonical vocabulary (``[emotions]``); ``[[exclude]]`` entries drop
known non-corpus files with a stated reason. Every file that is left out is kept in the index with its reason.
See ``corpora_manifests/README.md`` for the format. Where a corpus lives is :mod:`.roots`; reading a root with a
manifest is :mod:`.scanning` (and :mod:`.tables` for the csv kind).
"""

from __future__ import annotations

import os
import re
import sys
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
KINDS = ("rules", "csv")
CSV_ROLES = ("file", "emotion", "speaker")  # the columns of a csv-kind table ([csv_columns] maps them)

MACOS_JUNK = "macOS metadata (an AppleDouble '._' file or a __MACOSX folder), not audio"


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
    # False: a corpus without emotion labels (e.g. the recordings a trained run is applied to, or an unlabelled
    # target); every included file is an utterance with emotion "", rules only read speakers.
    labelled: bool = True

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
        """Canonical emotions this corpus can provide, in canonical order (none for an unlabelled corpus)."""
        if not self.labelled:
            return ()
        present = set(self._lookup.values())
        return tuple(e for e in CANONICAL_EMOTIONS if e in present) + tuple(
            sorted(present - set(CANONICAL_EMOTIONS))
        )

    def expected_for_speaker(self, speaker: str) -> int | None:
        return self.expected_speaker_files.get(speaker, self.expected_per_speaker)

    @property
    def regex_flags(self) -> int:
        return re.IGNORECASE if self.ignore_case else 0

    def exclusions(self) -> list[tuple[re.Pattern, str]]:
        """The ``[[exclude]]`` patterns compiled, each with its reason (for :func:`left_out`)."""
        return [(re.compile(x.pattern, self.regex_flags), x.reason) for x in self.exclude]


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


def is_macos_junk(rel: str) -> bool:
    parts = rel.split("/")
    return parts[-1].startswith("._") or "__MACOSX" in parts[:-1] or parts[-1] == ".DS_Store"


def left_out(rel: str, excludes: list[tuple[re.Pattern, str]]) -> str | None:
    """Why the file at relative path ``rel`` is not part of the corpus (``excludes``: from
    :meth:`Manifest.exclusions`), or None."""
    if is_macos_junk(rel):
        return MACOS_JUNK
    return next((reason for rx, reason in excludes if rx.fullmatch(rel)), None)


AUDIO_GLOBS = ("**/*.wav", "**/*.flac", "**/*.ogg", "**/*.mp3", "**/*.avi", "**/*.mp4")


def unlabelled_manifest(name: str, title: str = "") -> Manifest:
    """Every audio file under a root, without labels (speaker: the first folder under the root, if any)."""
    return Manifest(name=name, title=title or name, include=AUDIO_GLOBS, rules=(r"(?P<speaker>[^/]+)/.+",),
                    emotions={}, labelled=False, layout="audio files anywhere under the root")


# ---------------------------------------------------------------------------------------------
# known manifests


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


def load_manifest(name_or_path: str | os.PathLike, cache: Path | None = None) -> Manifest:
    """Load a manifest by corpus name, alias (``B``, ``emodb``) or path to a ``.toml`` file. ``cache``: also the
    corpora that cache knows by name (:mod:`.registered`: given by path or renamed there)."""
    p = Path(name_or_path)
    if p.suffix == ".toml":
        if not p.is_file():
            raise SercrossError(f"manifest file {p} not found",
                                hint="give the path of a corpus manifest (see corpora_manifests/README.md)")
        return parse_manifest(p)
    known = available_manifests()
    key = str(name_or_path).lower()
    if key in known:
        return parse_manifest(known[key])
    for path in known.values():
        m = parse_manifest(path)
        if key in m.aliases:
            return m
    from sercross.corpora.registered import registered_manifests

    cached = registered_manifests(cache)
    for name, path in cached.items():
        if name.lower() == key:
            return parse_manifest(path)
    raise SercrossError(
        f"unknown corpus {str(name_or_path)!r}",
        hint=f"known corpora: {', '.join(sorted(set(known) | set(cached)))}; or pass a manifest file (see "
        "corpora_manifests/README.md)",
    )


# ---------------------------------------------------------------------------------------------
# parsing


def read_toml(path: Path, what: str) -> dict:
    """The TOML file at ``path`` as a dict; unreadable → an error naming ``what`` (e.g. "manifest x.toml")."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SercrossError(f"cannot read {what}: {exc}") from exc


def parse_manifest(path: Path) -> Manifest:
    """The manifest in the TOML file ``path``, every pattern and emotion checked."""
    data = read_toml(path, f"manifest {path}")
    kind = data.get("kind", "rules")
    if kind not in KINDS:
        raise SercrossError(f"manifest {path}: unknown kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    labelled = data.get("labelled", True)
    if not isinstance(labelled, bool):
        raise SercrossError(f"manifest {path}: labelled = {labelled!r}", hint="labelled is true or false")
    required = ("name", "include", "rules", "emotions") if kind == "rules" and labelled else \
        ("name", "include") if kind == "rules" else ("name",)
    missing = [k for k in required if k not in data]
    if missing:
        raise SercrossError(f"manifest {path} lacks {', '.join(missing)}", hint="see corpora_manifests/README.md")
    flags = re.IGNORECASE if data.get("ignore_case") else 0
    rules, exclude = _parse_rules(path, data, kind, flags, labelled), _parse_exclusions(path, data, flags)
    emotions, columns = _parse_emotions(path, data), _parse_csv_columns(path, data)
    expected = data.get("expected", {})
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
        exclude=exclude,
        csv=data.get("csv", "labels.csv"),
        csv_columns=columns,
        expected_per_speaker=expected.get("per_speaker"),
        expected_speaker_files={str(k): int(v) for k, v in expected.get("speaker_files", {}).items()},
        labelled=labelled,
    )


def _parse_rules(path: Path, data: dict, kind: str, flags: int, labelled: bool = True) -> tuple[str, ...]:
    rules = tuple(data.get("rules", ())) if kind == "rules" else ()
    for rule in rules:
        rx = _compile(path, rule, flags, "rule")
        if labelled and "emotion" not in rx.groupindex:
            raise SercrossError(f"manifest {path}: rule {rule!r} has no (?P<emotion>...) group")
    return rules


def _parse_exclusions(path: Path, data: dict, flags: int) -> tuple[Exclusion, ...]:
    exclude = []
    for entry in data.get("exclude", ()):
        if not isinstance(entry, dict) or "pattern" not in entry:
            raise SercrossError(
                f"manifest {path}: every [[exclude]] entry needs a pattern (and a reason)",
                hint="see corpora_manifests/README.md",
            )
        _compile(path, entry["pattern"], flags, "exclude pattern")
        exclude.append(Exclusion(entry["pattern"], entry.get("reason", "excluded by the manifest")))
    return tuple(exclude)


def _parse_emotions(path: Path, data: dict) -> dict[str, str]:
    """``[emotions]`` (native → canonical), after checking it and ``[expected.emotions]`` use canonical names."""
    emotions = dict(data.get("emotions", {}))
    bad = sorted({v for v in emotions.values() if v not in CANONICAL_EMOTIONS})
    bad += sorted(set(data.get("expected", {}).get("emotions", {})) - set(CANONICAL_EMOTIONS))
    if bad:
        raise SercrossError(
            f"manifest {path} uses non-canonical emotions {bad}",
            hint=f"use one of: {', '.join(CANONICAL_EMOTIONS)}",
        )
    return emotions


def _parse_csv_columns(path: Path, data: dict) -> dict[str, str]:
    columns = dict(data.get("csv_columns", {}))
    unknown_roles = sorted(set(columns) - set(CSV_ROLES))
    if unknown_roles:
        raise SercrossError(
            f"manifest {path}: [csv_columns] knows file, emotion and speaker, not {', '.join(unknown_roles)}"
        )
    return columns


def _compile(path: Path, pattern: str, flags: int, what: str) -> re.Pattern:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise SercrossError(f"manifest {path}: bad {what} {pattern!r}: {exc}") from exc
