"""``sercross benchmark`` and ``sercross run``: a grid of runs (from flags, or from an experiment file), resumable,
in parallel, aggregated into tables that are rewritten as runs finish."""

from __future__ import annotations

import time
from dataclasses import replace
from itertools import permutations
from pathlib import Path

import typer
from rich.markup import escape

from sercross.cli.common import PlainLog, err, out, settings
from sercross.cli.options import (
    AllPairsOpt,
    BenchmarkNameOpt,
    ClassesOpt,
    ConfigOpt,
    ExperimentArg,
    FeaturesOpt,
    InCorpusOpt,
    JobsOpt,
    LocoOpt,
    MethodsOpt,
    SchedulerOpt,
    SchemesOpt,
    SeedsOpt,
    SetOpt,
    TargetSetOpt,
)
from sercross.cli.parsing import known_corpus, parse_classes, parse_methods, parse_schemes, parse_seeds, parse_sets
from sercross.cli.recipe_flags import RecipeFlags, with_recipe_flags
from sercross.infra import SercrossError

# Options of `benchmark` that an experiment file (--config) replaces.
_GRID_OPTIONS = ("schemes", "all_pairs", "methods", "seeds", "preset", "epochs", "lr", "batch_size", "precision",
                 "classes", "features", "target_set", "loco")


@with_recipe_flags
def benchmark(
    ctx: typer.Context,
    schemes: SchemesOpt = None,
    all_pairs: AllPairsOpt = False,
    methods: MethodsOpt = None,
    seeds: SeedsOpt = "5",
    flags: RecipeFlags = RecipeFlags(),
    classes: ClassesOpt = None,
    config: ConfigOpt = None,
    name: BenchmarkNameOpt = None,
    jobs: JobsOpt = None,
    features: FeaturesOpt = "IS10",
    scheduler: SchedulerOpt = None,
    target_set: TargetSetOpt = "shared",
    in_corpus: InCorpusOpt = False,
    loco: LocoOpt = None,
) -> None:
    """Run schemes × methods × seeds (resumable, in parallel) and write WAR/UAR tables like the paper's 3 and 4.

    With --config FILE, the grid is the experiment file's (the same as `sercross run FILE`).
    """
    s = settings(ctx)
    if config is not None:
        given = [o for o in _GRID_OPTIONS if ctx.get_parameter_source(o).name == "COMMANDLINE"]
        if given:
            named = ", ".join("--" + o.replace("_", "-") for o in given)
            raise SercrossError(f"--config takes the grid from the file; {named} cannot be given with it",
                                hint="write them in the file, or change one with --set")
        _run_experiment(s, _load(config, list(flags.sets), name, s.cache, in_corpus), jobs, scheduler)
        return
    from sercross.experiments import experiment_from_flags, recipes_for

    scheme_list = parse_schemes(schemes) + [p for p in _loco(loco, s.cache) if p not in parse_schemes(schemes)]
    _check_corpora(s.cache, scheme_list, features)
    if all_pairs:
        from sercross.experiments.plan import corpora_with_features

        scheme_list += [p for p in permutations(corpora_with_features(s.cache, features), 2) if p not in scheme_list]
    method_list = parse_methods(methods)
    settings_ = flags.settings()
    if name is None:  # the grid's tag, as benchmarks were always named
        tags = {r.tag for r in recipes_for(method_list, flags.preset, settings_, features).values()}
        name = tags.pop() if len(tags) == 1 else flags.preset
    exp = experiment_from_flags(name, method_list, scheme_list or None, parse_seeds(seeds), flags.preset, settings_,
                                parse_classes(classes), features, target_set)
    if all_pairs and not scheme_list:
        raise SercrossError(f"nothing to run: no corpus has {features} features in {s.cache}",
                            hint="extract the corpora first (`sercross extract NAME --root PATH`)")
    _run_experiment(s, replace(exp, in_corpus=in_corpus), jobs, scheduler)


