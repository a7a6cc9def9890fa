"""``sercross benchmark``: the paper's experiments as a resumable grid of runs, aggregated into tables."""

from __future__ import annotations

import time

import typer
from rich.markup import escape

from sercross.cli.common import err, guarded, out
from sercross.cli.common import settings as _settings
from sercross.infra import SercrossError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("benchmark")(guarded(benchmark))


def benchmark(
    ctx: typer.Context,
    schemes: str | None = typer.Option(
        None, "--schemes", help="Comma-separated SOURCE:TARGET schemes, e.g. 'B:C,ravdess:casia' (B, E, C = berlin, "
        "enterface, casia). Default: the paper's six (E:B, B:E, E:C, C:E, B:C, C:B).",
    ),
    all_pairs: bool = typer.Option(
        False, "--all-pairs", help="Every ordered pair of the corpora that have features in the cache "
        "(added to --schemes if both are given).",
    ),
    methods: str | None = typer.Option(
        None, "--methods", "-m", help="Comma-separated methods or groups: paper (tlmlda, its four ablations, only_cls, "
        "pca_svm; the default), da (DAN, DSAN, CORAL, DANN), ours (tlmlda_plus and its ablations), spk (the "
        "baselines on speaker-normalised inputs), all. E.g. paper,da,tlmlda_plus.",
    ),
    seeds: str = typer.Option("5", "--seeds", help="A count (5 = seeds 0..4), a list (0,3,7) or a range (2-4)."),
    preset: str = typer.Option("paper", "--preset", "-p", help="Training recipe: paper (500 epochs), fast (20 "
                                "epochs, 25x cheaper) or demo. See README, 'Training speed and the fast preset'."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Override the preset's epochs (tag e.g. "
                                      "paper_e50)."),
    lr: float | None = typer.Option(None, "--lr", help="Override the preset's learning rate (> 0; tag e.g. "
                                    "paper_e20_lr0.0003, as `sercross train` names it)."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=2, help="Override the preset's batch size."),
    name: str | None = typer.Option(None, "--name", help="Folder under <cache>/benchmarks/. Default: the preset "
                                    "tag."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Parallel training processes. Default: one "
                                    "single-threaded process per core (measured faster: make bench). Spare "
                                    "cores (jobs < cores) become torch threads of each process. With --scheduler: "
                                    "runs at a time "
                                    "(default: the cluster's worker processes)."),
    features: str = typer.Option("IS10", "--features", "-f", help="openSMILE feature set: IS10 (the paper's), IS09, "
                                 "eGeMAPSv02, emobase or ComParE_2016."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Train on an existing Dask cluster: its scheduler's address, e.g. "
        "tcp://host:8786 (needs `pip install 'sercross\\[dask]'`). Results are written into this machine's cache. "
        "Default: $SERCROSS_SCHEDULER, else local processes; 'local' forces local processes.",
    ),
) -> None:
    """Run schemes × methods × seeds (resumable, in parallel) and write WAR/UAR tables like the paper's 3 and 4."""
    from sercross.experiments import (
        benchmark_dir,
        benchmark_meta,
        build_tables,
        collect_results,
        parse_methods,
        parse_schemes,
        parse_seeds,
        plan_benchmark,
        rich_table,
        write_results_csv,
        write_tables,
    )

    s = _settings(ctx)
    seed_list = parse_seeds(seeds)
    method_list = parse_methods(methods)
    scheme_list = parse_schemes(schemes)
    t0 = time.perf_counter()

    def extract(manifest, root):
        from sercross.features import extract_corpus

        kw = {"scheduler": scheduler} if scheduler else {}  # else extract_corpus reads $SERCROSS_SCHEDULER
        with err.status(f"extracting {features} features of {manifest.name} from {root}"):
            summary = extract_corpus(manifest, root, s.cache, features, **kw)
        err.print(f"extracted {manifest.name}: {summary.n_extracted} new, {summary.n_cached} reused, "
                  f"{len(summary.skipped)} skipped files", highlight=False)
        return summary

    # No spinner around planning: an extraction inside it shows its own.
    plan = plan_benchmark(s.cache, scheme_list, all_pairs, method_list, seed_list, preset, epochs, features, extract,
                          lr=lr, batch_size=batch_size)
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
    outcome = _run_with_progress(plan, jobs, scheduler)

    rows = collect_results(plan, outcome)
    bdir = benchmark_dir(s.cache, name or plan.tag)
    write_results_csv(bdir / "results.csv", rows)
    doc = build_tables(rows, benchmark_meta(plan, name or plan.tag, outcome))
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
    if bad:
        raise typer.Exit(1)


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
