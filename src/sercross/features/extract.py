"""openSMILE functionals for every labelled utterance of a corpus, cached per file and per corpus.

Feature sets: those of the opensmile package listed in :data:`~.feature_sets.FEATURE_SETS` (IS10, the default, is
1582-d); everything downstream takes the dimension from the table.

A run scans the corpus, finds each file's values in the per-file store (:mod:`.store`: keyed by content, so
unchanged and duplicate files are never extracted twice), extracts the rest in worker processes (:mod:`.workers`)
and writes the corpus table (:mod:`.table`).

Interruption and concurrency: each finished file is stored as soon as its result arrives (in completion order),
so a run interrupted at any point (Ctrl-C, SIGKILL, power loss) keeps what was finished and the next run
completes the rest; its table is identical to that of an uninterrupted run.

Bad audio never stops a run: a file that cannot be read or decoded, is empty, silent or too short is left out
and listed with its reason in the summary and in ``meta.json`` (``skipped``). **Non-finite values**: if
openSMILE returns NaN or ±inf in any feature of a file, the file is left out of the table in the same way
(reason: ``openSMILE returned k of d values non-finite (NaN/inf); file left out``) and counted in
``ExtractSummary.n_nonfinite``; nothing is imputed. Its raw output stays in the store, so re-runs report it
again without extracting it again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sercross.corpora import Manifest, Skipped, Utterance, scan
from sercross.features.feature_sets import DEFAULT_FEATURE_SET, FEATURE_SETS, check_feature_set, opensmile_version
from sercross.features.store import content_keys, load_stored, store, stored_path
from sercross.features.table import known_columns, write_table
from sercross.features.workers import Extraction, make_smile
from sercross.infra import SercrossError, ensure_writable_dir, features_dir, remove_stale_temps, usable_cpus


@dataclass
class ExtractSummary:
    """What a run did. Files of identical content are extracted (and counted) once: ``n_extracted + n_cached``
    counts distinct contents, as the progress bar does; ``duplicates`` lists the files that share one."""

    corpus: str
    feature_set: str
    n_files: int  # labelled files found
    n_extracted: int  # distinct contents run through openSMILE in this run (and not failed)
    n_cached: int  # distinct contents whose values were already in the store
    skipped: list[Skipped]  # left out of the table, with reasons (unlabelled, unreadable, silent, NaN, ...)
    seconds: float
    audio_seconds: float  # duration of the audio extracted in this run
    out_dir: Path
    n_rows: int = 0  # utterances in the table written
    n_nonfinite: int = 0  # files left out because openSMILE returned NaN/inf (also listed in skipped)
    n_hashed: int = 0  # files whose content was read and hashed (the others were known from the stat index)
    jobs: int = 1  # worker processes used (1: in this process)
    # groups of labelled files with identical content (byte for byte), each extracted once; in corpus order
    duplicates: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def files_per_second(self) -> float:
        return self.n_extracted / self.seconds if self.seconds > 0 else 0.0

    @property
    def n_duplicate_files(self) -> int:
        """Files that share their content with another labelled file (all members of ``duplicates``)."""
        return sum(len(group) for group in self.duplicates)


@dataclass
class _Values:
    """openSMILE's values by content key, and what is still to be extracted."""

    raw: dict[str, np.ndarray]  # key -> openSMILE's values (stored, or extracted in this run)
    todo: dict[str, Utterance]  # key -> first utterance with that content, not in the store yet
    failed: dict[str, str] = field(default_factory=dict)  # key -> why its extraction failed
    audio_seconds: float = 0.0