def run(
    ctx: typer.Context,
    file: ExperimentArg,
    set_: SetOpt = None,
    name: BenchmarkNameOpt = None,
    jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    in_corpus: InCorpusOpt = False,
) -> None:
    """Run an experiment file: its corpora, class sets, methods (with any of their settings), presets and seeds.

    Resumable: finished runs are reused, so an interrupted study goes on where it stopped, and after a change to the
    file only the runs it changes are trained. results.csv and the tables are rewritten as runs finish, in
    <cache>/benchmarks/<name>/ with the experiment resolved (experiment.toml, every default filled in). --set
    changes one key or setting for this time, e.g. --set seeds=2 --set preset=fast --set lr=3e-4. The format:
    docs/experiments.md.
    """
    s = settings(ctx)
    _run_experiment(s, _load(file, set_, name, s.cache, in_corpus), jobs, scheduler)


def _load(path: Path, sets: list[str] | None, name: str | None, cache: Path, in_corpus: bool = False):
    """The experiment file with --set and --name applied; --in-corpus adds the ceilings (stored with it)."""
    from sercross.experiments import load_experiment
    from sercross.experiments.experiment import TOP_KEYS
    from sercross.experiments.recipes import SETTINGS

    overrides = parse_sets(sets, known=[k for k in TOP_KEYS if k != "settings"] + list(SETTINGS))
    exp = load_experiment(path, overrides, name, cache)
    return replace(exp, in_corpus=True) if in_corpus else exp


def _run_experiment(s, exp, jobs, scheduler) -> None:
    """Plan the experiment's grid, store the experiment, train what is missing, write and show the results."""
    from sercross.experiments import benchmark_dir, write_benchmark
    from sercross.infra import atomic_write_text

    t0 = time.perf_counter()
    _check_corpora(s.cache, exp.scheme_list() or [], exp.features, known=exp.corpus_names())
    plan = _plan(s, exp, scheduler)
    atomic_write_text(benchmark_dir(s.cache, exp.name) / "experiment.toml", exp.to_toml())
    write_benchmark(s.cache, exp.name, plan)  # the tables of what is finished already
    outcome = _run_with_progress(plan, jobs, scheduler, lambda results: write_benchmark(s.cache, exp.name, plan,
                                                                                        results))
    if not _write_and_show(s, plan, outcome, exp.name, t0, exp.in_corpus):
        raise typer.Exit(1)


def _loco(text: str | None, cache: Path) -> list[tuple[str, str]]:
    """The leave-one-corpus-out schemes of ``--loco a,b,c`` (canonical names where the manifests know them)."""
    if not text:
        return []
    from sercross.experiments import corpus_name, loco_schemes

    def canonical(name: str) -> str:
        try:
            return corpus_name(name, cache)
        except SercrossError:
            return name  # a corpus known only by its features in the cache: checked with the other schemes

    return loco_schemes([canonical(c.strip()) for c in text.split(",") if c.strip()])


