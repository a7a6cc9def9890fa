"""extract: openSMILE functionals of a corpus into the cache, with progress and a summary of what was skipped."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from sercross.cli.common import PlainLog, Settings, err, out, settings, with_verbose
from sercross.cli.options import (
    CorpusArg,
    CorpusNameOpt,
    FeaturesOpt,
    JobsOpt,
    ReplaceOpt,
    RootOpt,
    SchedulerOpt,
    VerboseOpt,
)
from sercross.infra import hms, progress_bar


def run_extraction(s: Settings, manifest, root: Path, feature_set: str, jobs: int | None,
                    scheduler: str | None = None):
    from sercross.features import extract_corpus

    with progress_bar(err, f"extract {manifest.name}") as progress:
        task = progress.add_task(f"extract {manifest.name} ({feature_set})", total=None, rate="")
        t0 = [time.perf_counter(), 0]
        log: list[PlainLog] = []  # without a terminal: plain lines instead of the bar

        def on_start(todo: int, total: int) -> None:
            t0[0] = time.perf_counter()  # files/s and the ETA exclude the hashing phase
            progress.update(task, total=todo)
            if todo < total:
                err.print(f"{total - todo} of {total} files already in the cache")
            if not err.is_terminal:
                log.append(PlainLog(todo))

        def on_progress(n: int) -> None:
            t0[1] += n
            rate = t0[1] / max(time.perf_counter() - t0[0], 1e-9)
            progress.update(task, advance=n, rate=f"{rate:.1f} files/s")
            if log and log[0].due(t0[1]):
                err.print(f"extract {escape(manifest.name)}: {t0[1]}/{log[0].total} files, {rate:.1f} files/s",
                          highlight=False)

        summary = extract_corpus(manifest, root, s.cache, feature_set, jobs, on_progress, on_start, scheduler)
    speed = summary.audio_seconds / max(summary.seconds, 1e-9)
    err.print(
        f"[green]extracted[/] {summary.n_extracted} new, reused {summary.n_cached}, "
        f"skipped {len(summary.skipped)} files ({summary.n_files} {_labelled(manifest)}) "
        f"in {summary.seconds:.1f} s "
        f"({summary.files_per_second:.1f} files/s on {summary.jobs} process(es); "
        f"{hms(summary.audio_seconds)} of new audio (h:mm:ss), {speed:.0f} s of audio per second)",
        highlight=False,
    )
    if summary.duplicates:
        shown = "; ".join(" = ".join(g) for g in summary.duplicates[:3]) + (" …" if len(summary.duplicates) > 3 else "")
        err.print(f"  {summary.n_duplicate_files} files had identical content and were extracted once "
                  f"({escape(shown)}); `sercross corpora check` lists them", highlight=False)
    if summary.n_nonfinite:
        err.print(f"  [yellow]{summary.n_nonfinite} file(s) left out: openSMILE returned NaN/inf values[/] "
                  "(listed below and in meta.json)", highlight=False)
    for sk in summary.skipped[: (None if s.verbose else 10)]:
        err.print(f"  [yellow]skipped[/] {escape(sk.file)}: {escape(sk.reason)}", highlight=False)
    if len(summary.skipped) > 10 and not s.verbose:
        err.print(f"  … and {len(summary.skipped) - 10} more (all listed in meta.json; --verbose shows them)")
    out.print(f"features written to {summary.out_dir}", highlight=False)
    return summary


def _labelled(manifest) -> str:
    return "labelled" if manifest.labelled else "files, without labels"


def extract(
    ctx: typer.Context,
    corpus: CorpusArg,
    root: RootOpt = None,
    name: CorpusNameOpt = None,
    features: FeaturesOpt = "IS10",
    jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    force: ReplaceOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Extract openSMILE functionals for every labelled utterance of a corpus (cached, incremental).

    A corpus given by a manifest file, or renamed with --name, is known by its name in this cache afterwards. The
    features of a table-labelled corpus (csv) are never replaced by those of another root silently: give each its
    own --name (or --force).
    """
    from dataclasses import replace

    from sercross.corpora import cached_features, check_root, load_manifest, register, resolve_root

    s = with_verbose(settings(ctx), verbose)
    manifest = load_manifest(corpus, s.cache)
    wanted = replace(manifest, name=name) if name else manifest
    root_path = resolve_root(manifest if not name else wanted, root)
    note = check_root(wanted, root_path, [c.root for c in cached_features(s.cache, wanted.name)], force)
    if name or Path(corpus).suffix == ".toml":
        manifest = register(s.cache, manifest, name, force)
    if note:
        err.print(f"[yellow]note[/]: {escape(note)}", highlight=False)
    run_extraction(s, manifest, root_path, features, jobs, scheduler)
    if manifest.name != corpus:
        out.print(f"corpus {manifest.name!r} is known by name in {s.cache} from now on (e.g. "
                  f"`sercross pair --source {manifest.name} --target …`)", highlight=False)
