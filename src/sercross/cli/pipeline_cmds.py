"""Pipeline commands: extract, pair, train, evaluate, demo."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from sercross.cli.common import Settings, err, out, resolved_precision, settings, with_verbose
from sercross.cli.options import (
    BatchSizeOpt,
    ClassesOpt,
    CorpusArg,
    DemoOutOpt,
    EpochsOpt,
    FeaturesOpt,
    ForceOpt,
    JobsOpt,
    LrOpt,
    MethodOpt,
    PrecisionOpt,
    PresetOpt,
    RootOpt,
    RunArg,
    SchedulerOpt,
    SeedOpt,
    SourceOpt,
    TargetOpt,
    ThreadsOpt,
    VerboseOpt,
)
from sercross.cli.parsing import parse_classes
from sercross.infra import SercrossError, confusion_table, hms, metrics_table, progress_bar


def _run_extraction(s: Settings, manifest, root: Path, feature_set: str, jobs: int | None,
                    scheduler: str | None = None):
    from sercross.features import extract_corpus

    with progress_bar(err, f"extract {manifest.name}") as progress:
        task = progress.add_task(f"extract {manifest.name} ({feature_set})", total=None, rate="")
        t0 = [time.perf_counter(), 0]

        def on_start(todo: int, total: int) -> None:
            t0[0] = time.perf_counter()  # files/s and the ETA exclude the hashing phase
            progress.update(task, total=todo)
            if todo < total:
                err.print(f"{total - todo} of {total} files already in the cache")

        def on_progress(n: int) -> None:
            t0[1] += n
            rate = t0[1] / max(time.perf_counter() - t0[0], 1e-9)
            progress.update(task, advance=n, rate=f"{rate:.1f} files/s")

        summary = extract_corpus(manifest, root, s.cache, feature_set, jobs, on_progress, on_start, scheduler)
    speed = summary.audio_seconds / max(summary.seconds, 1e-9)
    err.print(
        f"[green]extracted[/] {summary.n_extracted} new, reused {summary.n_cached}, "
        f"skipped {len(summary.skipped)} files ({summary.n_files} labelled) in {summary.seconds:.1f} s "
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


def extract(
    ctx: typer.Context,
    corpus: CorpusArg,
    root: RootOpt = None,
    features: FeaturesOpt = "IS10",
    jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Extract openSMILE functionals for every labelled utterance of a corpus (cached, incremental)."""
    from sercross.corpora import load_manifest, resolve_root

    manifest = load_manifest(corpus)
    _run_extraction(with_verbose(settings(ctx), verbose), manifest, resolve_root(manifest, root), features, jobs,
                    scheduler)


def _tables(s: Settings, source: str, target: str, feature_set: str):
    from sercross.corpora import load_manifest
    from sercross.experiments import features_or_extract

    manifests = [load_manifest(name) for name in (source, target)]  # both names checked before any work
    return [
        features_or_extract(s.cache, m, feature_set, lambda m, r: _run_extraction(s, m, r, feature_set, None))
        for m in manifests
    ]


def _pair(s: Settings, src, tgt, classes: tuple[str, ...] | None, force: bool = False):
    """pair_for, saying so when it replaces a cached pair of other classes (that pair's runs go out of date)."""
    from sercross.experiments import pair_for

    def replaced(old, new) -> None:
        err.print(
            f"[yellow]note[/]: the cached pair {new.name} had classes {', '.join(old.classes)}; it now has "
            f"{', '.join(new.classes)}. Runs trained on the old classes are out of date: `train` and `benchmark` "
            "train them again when asked for, `evaluate` refuses them. The cache holds one class set per pair.",
            highlight=False,
        )

    return pair_for(s.cache, src, tgt, classes, force=force, on_replace=replaced)


def pair(
    ctx: typer.Context,
    source: SourceOpt,
    target: TargetOpt,
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
) -> None:
    """Build the label-aligned source/target pair, each corpus min-max scaled to [0,1] on its own."""
    from sercross.infra import pair_dir

    s = settings(ctx)
    chosen = parse_classes(classes)
    src, tgt = _tables(s, source, target, features)
    p = _pair(s, src, tgt, chosen, force=True)
    out.print(
        f"pair {p.name}: classes {', '.join(p.classes)}; {len(p.ys)} source and {len(p.yt)} target utterances",
        highlight=False,
    )
    out.print(f"written to {pair_dir(s.cache, p.source, p.target, p.feature_set)}", highlight=False)


