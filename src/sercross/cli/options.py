"""Every option and argument of the command line, declared once: a command names its parameters with these types
(``features: FeaturesOpt = "IS10"``) and gets the same flags, help text and checks as every other command.

Options that take a name check it when the command line is read (:mod:`sercross.cli.parsing`): an unknown name is
refused with the closest known one, and a name typed in another case is used in its canonical spelling, with a
note when it differs (``--features is10`` -> IS10).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sercross.cli import parsing
from sercross.cli.common import err


def _canonical(parse, option: str):
    """A Typer callback: the value read by ``parse``, with a note when its spelling differs from what was typed."""

    def callback(value: str | None) -> str | None:
        if value is None:
            return None
        name = parse(value)
        if name != value:
            err.print(f"[dim]{option} {escape(value)}: using {escape(name)}[/]", highlight=False)
        return name

    return callback


def _corpus(value: str | None) -> str | None:
    return None if value is None else parsing.known_corpus(value)


def _version(value: bool) -> None:
    if value:
        from sercross import __version__
        from sercross.cli.common import out

        out.print(f"sercross {__version__}")
        raise typer.Exit()


# What each group of methods is (its members come from the registry).
_GROUP_HELP = {
    "paper": "the paper's TLMLDA, its ablations and baselines",
    "da": "standard domain-adaptation baselines",
    "ours": "TLMLDA+ and its ablations",
    "spk": "the baselines on speaker-normalised inputs",
}


def _methods_help() -> str:
    groups = parsing.method_groups()
    return "; ".join(
        f"{group}" + (f" ({_GROUP_HELP[group]})" if group in _GROUP_HELP else "") + f": {', '.join(names)}"
        for group, names in groups.items() if group != "all"
    )


# ------------------------------------------------------------------------------------------------ global

CacheOpt = Annotated[Path | None, typer.Option(
    "--cache", envvar="SERCROSS_CACHE", show_envvar=True,
    help="Cache folder for features, pairs, runs, benchmarks and reports. Default: ~/.cache/sercross "
    "(`sercross demo`: the cache/ folder inside its --out folder).",
)]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v",
    help="List every skipped file and problem. Given before the command (`sercross --verbose COMMAND`), also "
    "show full tracebacks on errors.",
)]
VersionOpt = Annotated[bool, typer.Option(
    "--version", callback=_version, is_eager=True, help="Print the version and exit.",
)]

# ------------------------------------------------------------------------------------------------ corpora

CorpusArg = Annotated[str, typer.Argument(
    callback=_corpus, show_default=False,
    help="Corpus name (berlin, casia, ravdess, …), alias (B, E, C) or manifest .toml file.",
)]
RootOpt = Annotated[Path | None, typer.Option(
    "--root", "-r",
    help="Folder of the corpus as downloaded. Default: $SERCROSS_ROOT_<NAME>, else the corpus's root in "
    "~/.config/sercross/config.toml (see `sercross corpora list`); `corpora check` also tries the folder its "
    "cached features were extracted from.",
)]
SourceOpt = Annotated[str | None, typer.Option(
    "--source", "-s", callback=_corpus,
    help="Source corpus: labelled, trained on (e.g. berlin or B).",
)]
TargetOpt = Annotated[str | None, typer.Option(
    "--target", "-t", callback=_corpus,
    help="Target corpus: adapted to without its labels, which only score the result (e.g. casia or C).",
)]
ClassesOpt = Annotated[str | None, typer.Option(
    "--classes",
    help="Comma-separated classes both corpora share, e.g. anger,fear,sadness (case does not matter). Default: "
    "the paper's Table 2 set for its corpora, else the classes the two corpora share.",
)]
SchemesOpt = Annotated[str | None, typer.Option(
    "--schemes",
    help="Comma-separated SOURCE:TARGET schemes, e.g. 'B:C,ravdess:casia' (B, E, C = berlin, enterface, casia; "
    "a corpus that has features in the cache may be named without a manifest). Default: the paper's six (E:B, "
    "B:E, E:C, C:E, B:C, C:B).",
)]
AllPairsOpt = Annotated[bool, typer.Option(
    "--all-pairs",
    help="Every ordered pair of the corpora that have features in the cache (added to --schemes if both are "
    "given).",
)]

# ----------------------------------------------------------------------------------------------- features

FeaturesOpt = Annotated[str, typer.Option(
    "--features", "-f", callback=_canonical(parsing.feature_set_name, "--features"),
    help="openSMILE feature set: IS10 (INTERSPEECH 2010, 1582-d, the paper's), IS09, eGeMAPSv02, emobase or "
    "ComParE_2016 (case does not matter).",
)]
JobsOpt = Annotated[int | None, typer.Option(
    "--jobs", "-j", min=1,
    help="Worker processes (extract: files, benchmark: training runs in parallel). Default: one per core; for "
    "benchmark, single-threaded (measured faster: make bench), and cores left over (jobs < cores) become torch "
    "threads of each process. With --scheduler, benchmark trains this many runs at a time (default: the "
    "cluster's worker processes).",
)]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler",
    help="Work on an existing Dask cluster: its scheduler's address, e.g. tcp://host:8786 (needs `pip install "
    "'sercross\\[dask]'`; to extract, the workers must read the audio at the same path). Results are written into "
    "this machine's cache. Default: $SERCROSS_SCHEDULER, else local processes; 'local' forces local processes.",
)]

# ------------------------------------------------------------------------------------------------ training

MethodOpt = Annotated[str, typer.Option(
    "--method", "-m", callback=_canonical(parsing.method_name, "--method"),
    help=f"Method to train, by group: {_methods_help()}. See docs/methods.md.",
)]
MethodsOpt = Annotated[str | None, typer.Option(
    "--methods", "-m",
    help="Comma-separated methods or groups (paper, the default; da; ours; spk; all), e.g. paper,da,tlmlda_plus. "
    f"The groups: {_methods_help()}. See docs/methods.md.",
)]
PresetOpt = Annotated[str, typer.Option(
    "--preset", "-p", callback=_canonical(parsing.preset_or_tag, "--preset"),
    help="Training recipe: paper (lr 1e-5, batch 100, 500 epochs), fast (lr 1e-3 cosine, batch 100, 20 epochs: "
    "25x fewer steps), authors-code (paper, changed where the authors' public code differs from the paper's text; "
    "docs/protocol.md) or demo (tiny synthetic corpora only); see docs/performance.md, 'The fast preset'. To "
    "find runs (evaluate, report), also a run's whole tag, e.g. paper_e20_lr0.0003 (its folder's name without "
    "-seedK).",
)]
EpochsOpt = Annotated[int | None, typer.Option(
    "--epochs", min=1, help="Override the preset's number of epochs (the run's tag becomes e.g. paper_e50).",
)]
LrOpt = Annotated[float | None, typer.Option(
    "--lr", help="Override the preset's learning rate (> 0; the tag becomes e.g. paper_e20_lr0.0003).",
)]
BatchSizeOpt = Annotated[int | None, typer.Option(
    "--batch-size", min=2, help="Override the preset's batch size (the tag becomes e.g. paper_b50).",
)]
PrecisionOpt = Annotated[str, typer.Option(
    "--precision", callback=_canonical(parsing.precision_name, "--precision"),
    help="Arithmetic of training: fp32 (the default; every committed result), bf16 (mixed precision: fp32 master "
    "weights and losses, the forward pass in bf16; fast only on a CPU with native bf16, emulated and much slower "
    "elsewhere) or auto (bf16 where the CPU computes it natively, else fp32; the choice is printed). A bf16 run is "
    "another run: its tag ends in _bf16. See docs/performance.md.",
)]
SeedOpt = Annotated[int, typer.Option(
    "--seed", min=0, help="Random seed of the run (network weights, noise, batch order).",
)]
SeedsOpt = Annotated[str, typer.Option(
    "--seeds", help="A count (5 = seeds 0..4), a list (0,3,7) or a range (2-4).",
)]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="torch threads. Default: all cores.")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Train again even if this run is finished in the cache.",
)]

# ------------------------------------------------------------------------------------------ runs and output

RunArg = Annotated[Path | None, typer.Argument(
    show_default=False, help="A run folder. Or find the run by the options it was trained with (-s, -t, …).",
)]
BenchmarkNameOpt = Annotated[str | None, typer.Option(
    "--name", help="Folder under <cache>/benchmarks/. Default: the preset tag.",
)]
ReportRunOpt = Annotated[Path | None, typer.Option("--run", "-r", help="Report on one run folder.")]
ReportBenchmarkOpt = Annotated[str | None, typer.Option(
    "--benchmark", "-b", help="Report on every run of a benchmark: the NAME of its folder in <cache>/benchmarks/.",
)]
ReportOutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Report folder. Default: <cache>/reports/<name>/ (rewritten in place).",
)]
TsneOpt = Annotated[bool, typer.Option(
    "--tsne/--no-tsne", help="Draw the t-SNE figure (the slowest part).",
)]
RunFiguresOpt = Annotated[bool, typer.Option(
    "--run-figures/--no-run-figures",
    help="Draw each run's confusion matrix and training curves (two figures per run: most of a large report).",
)]
DemoOutOpt = Annotated[Path, typer.Option(
    "--out", help="Where the synthetic corpora go, and the cache (OUT/cache) unless --cache or $SERCROSS_CACHE "
    "names one.",
)]
QuickOpt = Annotated[bool, typer.Option(
    "--quick", help="Labels and counts only: read no audio header and look for no duplicates.",
)]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Also write the full report as JSON to this file.")]