def _plan(s, exp, scheduler):
    """The grid to run (extracting features a scheme lacks), after saying what is skipped and retrained."""
    from sercross.experiments import plan_grid

    features = exp.features

    def extract(manifest, root):
        from sercross.features import extract_corpus

        kw = {"scheduler": scheduler} if scheduler else {}  # else extract_corpus reads $SERCROSS_SCHEDULER
        with err.status(f"extracting {features} features of {manifest.name} from {root}"):
            summary = extract_corpus(manifest, root, s.cache, features, **kw)
        err.print(f"extracted {manifest.name}: {summary.n_extracted} new, {summary.n_cached} reused, "
                  f"{len(summary.skipped)} skipped files", highlight=False)
        return summary

    # No spinner around planning: an extraction inside it shows its own.
    from sercross.corpora import register

    # A corpus named by its manifest's path is known by name in this cache from now on.
    manifests = {m.name: register(s.cache, m) if written.endswith(".toml") else m
                 for written, m in exp.manifests.items()}
    plan = plan_grid(s.cache, exp.recipes(), exp.scheme_list(), False, exp.seeds, exp.class_sets, features, extract,
                     manifests=manifests, target_sets=exp.target_sets)
    for sk in plan.skipped:
        err.print(f"[yellow]skipped[/] {escape(sk.scheme)}: {escape(sk.reason)}", highlight=False)
    if not plan.runs:
        raise SercrossError(
            "nothing to run: every scheme was skipped (reasons above)" if plan.skipped
            else f"nothing to run: no corpus has {features} features in {s.cache}",
            hint="extract the corpora first (`sercross extract NAME --root PATH`), set $SERCROSS_ROOT_<NAME>, "
            "or choose --schemes among corpora with features",
        )
    for spec, why in plan.stale.items():
        err.print(f"[yellow]will retrain[/] {escape(spec.describe())}: {escape(why)}", highlight=False)
    err.print(
        f"grid: {len(plan.schemes)} pair(s) × {len(plan.methods)} method(s) × {len(plan.seeds)} seed(s) = "
        f"{len(plan.runs)} runs, {len(plan.finished)} already finished, {len(plan.todo)} to train "
        f"({escape(plan.tag)}, target set {'+'.join(plan.target_sets)})",
        highlight=False,
    )
    return plan


def _complete_scores(plan) -> None:
    """Label-free scores for runs trained before they existed (each takes a few seconds), said as it happens."""
    from sercross.experiments import complete_scores

    def on_run(spec) -> None:
        err.print(f"label-free scores of {spec.describe()} (trained before scores were stored)", highlight=False)

    complete_scores(plan, on_run)


def _select(plan) -> None:
    """``auto``'s decisions, one per scheme and seed whose candidates are all finished, printed as they are made."""
    from sercross.experiments import select_all

    def on_result(r) -> None:
        how = ("recorded earlier" if r.reused else f"runner-up {r.runner_up}" if len(r.members) <= 1
               else "an average: no runner-up")
        err.print(f"auto {r.scheme} seed {r.seed}: picked {r.pick} ({how})", highlight=False)

    if plan.selections:
        select_all(plan, on_result)


def _references(plan) -> list[dict]:
    """The in-corpus ceiling beside each scheme (computed here, one fold at a time, or reused), said as it goes."""
    from sercross.experiments import REFERENCE_METHODS, reference_rows
    from sercross.features import load_features

    tables = {t: load_features(plan.cache, t, plan.feature_set) for t in dict.fromkeys(i.target for i in plan.schemes)}
    columns = [(i.name, i.target, i.classes) for i in plan.schemes]

    def on_run(corpus, method, seed) -> None:
        err.print(f"in-corpus reference {method} {corpus} seed {seed}", highlight=False)

    return reference_rows(plan.cache, tables, columns, REFERENCE_METHODS, plan.seeds, plan.tag, plan.config, on_run)


def _write_and_show(s, plan, outcome, name: str, t0: float, in_corpus: bool = False) -> bool:
    """Write results.csv and the tables, print them and what failed; False if a run failed or is missing."""
    from sercross.experiments import rich_tables, write_benchmark

    _complete_scores(plan)
    _select(plan)
    refs = _references(plan) if in_corpus else None
    rows, doc, paths = write_benchmark(s.cache, name, plan, outcome, refs)
    for metric in ("war", "uar"):
        for table in rich_tables(doc, metric, out.width):
            out.print(table)
    bad = [r for r in rows if r["status"] in ("failed", "missing")] + [r for r in refs or () if r["status"] != "done"]
    for r in bad:
        err.print(f"[red]{r['status']}[/] {escape(r['method'])} {escape(r['scheme'])} seed {r['seed']}: "
                  f"{escape(str(r['error']))}", highlight=False)
    if s.verbose:
        for spec, res in outcome.failures.items():
            if res.get("traceback"):
                err.print(f"traceback of {spec.describe()}:\n{res['traceback']}", highlight=False, markup=False)
    shared = len(plan.runs) - len(plan.todo) - len(plan.finished)
    out.print(
        f"{len(outcome.results) - len(outcome.failures)} trained, {len(plan.finished)} reused"
        + (f", {shared} served by the run of another seed" if shared > 0 else "")
        + f", {len(bad)} failed or missing, in {time.perf_counter() - t0:.0f} s ({outcome.where})",
        highlight=False,
    )
    out.print(f"per-run results: {paths['results']} (and each run folder's metrics.json)", highlight=False)
    out.print(f"tables (with the protocol, the paper's numbers and the oracle table): {paths['md']}, "
              f"{paths['csv']}, {paths['json']}", highlight=False)
    out.print(f"the experiment, resolved: {paths['results'].parent / 'experiment.toml'}; report: "
              f"`sercross report --benchmark {name}`", highlight=False)
    return not bad


