"""demo: two synthetic corpora through extract → pair → train → evaluate → report."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from sercross.cli.common import Settings, err, out, remember_demo_cache, settings
from sercross.cli.extract_cmds import run_extraction
from sercross.cli.options import DemoOutOpt, MethodOpt, SeedOpt
from sercross.cli.run_output import show_metrics, train_with_progress


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
        run_extraction(s, m, root, "IS10", None)
        tables.append(load_features(cache, name, "IS10"))
    p = pair_for(cache, tables[0], tables[1])
    out.print(f"pair {p.name}: classes {', '.join(p.classes)}; {len(p.ys)} source, {len(p.yt)} target", highlight=False)
    cfg = get_preset("demo")
    rdir = train_with_progress(cache, p, get_method(method), "demo", cfg, seed)
    show_metrics(rdir)
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
