"""``sercross benchmark``: the paper's experiments as a resumable grid of runs, aggregated into tables."""

from __future__ import annotations

import time

import typer
from rich.markup import escape

from sercross.cli.common import err, out, resolved_precision, settings
from sercross.cli.options import (
    AllPairsOpt,
    BatchSizeOpt,
    BenchmarkNameOpt,
    EpochsOpt,
    FeaturesOpt,
    JobsOpt,
    LrOpt,
    MethodsOpt,
    PrecisionOpt,
    PresetOpt,
    SchedulerOpt,
    SchemesOpt,
    SeedsOpt,
)
from sercross.cli.parsing import known_corpus, parse_methods, parse_schemes, parse_seeds
from sercross.infra import SercrossError


def benchmark(
    ctx: typer.Context,
    schemes: SchemesOpt = None,
    all_pairs: AllPairsOpt = False,
    methods: MethodsOpt = None,
    seeds: SeedsOpt = "5",
    preset: PresetOpt = "paper",
    epochs: EpochsOpt = None,
    lr: LrOpt = None,
    batch_size: BatchSizeOpt = None,
    precision: PrecisionOpt = "fp32",
    name: BenchmarkNameOpt = None,
    jobs: JobsOpt = None,
    features: FeaturesOpt = "IS10",
    scheduler: SchedulerOpt = None,
) -> None:
    """Run schemes × methods × seeds (resumable, in parallel) and write WAR/UAR tables like the paper's 3 and 4."""
    s = settings(ctx)
    seed_list = parse_seeds(seeds)
    method_list = parse_methods(methods)
    scheme_list = parse_schemes(schemes)
    _check_corpora(s.cache, scheme_list, features)
    precision = resolved_precision(precision)
    t0 = time.perf_counter()
    plan = _plan(s, scheme_list, all_pairs, method_list, seed_list, preset, epochs, lr, batch_size, precision,
                 features, scheduler)
    outcome = _run_with_progress(plan, jobs, scheduler)
    if not _write_and_show(s, plan, outcome, name or plan.tag, t0):
        raise typer.Exit(1)


def _plan(s, schemes, all_pairs, methods, seeds, preset, epochs, lr, batch_size, precision, features, scheduler):
    """The grid to run (extracting features a scheme lacks), after saying what is skipped and retrained."""
    from sercross.experiments import plan_benchmark

    def extract(manifest, root):
        from sercross.features import extract_corpus

        kw = {"scheduler": scheduler} if scheduler else {}  # else extract_corpus reads $SERCROSS_SCHEDULER
        with err.status(f"extracting {features} features of {manifest.name} from {root}"):
            summary = extract_corpus(manifest, root, s.cache, features, **kw)
        err.print(f"extracted {manifest.name}: {summary.n_extracted} new, {summary.n_cached} reused, "
                  f"{len(summary.skipped)} skipped files", highlight=False)
        return summary

    # No spinner around planning: an extraction inside it shows its own.
    plan = plan_benchmark(s.cache, schemes, all_pairs, methods, seeds, preset, epochs, features, extract,
                          lr=lr, batch_size=batch_size, precision=precision)
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
        err.print(f"[yellow]will retrain[/] {spec.describe()}: {escape(why)}", highlight=False)
    err.print(
        f"grid: {len(plan.schemes)} scheme(s) × {len(plan.methods)} method(s) × {len(plan.seeds)} seed(s) = "
        f"{len(plan.runs)} runs, {len(plan.finished)} already finished (preset {plan.tag})",
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
        how = "recorded earlier" if r.reused else f"runner-up {r.runner_up}"
        err.print(f"auto {r.scheme} seed {r.seed}: picked {r.pick} ({how})", highlight=False)

    if plan.selections:
        select_all(plan, on_result)


def _write_and_show(s, plan, outcome, name: str, t0: float) -> bool:
    """Write results.csv and the tables, print them and what failed; False if a run failed or is missing."""
    from sercross.experiments import (
        benchmark_dir,
        benchmark_meta,
        build_tables,
        collect_results,
        rich_table,
        write_results_csv,
        write_tables,
    )

    _complete_scores(plan)
    _select(plan)
    rows = collect_results(plan, outcome)
    bdir = benchmark_dir(s.cache, name)
    write_results_csv(bdir / "results.csv", rows)
    doc = build_tables(rows, benchmark_meta(plan, name, outcome))
    paths = write_tables(bdir, doc)

    out.print(rich_table(doc, "war"))
    out.print(rich_table(doc, "uar"))
    bad = [r for r in rows if r["status"] in ("failed", "missing")]
    for r in bad:
        err.print(f"[red]{r['status']}[/] {r['method']} {r['scheme']} seed {r['seed']}: {escape(str(r['error']))}",
                  highlight=False)
    if s.verbose:
        for spec, res in outcome.failures.items():
            if res.get("traceback"):
                err.print(f"traceback of {spec.describe()}:\n{res['traceback']}", highlight=False, markup=False)
    out.print(
        f"{len(outcome.results) - len(outcome.failures)} trained, {len(plan.finished)} reused, {len(bad)} failed or "
        f"missing, in {time.perf_counter() - t0:.0f} s ({outcome.where})",
        highlight=False,
    )
    out.print(f"per-run results: {bdir / 'results.csv'} (and each run folder's metrics.json)", highlight=False)
    out.print(f"tables (with the protocol, the paper's numbers and the oracle table): {paths['md']}, "
              f"{paths['csv']}, {paths['json']}", highlight=False)
    return not bad


def _check_corpora(cache, schemes, feature_set: str) -> None:
    """Refuse a misspelt corpus before any work; one with features in the cache needs no manifest."""
    from sercross.infra import features_dir

    for name in dict.fromkeys(n for scheme in schemes for n in scheme):
        if not (features_dir(cache, name, feature_set) / "meta.json").is_file():
            known_corpus(name)


def _run_with_progress(plan, jobs, scheduler=None):
    from sercross.experiments import Reporter, run_benchmark
    from sercross.infra import progress_bar, resolve_scheduler

    with progress_bar(err, "benchmark", unit="runs") as progress:
        task = progress.add_task("runs", total=len(plan.runs), completed=len(plan.finished), rate="")
        current: dict = {}

        def show() -> None:
            progress.update(task, rate=", ".join(current.values())[:120])

        class Bar(Reporter):
            def start(self, total, reused, todo, jobs, threads):
                where = f"cluster, {jobs} at a time" if resolve_scheduler(scheduler) else f"{jobs}×{threads} thr"
                progress.update(task, description=f"runs ({where})")

            def run_started(self, spec):
                current[spec] = spec.describe()
                show()

            def epoch(self, spec, epoch, epochs):
                current[spec] = f"{spec.describe()} epoch {epoch}/{epochs}"
                show()

            def run_finished(self, spec, result):
                current.pop(spec, None)
                if result["status"] == "failed":
                    progress.console.print(f"[red]failed[/] {spec.describe()}: {escape(result['error'])}",
                                           highlight=False)
                progress.update(task, advance=1)
                show()

        return run_benchmark(plan, jobs, reporter=Bar(), scheduler=scheduler)
