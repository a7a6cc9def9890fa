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


def _corpus(ctx: typer.Context, value: str | None) -> str | None:
    if value is None:
        return None
    from sercross.cli.common import settings

    return parsing.known_corpus(value, settings(ctx).cache)


def _sources(ctx: typer.Context, value: str | None) -> str | None:
    """One corpus, or several joined by ``+`` (each checked, in the cache's named corpora too)."""
    if value is None:
        return None
    from sercross.cli.common import settings
    from sercross.experiments import split_sources

    return "+".join(parsing.known_corpus(p, settings(ctx).cache) for p in split_sources(value))


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
    "(`sercross demo`: the cache/ folder inside its --out folder). Before or after the command.",
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
    "--source", "-s", callback=_sources,
    help="Source corpus: labelled, trained on (e.g. berlin or B); several as a+b+c (their union is the source "
    "domain; default classes: those the target and every source share).",
)]
TargetOpt = Annotated[str | None, typer.Option(
    "--target", "-t", callback=_corpus,
    help="Target corpus: adapted to without its labels, which only score the result (e.g. casia or C).",
)]
ClassesOpt = Annotated[str | None, typer.Option(
    "--classes",
    help="Comma-separated classes both corpora share, e.g. anger,fear,sadness: canonical names or a corpus's own "
    "labels (e.g. EmoDB's W,A,T), in any case and order. Default: the paper's Table 2 set for its corpora, else "
    "the classes the two corpora share. Each class set has its own pair and runs in the cache.",
)]
TargetSetOpt = Annotated[str, typer.Option(
    "--target-set",
    help="Which target utterances the methods see, unlabelled: 'shared' (the paper's protocol: those of the "
    "scheme's classes, chosen with the target labels) or 'all' (every target utterance, whatever its label, enters "
    "scaling, speaker statistics, adaptation batches and AdaBN; scoring stays on the scheme's classes). See "
    "docs/protocol.md.",
)]
InCorpusOpt = Annotated[bool, typer.Option(
    "--in-corpus",
    help="Also compute each scheme's in-corpus ceiling (speaker-independent cross-validation inside the target "
    "corpus on the scheme's classes, only_cls and pca_svm, same preset and seeds) and show it beside the "
    "cross-corpus cells with the gap.",
)]
LocoOpt = Annotated[str | None, typer.Option(
    "--loco",
    help="Leave-one-corpus-out over these comma-separated corpora (at least three): each is the target once, "
    "trained on the union of the others (added to --schemes if both are given).",
)]
SchemesOpt = Annotated[str | None, typer.Option(
    "--schemes",
    help="Comma-separated SOURCE:TARGET schemes, e.g. 'B:C,ravdess:casia' (B, E, C = berlin, enterface, casia). A "
    "corpus is a name, an alias, the path of a manifest file (B:corpora/urdu.toml) or a corpus that has features in "
    "the cache. Default: the paper's six (E:B, B:E, E:C, C:E, B:C, C:B).",
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
PrecisionOpt = Annotated[str | None, typer.Option(
    "--precision", callback=_canonical(parsing.precision_name, "--precision"),
    help="Arithmetic of training: fp32 (the default; every committed result), bf16 (mixed precision: fp32 master "
    "weights and losses, the forward pass in bf16; fast only on a CPU with native bf16, emulated and much slower "
    "elsewhere) or auto (bf16 where the CPU computes it natively, else fp32; the choice is printed). A bf16 run is "
    "another run: its tag ends in _bf16. The same as --set precision=bf16. See docs/performance.md.",
)]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", metavar="NAME=VALUE",
    help="Change one setting of the method or of the training config, e.g. --set ramp=false --set "
    "weighting=dynamic --set 'alpha=[1,1,3,1,1]' (repeatable; values as in TOML). Every setting: docs/experiments.md. "
    "The run's tag names what changed (fast_lr0.0003_ramp-false).",
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
ReplaceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace the features of a corpus of the same name taken from another root (or another manifest "
    "under that name); its pairs and runs go out of date.",
)]
CorpusNameOpt = Annotated[str | None, typer.Option(
    "--name", help="The name the corpus gets in this cache (features, pairs, results, `corpora list`, --source), e.g. "
    "`extract csv --root ~/data/urdu --name urdu`: several table-labelled corpora side by side. A corpus given by its "
    "manifest's path is known by the manifest's name afterwards anyway.", show_default=False,
)]

# ------------------------------------------------------------------------------------------ runs and output

RunArg = Annotated[Path | None, typer.Argument(
    show_default=False, help="A run folder. Or find the run by the options it was trained with (-s, -t, …).",
)]
BenchmarkNameOpt = Annotated[str | None, typer.Option(
    "--name", help="Folder under <cache>/benchmarks/. Default: the preset tag (run: the file's name key, else the "
    "file's name).",
)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="An experiment file (TOML, docs/experiments.md): the grid is the file's, as with `sercross run "
    "FILE`.", show_default=False,
)]
ExperimentArg = Annotated[Path, typer.Argument(
    show_default=False, help="The experiment file (TOML): corpora, class sets, methods and their settings, presets, "
    "seeds, features; see docs/experiments.md.",
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
PredictRootOpt = Annotated[Path | None, typer.Option(
    "--root", "-r", help="The folder of recordings to predict (every audio file under it).", show_default=False,
)]
PredictManifestOpt = Annotated[str | None, typer.Option(
    "--manifest", help="A corpus name or manifest file that selects and names the files of --root (e.g. csv for a "
    "labels.csv table with a speaker column). Default: every audio file, speaker = first folder level.",
    show_default=False,
)]
PredictOutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="The predictions CSV. Default: <cache>/predictions/<folder>__<run>.csv.", show_default=False,
)]
QuickOpt = Annotated[bool, typer.Option(
    "--quick", help="Labels and counts only: read no audio header and look for no duplicates.",
)]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Also write the full report as JSON to this file.")]
