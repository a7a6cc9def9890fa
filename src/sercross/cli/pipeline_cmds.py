"""Pipeline commands: extract, pair, train, evaluate, demo."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from sercross.cli.common import (
    PlainLog,
    Settings,
    err,
    flag_settings,
    for_corpora,
    out,
    read_classes,
    remember_demo_cache,
    settings,
    with_verbose,
)
from sercross.cli.options import (
    BatchSizeOpt,
    ClassesOpt,
    CorpusArg,
    CorpusNameOpt,
    DemoOutOpt,
    EpochsOpt,
    FeaturesOpt,
    ForceOpt,
    JobsOpt,
    LrOpt,
    MethodOpt,
    PrecisionOpt,
    PresetOpt,
    ReplaceOpt,
    RootOpt,
    RunArg,
    SchedulerOpt,
    SeedOpt,
    SetOpt,
    SourceOpt,
    TargetOpt,
    TargetSetOpt,
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
    _run_extraction(s, manifest, root_path, features, jobs, scheduler)
    if manifest.name != corpus:
        out.print(f"corpus {manifest.name!r} is known by name in {s.cache} from now on (e.g. "
                  f"`sercross pair --source {manifest.name} --target …`)", highlight=False)


def _tables(s: Settings, source: str, target: str, feature_set: str):
    """The source's table (a list of tables for several sources a+b+c) and the target's."""
    from sercross.corpora import load_manifest
    from sercross.experiments import features_or_extract, split_sources

    names = [*split_sources(source), target]
    manifests = [load_manifest(name, s.cache) for name in names]  # every name checked before any work
    tables = [
        features_or_extract(s.cache, m, feature_set, lambda m, r: _run_extraction(s, m, r, feature_set, None))
        for m in manifests
    ]
    sources = tables[:-1]
    if len(sources) > 1:
        err.print(f"{len(sources)} sources: their union is the source domain (each scaled on its own); default "
                  "classes: those the target and every source share", highlight=False)
    return (sources[0] if len(sources) == 1 else sources), tables[-1]


def _pair(s: Settings, src, tgt, classes: tuple[str, ...] | None, force: bool = False, target_set: str = "shared"):
    """pair_for, saying so when the default pair is rebuilt on another class set or an older one moves aside."""
    from sercross.experiments import pair_for

    def replaced(old, new) -> None:
        err.print(
            f"[yellow]note[/]: the default class set of {new.key.scheme} changed with the features, from "
            f"{', '.join(old.classes)} to {', '.join(new.classes)}: runs trained on the old pair are out of date "
            "(`train` and `benchmark` train them again when asked for, `evaluate` refuses them).",
            highlight=False,
        )

    def note(text: str) -> None:
        err.print(f"[yellow]note[/]: {escape(text)}", highlight=False)

    return pair_for(s.cache, src, tgt, classes, force=force, on_replace=replaced, on_note=note,
                    target_set=target_set)


def pair(
    ctx: typer.Context,
    source: SourceOpt,
    target: TargetOpt,
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
    target_set: TargetSetOpt = "shared",
) -> None:
    """Build the label-aligned source/target pair, each corpus min-max scaled to [0,1] on its own."""

    s = for_corpora(settings(ctx), source, target)
    chosen = parse_classes(classes)
    manifests = _manifests(s, source, target)
    read_classes(chosen, *manifests)  # a misspelt class is refused before any extraction
    src, tgt = _tables(s, source, target, features)
    p = _pair(s, src, tgt, read_classes(chosen, *manifests, *_as_list(src), tgt), force=True, target_set=target_set)
    out.print(
        f"pair {p.name}: classes {', '.join(p.classes)} ({len(p.classes)}, chance {100 / len(p.classes):.2f} %); "
        f"{len(p.ys)} source and {len(p.yt)} target utterances",
        highlight=False,
    )
    _say_target_set(p)
    out.print(f"written to {p.key.pair_dir(s.cache, p.feature_set)}", highlight=False)


def _say_target_set(p) -> None:
    if p.Xu is not None:
        out.print(f"target set all: the methods see all {len(p.Xu)} target utterances unlabelled; the "
                  f"{len(p.yt)} of the pair's classes are scored", highlight=False)


def _as_list(tables) -> list:
    """A source's table(s) as a list (several sources a+b+c give several)."""
    return list(tables) if isinstance(tables, (list, tuple)) else [tables]


def _manifests(s: Settings, source: str, target: str) -> list:
    """The manifests of every source corpus (``a+b+c``) and of the target: each name checked before any work."""
    from sercross.corpora import load_manifest
    from sercross.experiments import split_sources

    return [load_manifest(n, s.cache) for n in (*split_sources(source), target)]


