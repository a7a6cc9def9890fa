"""``sercross report``: metric tables and figures of a run, a scheme or a benchmark, as Markdown and HTML."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from sercross.cli.common import err, for_corpora, out, read_classes, settings
from sercross.cli.options import (
    ClassesOpt,
    PresetOpt,
    ReportBenchmarkOpt,
    ReportOutOpt,
    ReportRunOpt,
    RunFiguresOpt,
    SourceOpt,
    TargetOpt,
    TsneOpt,
)
from sercross.cli.parsing import parse_classes
from sercross.infra import SercrossError


def report(
    ctx: typer.Context,
    run: ReportRunOpt = None,
    source: SourceOpt = None,
    target: TargetOpt = None,
    benchmark: ReportBenchmarkOpt = None,
    classes: ClassesOpt = None,
    preset: PresetOpt = None,
    out_dir: ReportOutOpt = None,
    tsne: TsneOpt = True,
    run_figures: RunFiguresOpt = True,
) -> None:
    """Write a report folder of a run, a scheme or a benchmark: metric tables and figures, as Markdown and HTML.

    The folder holds report.md, index.html and figures/*.png: metric tables, confusion matrices, t-SNE of the
    learned features (Only_cls, TLMLDA_M, TLMLDA, as the paper's Figure 2), training curves, per-class recall.

    Choose exactly one of --run DIR, --source A --target B, or --benchmark NAME. A scheme's report covers each of
    its class sets (--classes: one). With a scheme or a benchmark, --preset keeps only the runs of that preset or
    tag.
    """
    from sercross.report import build_report, default_out_dir, select_benchmark, select_run, select_scheme

    s = for_corpora(settings(ctx), source, target)
    modes = [run is not None, bool(source or target), benchmark is not None]
    if sum(modes) != 1:
        raise SercrossError(
            "choose what to report: exactly one of --run DIR, --source A --target B, or --benchmark NAME",
            hint="e.g. `sercross report --source berlin --target casia`; see `sercross report --help`",
        )
    if run is not None:
        if preset is not None:
            raise SercrossError("--preset filters schemes and benchmarks, not a single --run", hint="drop --preset")
        selection = select_run(run, s.cache)
    elif benchmark is not None:
        selection = select_benchmark(s.cache, benchmark, preset)
    else:
        if not (source and target):
            raise SercrossError("--source and --target go together", hint="give both, e.g. -s berlin -t casia")
        from sercross.corpora import load_manifest

        names = parse_classes(classes)
        chosen = read_classes(names, *(load_manifest(n, s.cache) for n in (source, target))) if names else None
        selection = select_scheme(s.cache, source, target, preset, chosen)
    dest = out_dir if out_dir is not None else default_out_dir(s.cache, selection)

    with err.status(f"report on {selection.title}: {len(selection.runs)} run(s)") as status:
        result = build_report(selection, dest, tsne=tsne, progress=lambda msg: status.update(f"report: {msg}"),
                              run_figures=run_figures)
    out.print(_summary_table(selection.runs, f"report: {selection.title}", selection.kind != "benchmark"))
    for path, why in selection.skipped:
        err.print(Text.assemble(("left out ", "yellow"), f"{path}: {why}"), highlight=False)
    for note in result.notes:
        err.print(Text.assemble(("note: ", "yellow"), note), highlight=False)
    out.print(
        f"report written to {result.out_dir}: index.html (open in a browser), report.md, "
        f"{len(result.figures)} figures in figures/",
        highlight=False,
    )


def _summary_table(runs, title: str, scheme_in_title: bool) -> Table:
    from sercross.report import SUMMARY_HEADERS, summary_rows

    rows = summary_rows(runs)
    drop = 1 if scheme_in_title and len({row[0] for row in rows}) == 1 else 0
    t = Table(title=title, header_style="bold")
    for h in SUMMARY_HEADERS[drop:]:
        numeric = h.endswith("%") or h == "seeds"
        t.add_column(h, justify="right" if numeric else "left", no_wrap=numeric or h == "scheme")
    for row in rows:
        t.add_row(*row[drop:])
    return t

