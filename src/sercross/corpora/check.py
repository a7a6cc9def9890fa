"""Is a downloaded corpus complete and readable? Counts, unlabelled and unreadable files, duplicates, duration.

:func:`check_corpus` scans a corpus root with its manifest and returns a :class:`CheckReport`; nothing here
prints. Audio is inspected from file headers only (:func:`sercross.corpora.audio.audio_info`), so a check of a whole
corpus takes seconds; content problems that need decoding (silence, NaN samples) are found by extraction.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sercross.corpora.audio import MIN_SECONDS, VIDEO_SUFFIXES, audio_info
from sercross.corpora.manifests import CANONICAL_EMOTIONS, CorpusIndex, Manifest, Skipped, Utterance
from sercross.corpora.registered import CachedFeatures, cached_features  # noqa: F401 - were defined here
from sercross.corpora.scanning import different_corpus_hint, scan
from sercross.infra import SercrossError, sha1_file

LFS_POINTER = "a Git LFS pointer (a small text file), not the audio: fetch the real files with `git lfs pull`"
HTML_PAGE = "an HTML page, not audio (a failed or interrupted download?)"


@dataclass(frozen=True)
class Mismatch:
    """A count that differs from the manifest's ``[expected]`` one."""

    what: str  # "files", "speakers", an emotion, or "speaker <id>"
    found: int
    expected: int


@dataclass
class CheckReport:
    corpus: str
    title: str
    root: Path
    manifest_path: Path | None
    included: int  # files the manifest considered
    utterances: list[Utterance]  # files that got a label
    skipped: list[Skipped]  # files left without a label, with the reason
    unreadable: list[Skipped] = field(default_factory=list)  # labelled files that cannot be read or are too short
    duplicates: list[list[str]] = field(default_factory=list)  # labelled files with identical content
    durations: dict[str, float] = field(default_factory=dict)  # seconds per readable file (header)
    sample_rates: dict[int, int] = field(default_factory=dict)  # sample rate -> files
    channels: dict[int, int] = field(default_factory=dict)  # channel count -> files
    mismatches: list[Mismatch] = field(default_factory=list)
    suggestion: str | None = None  # "these files look like another corpus"
    warnings: list[str] = field(default_factory=list)
    audio_checked: bool = True
    hashed: bool = True

    @property
    def n_labelled(self) -> int:
        return len(self.utterances)

    @property
    def n_readable(self) -> int:
        return self.n_labelled - len({s.file for s in self.unreadable})

    @property
    def usable(self) -> bool:
        """At least one labelled file that can be read (as far as the check looked)."""
        return self.n_readable > 0

    @property
    def total_seconds(self) -> float:
        return float(sum(self.durations.values()))

    @property
    def emotion_counts(self) -> dict[str, int]:
        """Canonical emotion -> labelled files, in canonical order."""
        c = Counter(u.emotion for u in self.utterances)
        order = [e for e in CANONICAL_EMOTIONS if e in c] + sorted(set(c) - set(CANONICAL_EMOTIONS))
        return {e: c[e] for e in order}

    @property
    def native_names(self) -> dict[str, list[str]]:
        """Canonical emotion -> the corpus's own labels seen for it."""
        seen: dict[str, set[str]] = defaultdict(set)
        for u in self.utterances:
            seen[u.emotion].add(u.native)
        return {e: sorted(v) for e, v in seen.items()}

    @property
    def speaker_counts(self) -> dict[str, int]:
        c = Counter(u.speaker for u in self.utterances)
        return dict(sorted(c.items(), key=lambda kv: _natural_key(kv[0])))

    @property
    def conflicting_duplicates(self) -> list[list[str]]:
        """Duplicate groups whose files carry different emotions: the same recording labelled twice."""
        emotion = {u.file: u.emotion for u in self.utterances}
        return [g for g in self.duplicates if len({emotion.get(f) for f in g}) > 1]

    def to_dict(self) -> dict:
        return {
            "corpus": self.corpus,
            "root": str(self.root),
            "manifest": str(self.manifest_path) if self.manifest_path else None,
            "usable": self.usable,
            "included": self.included,
            "labelled": self.n_labelled,
            "readable": self.n_readable if self.audio_checked else None,
            "total_seconds": round(self.total_seconds, 3) if self.audio_checked else None,
            "emotions": self.emotion_counts,
            "native_names": self.native_names,
            "speakers": self.speaker_counts,
            "sample_rates": {str(k): v for k, v in sorted(self.sample_rates.items())},
            "channels": {str(k): v for k, v in sorted(self.channels.items())},
            "mismatches": [{"what": m.what, "found": m.found, "expected": m.expected} for m in self.mismatches],
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "unreadable": [{"file": s.file, "reason": s.reason} for s in self.unreadable],
            "duplicates": self.duplicates,
            "suggestion": self.suggestion,
            "warnings": self.warnings,
        }