def _recipe(method: str, preset: str, epochs, lr, batch_size, sets: list[str] | None, features: str,
            precision: str | None = None):
    from sercross.experiments import Recipe

    return Recipe.build(method, preset, flag_settings(sets, epochs, lr, batch_size, precision), features)


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
    set_: SetOpt = None,
    threads: ThreadsOpt = None,
    precision: PrecisionOpt = None,
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
    force: ForceOpt = False,
    target_set: TargetSetOpt = "shared",
) -> None:
    """Train a method on source → target (extracting/pairing what the cache lacks) and score it on the target."""
    from dataclasses import replace

    from sercross.experiments import run_state

    s = for_corpora(settings(ctx), source, target)
    recipe = _recipe(method, preset, epochs, lr, batch_size, set_, features, precision)
    chosen = parse_classes(classes)
    manifests = _manifests(s, source, target)
    read_classes(chosen, *manifests)  # a misspelt class is refused before any extraction
    src, tgt = _tables(s, source, target, features)
    p = _pair(s, src, tgt, read_classes(chosen, *manifests, *_as_list(src), tgt), target_set=target_set)
    _say_target_set(p)
    if recipe.spec.kind == "auto":
        from sercross.cli.auto_cmds import train_auto

        return train_auto(s, p, recipe, seed, force)
    run_seed = recipe.run_seed(seed)
    if run_seed != seed:
        err.print(f"{recipe.method} does not depend on the seed: its run of seed {run_seed} serves seed {seed}",
                  highlight=False)
    rdir = p.key.run_dir(s.cache, recipe.method, recipe.tag, run_seed)
    cfg = replace(recipe.config, threads=threads) if threads else recipe.config
    # Reuse only a run of this very pair (classes, features), method definition and configuration.
    state = run_state(rdir, p.meta.get("fingerprint"), recipe.method, recipe.tag, run_seed, cfg, spec=recipe.spec)
    if state == "finished" and not force:
        err.print(f"run already finished in {rdir} (use --force to train again)", highlight=False)
    else:
        if state not in ("new", "finished"):
            err.print(f"[yellow]training again[/]: the run in {escape(str(rdir))} is out of date ({escape(state)})",
                      highlight=False)
        _train_with_progress(s.cache, p, recipe.spec, recipe.tag, cfg, run_seed, recipe.to_dict())
    _show_metrics(rdir)


def _train_with_progress(cache, p, spec, tag, cfg, seed, recipe: dict | None = None) -> Path:
    from sercross.experiments import train_run

    desc = f"train {spec.name} {p.key.label} seed {seed}"
    if spec.kind != "network":
        with err.status(desc + " (PCA + SVM, source cross-validation)"):
            return train_run(cache, p, spec, tag, cfg, seed, recipe=recipe)
    epochs = spec.configure(cfg).epochs
    log = None if err.is_terminal else PlainLog(epochs)  # a log file or a pipe: plain lines, not a redrawn bar
    with progress_bar(err, desc) as progress:
        task = progress.add_task(desc, total=epochs, rate="")

        def on_epoch(epoch: int, row: dict) -> None:
            info = f"L_y {row['loss_L_y']:.3f} src acc {row['source_train_acc']:.2f}"
            progress.update(task, advance=1, rate=info)
            if log is not None and log.due(epoch):
                err.print(f"{escape(desc)}: epoch {epoch}/{epochs}, {info}", highlight=False)

        return train_run(cache, p, spec, tag, cfg, seed, on_epoch=on_epoch, recipe=recipe)


