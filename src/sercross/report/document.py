"""The document: what report.md says about a selection of runs, as a list of blocks (:mod:`.render` writes them).

A report opens with a summary of every (scheme, method, preset), then gives each scheme a section: its metrics
table, per-class recall, the paper's Figure 2 (t-SNE), confusion averaged over seeds, and each run's own
confusion and training curves. Figures are drawn by :mod:`.plots` from the data of :mod:`.figure_data` and
placed by a :class:`~sercross.report.build.FigureWriter`, which also collects the notes on what could not be
drawn.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

from sercross import __version__
from sercross.experiments import report_command, run_command
from sercross.infra import SercrossError
from sercross.report.figure_data import (
    FIGURE2_METHODS,
    TSNE_SEED,
    confusion_counts,
    embed,
    figure2_groups,
    mean_confusion,
    recall_summary,
    row_normalise,
    training_curves,
    tsne_inputs,
)
from sercross.report.render import Block, Details, Heading, Paragraph, Table
from sercross.report.selection import Run, Selection, sort_runs

if TYPE_CHECKING:
    from sercross.report.build import FigureWriter

SUMMARY_HEADERS = ["scheme", "classes", "chance %", "method", "preset", "seeds", "seed ids", "WAR %", "UAR %"]
SUMMARY_NUMERIC = frozenset({2, 5, 7, 8})  # right-aligned columns of the summary


def pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def mean_sd(xs: Sequence[float]) -> str:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return f"{100 * xs[0]:.2f}"
    return f"{100 * np.mean(xs):.2f} ± {100 * np.std(xs, ddof=1):.2f}"


def summary_rows(runs: Sequence[Run]) -> list[list[str]]:
    """One row per (scheme, class set, method, preset): the classes and their chance level, number of seeds, WAR
    and UAR as mean ± sd over seeds, in %."""
    groups: dict[tuple, list[Run]] = {}
    for r in sort_runs(runs):
        groups.setdefault((r.scheme, r.classes, r.method, r.preset), []).append(r)
    return [
        [scheme, ", ".join(classes), pct(1 / len(classes)), method, preset, str(len(rs)),
         ", ".join(str(r.seed) for r in rs), mean_sd([r.metrics["war"] for r in rs]),
         mean_sd([r.metrics["uar"] for r in rs])]
        for (scheme, classes, method, preset), rs in groups.items()
    ]


def chance(classes: Sequence[str]) -> str:
    """'1/5 = 20.00 %': the recall of a class, and the UAR, of guessing (or of always answering one class)."""
    return f"1/{len(classes)} = {pct(1 / len(classes))} %"


def slug(*parts: object) -> str:
    return "__".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", str(p)) for p in parts)


# --------------------------------------------------------------------------- the whole report


def report_blocks(selection: Selection, w: FigureWriter, tsne: bool = True, run_figures: bool = True) -> list[Block]:
    """Every block of report.md, drawing the figures through ``w`` (``run_figures``: each run's own figures)."""
    runs = selection.runs
    schemes: dict[tuple[str, str, tuple[str, ...], str], list[Run]] = {}
    for r in runs:
        schemes.setdefault((r.source, r.target, r.classes, r.target_set), []).append(r)
    body: list[Block] = []
    for scheme_runs in schemes.values():
        body += scheme_section(w, scheme_runs, selection.single, tsne, aggregate=len(schemes) > 1,
                               run_figures=run_figures)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head: list[Block] = [
        Heading(1, f"sercross report: {selection.title}"),
        Paragraph(f"Generated {created} by sercross {__version__}. Selection: {selection.description}; "
                  f"{len(runs)} run(s), {len(schemes)} scheme(s)."),
        Paragraph("Target labels are used only to score and to colour t-SNE points; no number here selected a model. "
                  "Each run reports its last epoch. WAR, UAR and recalls are in percent; \"a ± b\" is the mean and "
                  "the sample standard deviation (ddof = 1) over seeds."
                  + (" The benchmark's full protocol, its cross-scheme Average, the paper's published numbers and "
                     "the separate oracle table are in its tables.md." if selection.kind == "benchmark" else "")),
        Heading(2, "Summary"),
        Table(SUMMARY_HEADERS, summary_rows(runs), SUMMARY_NUMERIC),
    ]
    if w.notes:
        head.append(Paragraph(f"{len(w.notes)} note(s) below say what could not be drawn."))
    if selection.skipped:
        head.append(Heading(3, "Run folders left out"))
        head.append(Table(["folder", "reason"], [[f"`{p}`", why] for p, why in selection.skipped]))
    from sercross.report.ceilings import ceiling_blocks  # it formats cells with this module's mean_sd

    return head + ceiling_blocks(runs, selection.ceilings) + body


def scheme_section(w: FigureWriter, runs: list[Run], single: bool, tsne: bool, aggregate: bool,
                   run_figures: bool = True) -> list[Block]:
    """The section of one scheme and class set: metrics, then its figures (``aggregate``: the report has several)."""
    blocks = _metrics(runs, aggregate) + _recall_figures(w, runs) + _tsne_figures(w, runs, single, tsne)
    blocks += _mean_confusions(w, runs)
    if not run_figures:
        blocks.append(w.note(f"{runs[0].scheme}: the confusion matrix and training curves of each run are skipped "
                             "(--no-run-figures); the summary table lists every run."))
        return blocks
    blocks.append(Heading(3, "Each run: confusion and training curves"))
    return blocks + [_run_details(w, r) for r in runs]


# --------------------------------------------------------------------------- metrics


def _metrics(runs: list[Run], aggregate: bool) -> list[Block]:
    first = runs[0]
    blocks: list[Block] = [
        Heading(2, f"{first.scheme}  ({', '.join(first.classes)})"),
        Paragraph(f"{_protocol(first)} Target (scored) corpus: {first.target}; "
                  f"{first.metrics.get('n', '?')} target utterances. WAR = accuracy (the paper's metric), "
                  "UAR = mean recall over classes; values in %, reported epoch: the last. "
                  f"Chance level with {len(first.classes)} classes: {chance(first.classes)} for the recall of each "
                  "class and for UAR (what guessing scores on average, and what always answering one class scores); "
                  "for WAR it depends on how the target's classes are balanced."),
        Heading(3, "Metrics on the target"),
    ]
    if aggregate:  # else the summary at the top is this very table
        blocks.append(Table(SUMMARY_HEADERS[1:], [row[1:] for row in summary_rows(runs)],
                            frozenset(i - 1 for i in SUMMARY_NUMERIC)))
    blocks.append(run_table(runs))
    return blocks


def _protocol(run: Run) -> str:
    """The protocol of a scheme's numbers, in words: its sources, and which target utterances the methods saw."""
    sources = run.source.split("+")
    if len(sources) > 1:
        text = (f"Protocol: several sources, the union of {', '.join(sources)} (each min-max scaled on its own) is the "
                "labelled source domain.")
    else:
        text = f"Protocol: one source. Source (labelled, training) corpus: {run.source}."
    if run.target_set == "all":
        return text + (" Target set all: every target utterance entered training unlabelled, whatever its class; "
                       "the scheme's classes are scored.")
    return text + " Target set shared (the paper's): the target utterances of the scheme's classes, unlabelled."


def run_table(runs: Sequence[Run]) -> Table:
    """One row per run: WAR, UAR and the recall of each class, with what the run was."""
    classes = runs[0].classes
    headers = ["method", "preset", "seed", "WAR %", "UAR %"] + [f"recall {c} %" for c in classes] + \
        ["n target", "epochs", "train s", "run folder"]
    rows = []
    for r in runs:
        rec = r.metrics.get("per_class_recall", {})
        epochs = r.config.get("train", {}).get("epochs", "") if r.is_network else "–"
        rows.append([r.method, r.preset, str(r.seed), pct(r.metrics["war"]), pct(r.metrics["uar"])]
                    + [pct(rec.get(c)) for c in classes]
                    + [str(r.metrics.get("n", "")), str(epochs), f"{r.config.get('train_seconds', float('nan')):.1f}",
                       f"`{r.shown_path}`"])
    return Table(headers, rows, frozenset(range(2, len(headers) - 1)))


# --------------------------------------------------------------------------- figures of a scheme


def _recall_figures(w: FigureWriter, runs: list[Run]) -> list[Block]:
    """Per-class recall, one figure per preset (methods side by side, mean over seeds)."""
    from sercross.report.plots import MAX_BARS, plot_recall_bars

    first = runs[0]
    by_preset: dict[str, list[Run]] = {}
    for r in runs:
        by_preset.setdefault(r.preset, []).append(r)
    blocks: list[Block] = [Heading(3, "Per-class recall")]
    for preset, rs in by_preset.items():
        w.progress(f"{first.scheme}: per-class recall ({preset})")
        rsum = recall_summary(rs)
        fig = plot_recall_bars(rsum.methods, rsum.classes, rsum.mean, rsum.sd, rsum.n_seeds, rsum.uar,
                               f"Per-class recall on the target — {first.scheme}, preset {preset} (mean over seeds)")
        if len(rsum.methods) > MAX_BARS:
            how = (f"Rows: methods, cells: mean ± sd over seeds; chance level {chance(rsum.classes)}, marked on the "
                   "colour bar.")
        else:
            how = ("Bars: mean over seeds, whiskers: ±1 sd over seeds (when there are several); dashed line: chance "
                   f"level, {chance(rsum.classes)}.")
        blocks.append(w.figure(fig, slug(first.source, first.target, "recall", preset),
                               f"per-class recall {first.scheme} {preset}",
                               f"Recall of each true class on {first.target}. {how}"))
    return blocks


def _tsne_figures(w: FigureWriter, runs: list[Run], single: bool, tsne: bool) -> list[Block]:
    """The paper's Figure 2: per preset, one seed's Only_cls, TLMLDA_M and TLMLDA side by side."""
    first = runs[0]
    if not tsne:
        return [w.note("t-SNE of the learned features (the paper's Figure 2): skipped (--no-tsne).")]
    blocks: list[Block] = [Heading(3, "t-SNE of the learned features (the paper's Figure 2)")]
    groups = figure2_groups(runs, [first.method] if single else [])
    if not groups:
        blocks.append(w.note(f"{first.scheme}: no run of {', '.join(FIGURE2_METHODS)} in this selection, so no "
                             "t-SNE (pca_svm has no 256-d learned features)."))
    for preset, seed, found in groups:
        blocks += _tsne_group(w, first, preset, seed, found, single)
    return blocks


def _tsne_group(w: FigureWriter, first: Run, preset: str, seed: int, found: dict[str, Run],
                single: bool) -> list[Block]:
    from sercross.report.plots import TsnePanel, plot_tsne

    scheme = first.scheme
    blocks: list[Block] = []
    panels, pair, drawn = [], None, {}
    missing = [m for m in FIGURE2_METHODS if m not in found]
    for method, run in found.items():
        w.progress(f"{scheme}: t-SNE of {method} ({preset}, seed {seed})")
        try:
            pair = w.pair(run)  # refused if the pair changed since this run was trained
            inp = tsne_inputs(run, pair)
        except SercrossError as exc:
            blocks.append(w.note(f"{scheme}, preset {preset}, seed {seed}: no t-SNE panel for {method}, "
                                 f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")))
            continue
        sxy, txy = embed(inp.source, inp.target)
        panels.append(TsnePanel(f"{method}  (target WAR {pct(run.metrics['war'])}%)", sxy, txy, inp.yt))
        drawn[method] = run
    if not panels:
        return blocks
    fig = plot_tsne(panels, pair.classes,
                    f"t-SNE of the learned 256-d features — {scheme}, preset {preset}, seed {seed}")
    order = f"Left to right: {', '.join(drawn)}." if len(drawn) > 1 else f"{', '.join(drawn)}."
    caption = (f"{order} Source utterances ({len(pair.ys)}) in grey, target utterances ({len(pair.yt)}) "
               "coloured by their true class (labels only colour the points). One joint t-SNE per panel "
               f"(scikit-learn, random_state={TSNE_SEED}).")
    blocks.append(w.figure(fig, slug(first.source, first.target, "tsne", preset, f"seed{seed}"), f"t-SNE {scheme}",
                           caption))
    if missing and single:
        blocks.append(w.note(f"a one-run report shows this run's panel only; `{report_command(first.config)}` puts "
                             f"{', '.join(FIGURE2_METHODS)} side by side (the paper's Figure 2) when their runs "
                             "exist."))
    elif missing:
        model = next(iter(found.values())).config
        cmds = "; ".join(f"`{run_command(model, method=m, seed=seed)}`" for m in missing)
        blocks.append(w.note(f"{scheme}, preset {preset}, seed {seed}: panel(s) {', '.join(missing)} omitted, "
                             f"no such run in this selection. Add them with {cmds}."))
    return blocks


def _mean_confusions(w: FigureWriter, runs: list[Run]) -> list[Block]:
    """Confusion averaged over the seeds of each (method, preset) that has several."""
    from sercross.report.plots import plot_confusion

    first = runs[0]
    groups: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.method, r.preset), []).append(r)
    multi = {k: rs for k, rs in groups.items() if len(rs) > 1}
    if not multi:
        return []
    blocks: list[Block] = [Heading(3, "Confusion on the target, averaged over seeds")]
    for (method, preset), rs in multi.items():
        w.progress(f"{first.scheme}: mean confusion of {method} ({preset})")
        cm = mean_confusion([confusion_counts(r) for r in rs])
        fig = plot_confusion(cm, row_normalise(cm), first.classes,
                             f"Confusion on the target — {first.scheme}, {method} (preset {preset}, "
                             f"mean of {len(rs)} seeds)", averaged_over=len(rs))
        blocks.append(w.figure(fig, slug(first.source, first.target, "confusion", method, preset, "mean"),
                               f"mean confusion {first.scheme} {method} {preset}",
                               f"Seeds {', '.join(str(r.seed) for r in rs)}. Left: mean counts (rows: true class, "
                               "columns: predicted); right: recall per true class (chance level "
                               f"{chance(first.classes)})."))
    return blocks


# --------------------------------------------------------------------------- each run


def _run_details(w: FigureWriter, r: Run) -> Details:
    """A collapsed section per run: its confusion, and its training curves (or what PCA+SVM chose)."""
    from sercross.report.plots import plot_confusion, plot_training_curves

    w.progress(f"{r.scheme}: figures of {r.label}")
    name = (r.source, r.target)
    inner: list[Block] = []
    cm = confusion_counts(r)
    fig = plot_confusion(cm, row_normalise(cm), r.classes,
                         f"Confusion on the target — {r.scheme}, {r.method} (preset {r.preset}, seed {r.seed})")
    inner.append(w.figure(fig, slug(*name, "confusion", r.method, r.preset, f"seed{r.seed}"),
                          f"confusion {r.scheme} {r.label}",
                          f"WAR {pct(r.metrics['war'])}%, UAR {pct(r.metrics['uar'])}%. Rows: true class, "
                          f"columns: predicted; right: recall per true class (chance level {chance(r.classes)})."))
    curves = training_curves(r)
    if curves is not None:
        fig = plot_training_curves(curves, f"Training curves — {r.scheme}, {r.method} (preset {r.preset}, "
                                           f"seed {r.seed})")
        inner.append(w.figure(fig, slug(*name, "curves", r.method, r.preset, f"seed{r.seed}"),
                              f"training curves {r.scheme} {r.label}",
                              "Per epoch (means over its steps): the losses L_i of the method, their weights w_i, "
                              "the effective terms w_i·L_i, source training accuracy, and the target WAR — "
                              "monitoring only, never used for selection (the reported model is the last epoch's)."))
    elif r.is_network:
        inner.append(w.note(f"{r.label}: no per-epoch history.csv to plot."))
    else:
        chosen = ", ".join(f"{k} = {v}" for k, v in (r.config.get("chosen") or {}).items()) or "?"
        n_pca = r.config.get("n_components", "?")
        inner.append(Paragraph(f"{r.method} trains no epochs, so there are no training curves; chosen on the source "
                               f"by speaker-grouped cross-validation: {chosen}, {n_pca} PCA components (grid in "
                               "history.csv)."))
    return Details(f"{r.method}, preset {r.preset}, seed {r.seed}: WAR {pct(r.metrics['war'])}%, "
                   f"UAR {pct(r.metrics['uar'])}%", inner)