def _check_corpora(cache, schemes, feature_set: str, known=()) -> None:
    """Refuse a misspelt corpus before any work; one with features in the cache, or whose manifest an experiment
    file named (``known``), needs no other manifest. A source a+b+c is checked corpus by corpus."""
    from sercross.experiments import split_sources
    from sercross.infra import features_dir

    for name in dict.fromkeys(n for scheme in schemes for part in scheme for n in split_sources(part)):
        if name not in known and not (features_dir(cache, name, feature_set) / "meta.json").is_file():
            known_corpus(name, cache)


def _scores(result: dict) -> str:
    if result.get("war") is None:
        return "target unlabelled: predictions written"
    return f"WAR {100 * result['war']:.2f} %, UAR {100 * result['uar']:.2f} %"


def _run_with_progress(plan, jobs, scheduler=None, on_results=None):
    """Train the plan's unfinished runs with a progress bar (a log line per run and every few epochs when stderr is
    not a terminal); ``on_results(results so far)`` after each finished run."""
    from sercross.experiments import Reporter, run_benchmark
    from sercross.infra import progress_bar, resolve_scheduler

    done: dict = {}
    log = not err.is_terminal
    last_write = [0.0]
    with progress_bar(err, "benchmark", unit="runs") as progress:
        task = progress.add_task("runs", total=len(plan.runs), completed=len(plan.runs) - len(plan.todo), rate="")
        current: dict = {}
        logs: dict = {}  # spec -> PlainLog, without a terminal

        def show() -> None:
            progress.update(task, rate=escape(", ".join(current.values())[:120]))

        class Bar(Reporter):
            def start(self, total, reused, todo, jobs, threads):
                where = f"cluster, {jobs} at a time" if resolve_scheduler(scheduler) else f"{jobs}×{threads} thr"
                progress.update(task, description=f"runs ({where})")
                if log:
                    err.print(f"{len(plan.todo)} run(s) to train, {where}", highlight=False)

            def run_started(self, spec):
                current[spec] = spec.describe()
                show()

            def epoch(self, spec, epoch, epochs):
                current[spec] = f"{spec.describe()} epoch {epoch}/{epochs}"
                show()
                if log and logs.setdefault(spec, PlainLog(epochs)).due(epoch):
                    err.print(f"  {escape(spec.describe())}: epoch {epoch}/{epochs}", highlight=False)

            def run_finished(self, spec, result):
                current.pop(spec, None)
                logs.pop(spec, None)
                done[spec] = result
                if result["status"] == "failed":
                    progress.console.print(f"[red]failed[/] {escape(spec.describe())}: {escape(result['error'])}",
                                           highlight=False)
                elif log:
                    err.print(f"\\[{len(done)}/{len(plan.todo)}] {escape(spec.describe())}: {_scores(result)} "
                              f"({result['seconds']:.0f} s)", highlight=False)
                progress.update(task, advance=1)
                show()
                if on_results is not None and (time.monotonic() - last_write[0] > 2 or len(done) == len(plan.todo)):
                    on_results(dict(done))
                    last_write[0] = time.monotonic()

        return run_benchmark(plan, jobs, reporter=Bar(), scheduler=scheduler)