def _show_metrics(rdir: Path) -> None:
    from sercross.experiments.evaluation import run_warnings
    from sercross.infra import read_json

    m = read_json(rdir / "metrics.json")
    classes = m.get("classes") or []
    chance = f"; {len(classes)} classes, chance {100 / len(classes):.2f} %" if classes else ""
    title = f"{m['scheme']}  {m['method']}  {m['preset']}  seed {m['seed']}  (last epoch{chance})"
    if m.get("labelled", True):
        out.print(metrics_table(m, escape(title)))
        out.print(confusion_table(m))
    else:
        counts = Table(title=escape(title), header_style="bold")
        counts.add_column("predicted class")
        counts.add_column("target utterances", justify="right")
        for c, k in (m.get("predicted") or {}).items():
            counts.add_row(c, str(k))
        out.print(counts)
        out.print(f"[yellow]note[/]: {escape(m.get('note', 'the target has no labels'))}", highlight=False)
    for w in run_warnings(rdir):
        err.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
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
    set_: SetOpt = None,
    precision: PrecisionOpt = None,
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
    target_set: TargetSetOpt = "shared",
) -> None:
    """Score a trained run on its target: WAR, UAR, per-class recall, confusion (metrics.json, predictions.csv).

    Give the run folder, or the options `train` was given (--source, --target, --classes, --method, --preset, --seed,
    the changed settings and --features). In a read-only cache the metrics stored with the run are shown, not
    rewritten.
    """
    from sercross.experiments import evaluate_run, load_pair, read_run_config

    s = for_corpora(settings(ctx), source, target)
    if run is None:
        run = _find_run(s, source, target, method, preset, seed, (epochs, lr, batch_size, set_, precision), classes,
                        features, target_set)
    cfg = read_run_config(run)
    if not _writable(run):
        if not (run / "metrics.json").is_file():
            raise SercrossError(f"cannot write to {run}, and the run has no stored metrics.json to show",
                                hint="evaluate it in a writable copy of the cache (--cache DIR)")
        err.print(f"[yellow]note[/]: cannot write to {escape(str(run))}: these are the metrics stored with the run, "
                  "not recomputed or rewritten", highlight=False)
        _show_metrics(run)
        return
    from sercross.experiments.commands import run_key

    p = load_pair(s.cache, run_key(cfg), feature_set=cfg["feature_set"])
    evaluate_run(run, p)
    _show_metrics(run)
    out.print(f"wrote {run / 'metrics.json'} and {run / 'predictions.csv'}", highlight=False)


def _find_run(s: Settings, source, target, method, preset, seed, overrides, classes, features,
              target_set: str = "shared") -> Path:
    """The run folder the options name; if it has no finished run, an error with the commands that work."""
    from sercross.corpora import load_manifest
    from sercross.experiments import corpus_name, join_sources, split_sources, stored_key
    from sercross.experiments.commands import pair_options, recipe_command, run_command
    from sercross.infra import read_json
    from sercross.methods import PRESETS

    if not (source and target):
        raise SercrossError("give a run folder or --source and --target", hint="see `sercross evaluate --help`")
    sources = [corpus_name(n, s.cache) for n in split_sources(source)]
    source, target = join_sources(sources), corpus_name(target, s.cache)
    chosen = read_classes(parse_classes(classes), *(load_manifest(n, s.cache) for n in (*sources, target)))
    key = stored_key(s.cache, source, target, features, chosen, target_set)
    epochs, lr, batch_size, sets, precision = overrides
    if preset in PRESETS:
        recipe = _recipe(method, preset, epochs, lr, batch_size, sets, features, precision)
        method, tag, seed = recipe.method, recipe.tag, recipe.run_seed(seed)
    else:  # a run's whole tag
        tag = preset
    rdir = key.run_dir(s.cache, method, tag, seed)
    if (rdir / "config.json").is_file():
        return rdir
    found = sorted(p.parent for p in rdir.parent.glob("*/config.json"))
    if found:
        cmds = "; ".join(f"`{run_command(read_json(p / 'config.json'), 'evaluate')}`" for p in found[:6])
        raise SercrossError(f"no run of {method} on {key.name} with tag {tag} and seed {seed} in {s.cache}",
                            hint=f"its finished runs: {cmds}" + (" …" if len(found) > 6 else ""))
    others = sorted({p.parent.name for p in (s.cache / "runs" / key.dirname).glob("*/*/config.json")})
    what = f"no run of {method} on {key.name} in {s.cache}"
    if preset in PRESETS:
        hint = f"train it: `{recipe_command(key, recipe, seed)}`"
    else:
        hint = f"train it with `sercross train {' '.join(pair_options(key))} --method {method}` and the preset and " \
               f"settings of tag {tag}"
    if others:
        hint += f"; runs of other methods there: {', '.join(others)}"
    raise SercrossError(what, hint=hint)


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
    rdir = _train_with_progress(cache, p, get_method(method), "demo", cfg, seed)
    _show_metrics(rdir)
    if not settings(ctx).cache_given:
        remember_demo_cache(cache)
    report = _demo_report(cache, p)
    out.print(f"demo finished in {time.perf_counter() - t0:.0f} s; cache: {cache}", highlight=False)
    out.print(f"report: {report / 'index.html'} (open it in a browser; `sercross report --source demo_a --target "
              "demo_b` writes it again)", highlight=False)


def _demo_report(cache: Path, p) -> Path:
    """The report of every demo run (as `sercross report --source demo_a --target demo_b` writes it)."""
    from sercross.report import build_report, default_out_dir, select_scheme

    selection = select_scheme(cache, p.source, p.target)
    dest = default_out_dir(cache, selection)
    with err.status("writing the report") as status:
        build_report(selection, dest, progress=lambda msg: status.update(f"report: {msg}"))
    return dest