def _natural_key(s: str) -> tuple:
    """Sort speaker ids so that 2 comes before 10."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in _split_digits(s))


def _split_digits(s: str) -> list[str]:
    out, cur = [], ""
    for ch in s:
        if cur and ch.isdigit() != cur[-1].isdigit():
            out.append(cur)
            cur = ""
        cur += ch
    return out + ([cur] if cur else [])


def check_corpus(
    manifest: Manifest,
    root: Path,
    *,
    audio: bool = True,
    hashes: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> CheckReport:
    """Scan ``root`` with ``manifest`` and check what it finds.

    ``audio``: read every labelled file's header (sample rate, channels, duration; unreadable and empty files).
    ``hashes``: look for labelled files with identical content (sha1 of files that share a size).
    ``on_start(n)`` is called with the number of labelled files, ``on_progress(k)`` as they are read.
    A missing root or an unreadable label table raise :class:`SercrossError`; everything else is reported.
    """
    root = Path(root)
    if not root.is_dir():
        raise SercrossError(f"root folder {root} of corpus {manifest.name!r} does not exist")
    index: CorpusIndex = scan(manifest, root, strict=False)
    report = CheckReport(
        corpus=manifest.name,
        title=manifest.title,
        root=root,
        manifest_path=manifest.path,
        included=index.included,
        utterances=list(index.utterances),
        skipped=list(index.skipped),
        audio_checked=audio,
        hashed=hashes,
    )
    if on_start:
        on_start(len(report.utterances))
    _check_files(report, root, audio, on_progress)
    if hashes:
        bad = {s.file for s in report.unreadable}
        report.duplicates = find_duplicates(root, [u.file for u in report.utterances if u.file not in bad])
    report.mismatches = count_mismatches(manifest, report.utterances)
    if manifest.kind == "rules":
        report.suggestion = different_corpus_hint(manifest, root, report.n_labelled)
    _summarise(report, manifest)
    return report


def _check_files(report: CheckReport, root: Path, audio: bool, on_progress) -> None:
    has_av = importlib.util.find_spec("av") is not None
    videos = [u.file for u in report.utterances if Path(u.file).suffix.lower() in VIDEO_SUFFIXES]
    if audio and videos and not has_av:
        report.warnings.append(
            f"{len(videos)} labelled files are video clips, and PyAV is not installed to read their sound "
            "track: pip install 'sercross[video]' (or pip install av)"
        )
    rates: Counter = Counter()
    channels: Counter = Counter()
    for i, u in enumerate(report.utterances):
        path = root / u.file
        reason = sniff_problem(path)
        if reason is None and audio:
            try:
                info = audio_info(path)
            except SercrossError as exc:
                reason = _without_path(exc.message, path)
            except Exception as exc:  # a decoder's own bug must not end the check of a whole corpus
                reason = f"cannot be read ({type(exc).__name__}: {exc})"
            else:
                is_video = Path(u.file).suffix.lower() in VIDEO_SUFFIXES
                if info.frames <= 0 and not is_video:
                    reason = "contains no audio samples"
                elif info.sample_rate <= 0:
                    reason = f"has an invalid sample rate ({info.sample_rate} Hz)"
                elif not is_video and info.duration < MIN_SECONDS:  # as extraction would skip it
                    reason = f"too short: {info.duration:.3g} s < {MIN_SECONDS:g} s"
                else:
                    report.durations[u.file] = info.duration
                    rates[info.sample_rate] += 1
                    channels[info.channels] += 1
        if reason is not None:
            report.unreadable.append(Skipped(u.file, reason))
        if on_progress and (i % 50 == 49 or i == len(report.utterances) - 1):
            on_progress(i % 50 + 1)
    report.sample_rates = dict(sorted(rates.items()))
    report.channels = dict(sorted(channels.items()))


def sniff_problem(path: Path) -> str | None:
    """What is obviously wrong with a file, from its size and first bytes: None when nothing is."""
    try:
        size = path.stat().st_size
        if size == 0:
            return "file is empty (0 bytes)"
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if head.startswith(b"version https://git-lfs.github.com/spec/"):
        return LFS_POINTER
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return HTML_PAGE
    return None


def _without_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def find_duplicates(root: Path, files: list[str]) -> list[list[str]]:
    """Groups (sorted, two files or more) of files with byte-identical content; only files that share a size
    with another are hashed."""
    by_size: dict[int, list[str]] = defaultdict(list)
    for f in files:
        try:
            by_size[os.path.getsize(root / f)].append(f)
        except OSError:
            continue
    groups: dict[str, list[str]] = defaultdict(list)
    for same in by_size.values():
        if len(same) < 2:
            continue
        for f in same:
            try:
                groups[sha1_file(root / f)].append(f)
            except OSError:
                continue
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def count_mismatches(manifest: Manifest, utterances: list[Utterance]) -> list[Mismatch]:
    """Differences between what was labelled and the manifest's ``[expected]`` counts."""
    out: list[Mismatch] = []
    if manifest.expected_files is not None and len(utterances) != manifest.expected_files:
        out.append(Mismatch("files", len(utterances), manifest.expected_files))
    speakers = Counter(u.speaker for u in utterances if u.speaker)
    if manifest.expected_speakers is not None and len(speakers) != manifest.expected_speakers:
        out.append(Mismatch("speakers", len(speakers), manifest.expected_speakers))
    if manifest.expected_emotions:
        emotions = Counter(u.emotion for u in utterances)
        for emo in [e for e in CANONICAL_EMOTIONS if e in manifest.expected_emotions or e in emotions]:
            found, expected = emotions.get(emo, 0), manifest.expected_emotions.get(emo, 0)
            if found != expected:
                out.append(Mismatch(emo, found, expected))
    if manifest.expected_per_speaker is not None or manifest.expected_speaker_files:
        for spk in sorted(set(speakers) | set(manifest.expected_speaker_files), key=_natural_key):
            expected = manifest.expected_for_speaker(spk)
            if expected is not None and speakers.get(spk, 0) != expected:
                out.append(Mismatch(f"speaker {spk}", speakers.get(spk, 0), expected))
    return out


def _summarise(report: CheckReport, manifest: Manifest) -> None:
    """Warnings a person should read, most important first."""
    w = report.warnings
    if not report.utterances:
        w.insert(0, f"no file got a label: the manifest expects {manifest.layout or ', '.join(manifest.include)}")
    elif report.audio_checked and not report.usable:
        w.insert(0, "no labelled file can be read")
    if report.unreadable:
        w.append(f"{len(report.unreadable)} labelled files cannot be read or are too short; extraction will skip them")
    conflicting = report.conflicting_duplicates
    if conflicting:
        w.append(f"{len(conflicting)} groups of identical files carry different emotions")
    elif report.duplicates:
        w.append(
            f"{len(report.duplicates)} groups of byte-identical files; each copy counts as an utterance "
            "(remove the extra copies if they are not meant to be there)"
        )
    if report.mismatches and report.utterances:
        w.append(f"{len(report.mismatches)} counts differ from the official release's (see the table)")
    if len(report.sample_rates) > 1:
        w.append(
            "files come at several sample rates ("
            + ", ".join(f"{n} at {sr} Hz" for sr, n in report.sample_rates.items())
            + "); extraction resamples every file to 16 kHz"
        )
    if report.suggestion:
        w.append(report.suggestion)