def train(
    ctx: typer.Context,
    source: SourceOpt,
    target: TargetOpt,
    method: MethodOpt = "tlmlda",
    preset: PresetOpt = "paper",
    seed: SeedOpt = 0,
    epochs: EpochsOpt = None,
    lr: LrOpt = None,
    batch_size: BatchSizeOpt = None,
    threads: ThreadsOpt = None,
    precision: PrecisionOpt = "fp32",
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
    force: ForceOpt = False,
) -> None:
    """Train a method on source → target (extracting/pairing what the cache lacks) and score it on the target."""
    from sercross.experiments import run_state
    from sercross.infra import run_dir
    from sercross.methods import get_method, get_preset, preset_tag

    s = settings(ctx)
    spec = get_method(method)
    precision = resolved_precision(precision)
    cfg = get_preset(preset, epochs=epochs, lr=lr, batch_size=batch_size, threads=threads, precision=precision)
    tag = preset_tag(preset, epochs, lr, batch_size, precision)
    chosen = parse_classes(classes)
    src, tgt = _tables(s, source, target, features)
    p = _pair(s, src, tgt, chosen)
    if spec.kind == "auto":
        from sercross.cli.auto_cmds import train_auto

        return train_auto(s, p, preset, tag, cfg, seed, features, force)
    rdir = run_dir(s.cache, p.source, p.target, method, tag, seed)
    # Reuse only a run of this very pair (classes, features), method definition and configuration.
    state = run_state(rdir, p.meta.get("fingerprint"), method, tag, seed, cfg)
    if state == "finished" and not force:
        err.print(f"run already finished in {rdir} (use --force to train again)", highlight=False)
    else:
        if state not in ("new", "finished"):
            err.print(f"[yellow]training again[/]: the run in {escape(str(rdir))} is out of date ({escape(state)})",
                      highlight=False)
        _train_with_progress(s.cache, p, method, tag, cfg, seed, spec.kind)
    _show_metrics(rdir)


def _train_with_progress(cache, p, method, tag, cfg, seed, kind) -> Path:
    from sercross.experiments import train_run

    desc = f"train {method} {p.source}→{p.target} seed {seed}"
    if kind != "network":
        with err.status(desc + " (PCA + SVM, source cross-validation)"):
            return train_run(cache, p, method, tag, cfg, seed)
    with progress_bar(err, desc) as progress:
        task = progress.add_task(desc, total=cfg.epochs, rate="")

        def on_epoch(epoch: int, row: dict) -> None:
            info = f"L_y {row['loss_L_y']:.3f} src acc {row['source_train_acc']:.2f}"
            progress.update(task, advance=1, rate=info)

        return train_run(cache, p, method, tag, cfg, seed, on_epoch=on_epoch)


def _show_metrics(rdir: Path) -> None:
    from sercross.infra import read_json

    m = read_json(rdir / "metrics.json")
    out.print(metrics_table(m, f"{m['scheme']}  {m['method']}  {m['preset']}  seed {m['seed']}  (last epoch)"))
    out.print(confusion_table(m))
    cfg = read_json(rdir / "config.json")
    facts = [f"trained in {cfg['train_seconds']:.0f} s"] if cfg.get("train_seconds") is not None else []
    if cfg.get("peak_rss_mb"):
        facts.append(f"peak memory {cfg['peak_rss_mb']:.0f} MB")
    if cfg.get("reverse_validation_uar") is not None:
        facts.append(f"reverse-validation UAR {100 * cfg['reverse_validation_uar']:.2f} % (no target label)")
    if facts:
        out.print("; ".join(facts), highlight=False)
    groups = cfg.get("speaker_groups")
    if groups:
        out.print(f"speaker normalisation over {groups['source']} source and {groups['target']} target speaker(s)",
                  highlight=False)
        for side, n in groups.items():
            if n < 2:
                out.print(f"[yellow]warning:[/] the {side} corpus has no speaker information, so its inputs were "
                          "only scaled per corpus (give its manifest a speaker rule or column)")
    out.print(f"run folder: {rdir}", highlight=False)