def extract_corpus(
    manifest: Manifest,
    root: Path,
    cache: Path,
    feature_set: str = DEFAULT_FEATURE_SET,
    jobs: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
) -> ExtractSummary:
    """Extract (or reuse) features of every labelled file; write the corpus matrix, index and metadata.

    ``jobs``: worker processes (default: every CPU this process may use). ``on_start(to_extract, total)`` is
    called once the cached files are known (counts of distinct readable files: duplicates are extracted once),
    ``on_progress(n)`` after every n newly processed files, in completion order.
    """
    check_feature_set(feature_set)
    t0 = time.perf_counter()
    root = Path(root)
    index = scan(manifest, root)
    out = features_dir(cache, manifest.name, feature_set)
    ensure_writable_dir(out)  # a read-only cache fails here, before minutes of extraction
    remove_stale_temps(out, recursive_depth=2)
    version = opensmile_version()

    keys, unreadable, n_hashed = content_keys(out, root, index.utterances, feature_set, version)
    values = _stored_values(out, index.utterances, keys, FEATURE_SETS[feature_set])
    n_cached = len(values.raw)
    if on_start:  # counted in distinct contents, so that total - to_extract is what the cache already has
        on_start(len(values.todo), len(values.todo) + n_cached)
    extraction = Extraction([str(root / u.file) for u in values.todo.values()], feature_set,
                            jobs or usable_cpus(), on_progress, scheduler)
    _extract_missing(extraction, values, out, feature_set)

    kept, skipped, n_nonfinite = _select_rows(index.utterances, keys, values, list(index.skipped) + unreadable)
    if not kept:
        raise _nothing_usable(manifest, root, skipped)
    X = np.stack([values.raw[keys[u.file]] for u in kept]).astype(np.float32, copy=False)
    columns = extraction.columns or known_columns(out, feature_set, version) or make_smile(feature_set).feature_names
    write_table(out, manifest, root, feature_set, X, kept, skipped, version, list(columns))
    return ExtractSummary(
        manifest.name, feature_set, len(index.utterances), len(values.todo) - len(values.failed), n_cached, skipped,
        time.perf_counter() - t0, values.audio_seconds, out, len(kept), n_nonfinite, n_hashed, extraction.jobs,
        _duplicates(keys),
    )


def _stored_values(out: Path, utterances: Sequence[Utterance], keys: dict[str, str], dim: int) -> _Values:
    """The values the store already has, and the first utterance of every content it does not."""
    values = _Values({}, {})
    for u in utterances:
        key = keys.get(u.file)
        if key is None or key in values.raw or key in values.todo:
            continue
        stored = load_stored(stored_path(out, key), dim)
        if stored is None:
            values.todo[key] = u
        else:
            values.raw[key] = stored
    return values


def _extract_missing(extraction: Extraction, values: _Values, out: Path, feature_set: str) -> None:
    """Run ``extraction`` (over ``values.todo``, in order) and store each file's values as its result arrives."""
    dim = FEATURE_SETS[feature_set]
    todo_keys = list(values.todo)
    with closing(iter(extraction)) as results:
        for i, (raw, secs, err) in results:
            key = todo_keys[i]
            if err is not None:
                values.failed[key] = err
                continue
            if raw.shape != (dim,):
                raise SercrossError(f"openSMILE {feature_set} gave {raw.size} values, expected {dim}")
            store(out, key, raw)
            values.raw[key] = raw
            values.audio_seconds += secs


def _select_rows(
    utterances: Sequence[Utterance], keys: dict[str, str], values: _Values, skipped: list[Skipped]
) -> tuple[list[Utterance], list[Skipped], int]:
    """The utterances that go into the table; ``skipped`` extended by those left out; how many for NaN/inf."""
    kept: list[Utterance] = []
    n_nonfinite = 0
    for u in utterances:
        key = keys.get(u.file)
        if key is None:
            continue
        if key in values.failed:
            skipped.append(Skipped(u.file, values.failed[key]))
            continue
        reason = _nonfinite_reason(values.raw[key])
        if reason:
            skipped.append(Skipped(u.file, reason))
            n_nonfinite += 1
            continue
        kept.append(u)
    return kept, skipped, n_nonfinite


def _nonfinite_reason(values: np.ndarray) -> str | None:
    bad = int((~np.isfinite(values)).sum())
    if not bad:
        return None
    return f"openSMILE returned {bad} of {values.size} values non-finite (NaN/inf); file left out"


def _duplicates(keys: dict[str, str]) -> list[tuple[str, ...]]:
    """Groups of files (in ``keys``' order) that have the same content key, i.e. identical bytes."""
    groups: dict[str, list[str]] = defaultdict(list)
    for file, key in keys.items():
        groups[key].append(file)
    return [tuple(files) for files in groups.values() if len(files) > 1]


def _nothing_usable(manifest: Manifest, root: Path, skipped: list[Skipped]) -> SercrossError:
    shown = "; ".join(f"{sk.file}: {sk.reason}" for sk in skipped[:5])
    more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
    return SercrossError(
        f"no usable file in corpus {manifest.name!r} under {root}: all {len(skipped)} were skipped. "
        f"{shown}{more}",
        hint=f"check that --root points at the corpus as downloaded (`sercross corpora check {manifest.name} "
        "--root PATH` lists what it finds)",
    )