def evaluate(
    ctx: typer.Context,
    run: RunArg = None,
    source: SourceOpt = None,
    target: TargetOpt = None,
    method: MethodOpt = "tlmlda",
    preset: PresetOpt = "paper",
    seed: SeedOpt = 0,
    epochs: EpochsOpt = None,
    lr: LrOpt = None,
    batch_size: BatchSizeOpt = None,
    precision: PrecisionOpt = "fp32",
    features: FeaturesOpt = "IS10",
) -> None:
    """Score a trained run on its target: WAR, UAR, per-class recall, confusion (metrics.json, predictions.csv).

    Give the run folder, or the options `train` was given (--source, --target, --method, --preset, --seed, the
    overrides and --features). In a read-only cache the metrics stored with the run are shown, not rewritten.
    """
    from sercross.experiments import evaluate_run, load_pair, read_run_config

    s = settings(ctx)
    if run is None:
        run = _find_run(s, source, target, method, preset, seed, epochs, lr, batch_size, precision)
        cfg = read_run_config(run)
        if cfg.get("feature_set", features) != features:
            raise SercrossError(f"the run in {run} was trained on {cfg['feature_set']} features, not {features}",
                                hint=f"add --features {cfg['feature_set']}")
    else:
        cfg = read_run_config(run)
    if not _writable(run):
        if not (run / "metrics.json").is_file():
            raise SercrossError(f"cannot write to {run}, and the run has no stored metrics.json to show",
                                hint="evaluate it in a writable copy of the cache (--cache DIR)")
        err.print(f"[yellow]note[/]: cannot write to {escape(str(run))}: these are the metrics stored with the run, "
                  "not recomputed or rewritten", highlight=False)
        _show_metrics(run)
        return
    p = load_pair(s.cache, cfg["source"], cfg["target"], cfg["feature_set"])
    evaluate_run(run, p)
    _show_metrics(run)
    out.print(f"wrote {run / 'metrics.json'} and {run / 'predictions.csv'}", highlight=False)


def _find_run(s: Settings, source, target, method, preset, seed, epochs, lr, batch_size, precision) -> Path:
    from sercross.experiments import corpus_name
    from sercross.infra import run_dir
    from sercross.methods import preset_tag

    if not (source and target):
        raise SercrossError("give a run folder or --source and --target", hint="see `sercross evaluate --help`")
    tag = preset_tag(preset, epochs, lr, batch_size, resolved_precision(precision))
    return run_dir(s.cache, corpus_name(source), corpus_name(target), method, tag, seed)


def _writable(folder: Path) -> bool:
    from sercross.infra import ensure_writable_dir

    try:
        ensure_writable_dir(folder)
    except SercrossError:  # read-only file system or no permission
        return False
    return True


def demo(
    ctx: typer.Context,
    out_dir: DemoOutOpt = Path("demo-output"),
    seed: SeedOpt = 0,
    method: MethodOpt = "tlmlda",
) -> None:
    """Generate two small synthetic corpora, then run extract → pair → train → evaluate on them.

    --seed makes the synthetic corpora as well as the run.
    """
    from sercross.corpora import DemoConfig, load_manifest, synthesize_corpora
    from sercross.experiments import pair_for
    from sercross.features import load_features
    from sercross.methods import get_method, get_preset

    t0 = time.perf_counter()
    s = settings(ctx)
    s = s if s.cache_given else Settings(out_dir / "cache", s.verbose, True)
    cache = s.cache
    with err.status("synthesizing two demo corpora"):
        roots = synthesize_corpora(out_dir / "corpora", DemoConfig(seed=seed))
    err.print(f"synthetic corpora in {out_dir / 'corpora'}", highlight=False)
    tables = []
    for name, root in roots.items():
        m = load_manifest(name)
        _run_extraction(s, m, root, "IS10", None)
        tables.append(load_features(cache, name, "IS10"))
    p = pair_for(cache, tables[0], tables[1])
    out.print(f"pair {p.name}: classes {', '.join(p.classes)}; {len(p.ys)} source, {len(p.yt)} target", highlight=False)
    cfg = get_preset("demo")
    rdir = _train_with_progress(cache, p, method, "demo", cfg, seed, get_method(method).kind)
    _show_metrics(rdir)
    out.print(f"demo finished in {time.perf_counter() - t0:.0f} s; cache: {cache}", highlight=False)
