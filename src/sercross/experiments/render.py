"""A benchmark's tables document (:func:`sercross.experiments.tables.build_tables`) written out: Markdown, a tidy
CSV (one row per cell), JSON, and rich tables for the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from sercross.experiments.paper import PAPER_SCHEME_NAMES, PAPER_TABLES
from sercross.experiments.schemes import scheme_name_label
from sercross.experiments.selection_tables import selection_md
from sercross.experiments.tables import AVERAGE
from sercross.infra import atomic_write_csv, atomic_write_json, atomic_write_text
from sercross.methods import TrainConfig, get_method

METRIC_TITLES = {"war": "WAR", "uar": "UAR", "oracle_war": "oracle WAR"}
TABLES_CSV_HEADER = ("table", "metric", "method", "scheme", "label", "mean", "std", "n", "expected", "cell")


def _isnum(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def format_cell(c: dict, column: str = "") -> str:
    if c["n"] == 0 or not _isnum(c["mean"]):
        return "failed" if c.get("failed") else "—"
    text = f"{c['mean']:.2f}"
    if _isnum(c.get("std")) and c["n"] > 1:
        text += f" ± {c['std']:.2f}"
    if column != AVERAGE and c["n"] < c["expected"]:
        text += f" ({c['n']}/{c['expected']})"
    if column == AVERAGE and c.get("schemes_with_results") is not None:
        text += f" [{c['schemes_with_results']} schemes]"
    return text


def _fmt_diff(v) -> str:
    if not _isnum(v):
        return "—"
    return f"{v:+.2f}".replace("-", "−")


def _md_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def chance_cells(doc: dict) -> list[str]:
    """Each column's chance level in percent (1/k for k classes; the Average column: their mean)."""
    values = [c.get("chance") for c in doc["columns"] if c["scheme"] != AVERAGE]
    cells = [f"{v:.2f}" if _isnum(v) else "—" for v in values]
    if any(c["scheme"] == AVERAGE for c in doc["columns"]):
        known = [v for v in values if _isnum(v)]
        cells.append(f"{sum(known) / len(known):.2f}" if known else "—")
    return cells


CHANCE_ROW = "*chance (1/classes)*"


def _our_table_md(doc: dict, group: dict) -> str:
    cols = doc["columns"]
    body = [[m] + [format_cell(group["cells"][m][c["scheme"]], c["scheme"]) for c in cols] for m in group["methods"]]
    body.append([CHANCE_ROW] + chance_cells(doc))
    return _md_table(["Method"] + [c["label"] for c in cols], body)


def _paper_table_md(doc: dict, g: str) -> str | None:
    shown = doc["paper"]["schemes_in_this_benchmark"]
    if not shown or g not in doc["paper"]["tables"]:
        return None
    rows = doc["paper"]["tables"][g]["rows"]
    cols = shown + [AVERAGE]
    body = [[r] + [f"{vals[c]:.2f}" for c in cols] for r, vals in rows.items()]
    # The paper's Average is over its six schemes: not comparable with ours when fewer are shown.
    average = AVERAGE if len(shown) == len(PAPER_SCHEME_NAMES) else f"{AVERAGE} (paper: all 6 schemes)"
    return _md_table(["Algorithm (paper)"] + [scheme_name_label(c) if c != AVERAGE else average for c in cols], body)


def _diff_table_md(doc: dict, g: str) -> str | None:
    diff = doc["difference"].get(g)
    shown = doc["paper"]["schemes_in_this_benchmark"]
    if not diff or not shown:
        return None
    cols = shown + [AVERAGE]
    body = [[f"{m} − {d['paper_row']}"] + [_fmt_diff(d["cells"].get(c)) for c in cols] for m, d in diff["rows"].items()]
    return _md_table(["ours − paper"] + [scheme_name_label(c) if c != AVERAGE else c for c in cols], body)


def render_markdown(doc: dict) -> str:
    out = [f"# Benchmark `{doc['name']}`", ""] + _protocol_md(doc)
    for metric in ("war", "uar"):
        out += _metric_md(doc, metric)
    if doc.get("in_corpus"):
        out += _in_corpus_md(doc)
    if doc["oracle"]["methods"]:
        out += _oracle_md(doc)
    if doc.get("selection"):
        out += selection_md(doc["selection"], scheme_name_label)
    if doc["failures"]:
        out += ["## Failed or missing runs", ""]
        out += [f"- {f['method']} {scheme_name_label(f['scheme'])} seed {f['seed']}: {f['status']}: {f['error']}"
                for f in doc["failures"]]
        out.append("")
    if doc["grid"].get("skipped"):
        out += ["## Skipped schemes", ""]
        out += [f"- {s['scheme']}: {s['reason']}" for s in doc["grid"]["skipped"]]
        out.append("")
    paper_shown = doc["paper"]["schemes_in_this_benchmark"] and any(g in PAPER_TABLES for g in doc["tables"]["war"])
    notes = doc["notes"] + (doc["paper"]["notes"] if paper_shown else [])
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


def _protocol_md(doc: dict) -> list[str]:
    p = doc["protocol"]
    out = ["## Protocol", ""]
    out += [
        f"- **Metric**: {p['metric']}",
        f"- **Reported epoch**: {p['reported_epoch']}.",
        f"- **Normalization**: {p['normalization']}.",
        *([f"- **Target set**: {p['target_set']}."] if p.get("target_set") else []),
        *([f"- **Several sources**: {p['sources']}."] if p.get("sources") else []),
        f"- **Selection**: {p['selection']}.",
        f"- **Seeds**: {p['seeds']}; each cell is mean ± std over them; {p['std']}.",
        f"- **Average**: {p['average']}.",
        f"- **Preset**: {p['preset']}; features: {p['features']}.",
    ]
    out += [f"- **{m['label']}**: {m['text']}" for m in p.get("methods", [])]
    out += [
        "",
        "| scheme | source → target | classes | chance % | source / target utterances |",
        "|---|---|---|---:|---:|",
    ]
    for s in doc["grid"]["schemes"]:
        label = s.get("label") or scheme_name_label(s["name"])
        out.append(f"| {label} | {s['source']} → {s['target']} | {', '.join(s['classes'])} "
                   f"({len(s['classes'])}) | {100 / len(s['classes']):.2f} | {s['n_source']} / {s['n_target']} |")
    out.append("")
    return out


def _metric_md(doc: dict, metric: str) -> list[str]:
    """Our tables of one metric; under each WAR table, the paper's and the difference when it has that table."""
    title = METRIC_TITLES[metric]
    out = [f"## {title} (%), ours: mean ± std over seeds, last epoch", ""]
    for g, group in doc["tables"][metric].items():
        out += [f"### {title}: {group['title']}", "", _our_table_md(doc, group), ""]
        if metric == "war":
            paper = _paper_table_md(doc, g)
            if paper:
                out += [f"**Published, not ours**: {doc['paper']['tables'][g]['title']} "
                        f"({doc['paper']['citation']}). One number per cell, no seeds.", "", paper, ""]
            diff = _diff_table_md(doc, g)
            if diff:
                out += [f"**Difference**: {doc['difference'][g]['title']}; the Average difference needs all "
                        "six paper schemes.", "", diff, ""]
    if metric == "uar":
        out += ["The paper reports no UAR.", ""]
    return out


def _in_corpus_md(doc: dict) -> list[str]:
    ref = doc["in_corpus"]
    cols = [c for c in doc["columns"] if c["scheme"] != AVERAGE]
    folds = "; ".join(f"{corpus}: {how}" for corpus, how in ref["folds"].items())
    out = ["## In-corpus ceiling and cross-corpus gap", "", f"{ref['title']}. Folds: {folds}.", ""]
    for metric in ("war", "uar"):
        title = METRIC_TITLES[metric]
        body = [[f"{m} (in-corpus)"] + [format_cell(ref["cells"][metric][m][c["scheme"]], c["scheme"]) for c in cols]
                for m in ref["methods"]]
        out += [f"### {title} (%): in-corpus ceiling of each column's target", "",
                _md_table(["Reference"] + [c["label"] for c in cols], body), ""]
        gap = ref["gap"][metric]
        body = [[m] + [_fmt_diff(gap[m][c["scheme"]]) for c in cols] for m in gap]
        out += [f"### {title} gap: cross-corpus mean − best in-corpus ceiling (percentage points)", "",
                _md_table(["Method"] + [c["label"] for c in cols], body), ""]
    return out


def _oracle_md(doc: dict) -> list[str]:
    group = {"methods": doc["oracle"]["methods"], "cells": doc["oracle"]["cells"]}
    out = [
        "## Oracle (for comparison only; not the protocol)", "",
        "WAR (%) at the best epoch chosen **on the target labels** (history.csv, `target_war_monitor`): "
        "this is how the authors' public code reports its numbers. It selects on the test set, so it "
        "overstates what a method achieves; the tables above are the results. Network methods only "
        "(pca_svm has no epochs).", "",
        _our_table_md(doc, group), "",
    ]
    recipes = doc["grid"].get("recipes") or {}
    adabn = [m for m in doc["oracle"]["methods"]
             if (recipes.get(m, {}).get("config") or get_method(m).configure(TrainConfig()).to_dict())["adabn"]]
    if adabn:
        out += [f"The per-epoch monitor scores the network as it trains, before the AdaBN step that ends the "
                f"training of {', '.join(adabn)}: their oracle rows are those of the network without AdaBN, "
                "while their rows above include it.", ""]
    return out


def tidy_rows(doc: dict) -> list[list]:
    """The tables as CSV rows (one per cell): table, metric, method, scheme, label, mean, std, n, expected, cell."""
    def num(v):
        return "" if not _isnum(v) else round(v, 4)

    cols = [c["scheme"] for c in doc["columns"]]
    out = []
    for metric, groups in doc["tables"].items():
        for g, group in groups.items():
            for m in group["methods"]:
                for s in cols:
                    c = group["cells"][m][s]
                    out.append([f"ours_{g}", metric, m, s, _label_any(s, doc), num(c["mean"]), num(c["std"]), c["n"],
                                c["expected"], format_cell(c, s)])
    for s, chance in zip(cols, chance_cells(doc)):
        out.append(["chance", "", "1/classes", s, _label_any(s, doc), "" if chance == "—" else float(chance), "", "",
                    "", chance])
    for m in doc["oracle"]["methods"]:
        for s in cols:
            c = doc["oracle"]["cells"][m][s]
            out.append(["oracle", "war", m, s, _label_any(s, doc), num(c["mean"]), num(c["std"]), c["n"], c["expected"],
                        format_cell(c, s)])
    for metric, cells in (doc.get("in_corpus") or {}).get("cells", {}).items():
        for m, by_col in cells.items():
            for s in cols:
                c = by_col[s]
                out.append(["in_corpus", metric, m, s, _label_any(s), num(c["mean"]), num(c["std"]), c["n"],
                            c["expected"], format_cell(c, s)])
    shown = doc["paper"]["schemes_in_this_benchmark"]
    for g, t in doc["paper"]["tables"].items():
        for row, vals in t["rows"].items():
            for s in shown + [AVERAGE]:
                out.append([f"paper_{g}", "war", row, s, _label_any(s, doc), vals[s], "", "", "", f"{vals[s]:.2f}"])
    for g, t in doc["difference"].items():
        for m, d in t["rows"].items():
            for s in shown + [AVERAGE]:
                v = d["cells"].get(s)
                out.append([f"diff_{g}", "war", m, s, _label_any(s, doc), num(v), "", "", "", _fmt_diff(v)])
    return out


def _label_any(s: str, doc: dict | None = None) -> str:
    for c in (doc or {}).get("columns", []):
        if c["scheme"] == s:
            return c["label"]
    return s if s == AVERAGE else scheme_name_label(s)


def write_tables(out_dir: Path, doc: dict) -> dict[str, Path]:
    out_dir = Path(out_dir)
    paths = {"md": out_dir / "tables.md", "csv": out_dir / "tables.csv", "json": out_dir / "tables.json"}
    atomic_write_text(paths["md"], render_markdown(doc))
    atomic_write_csv(paths["csv"], TABLES_CSV_HEADER, tidy_rows(doc))
    atomic_write_json(paths["json"], doc)
    return paths


def rich_table(doc: dict, metric: str, keep: Sequence[int] | None = None):
    """One rich table of a metric with every method (the Table 3 group, a rule, then the Table 4 group); ``keep``:
    the indices of the columns shown (default: all)."""
    from rich.markup import escape
    from rich.table import Table

    groups = doc["tables"][metric]
    seeds = len(doc["grid"]["seeds"])
    columns = doc["columns"]
    keep = list(range(len(columns)) if keep is None else keep)
    part = "" if len(keep) == len(columns) else f" (columns {keep[0] + 1}–{keep[-1] + 1} of {len(columns)})"
    t = Table(title=f"{METRIC_TITLES[metric]} % on the target: mean ± std over {seeds} seed(s), last epoch{part}",
              header_style="bold")
    t.add_column("method")
    for i in keep:
        t.add_column(escape(columns[i]["label"]), justify="right")
    shown: set[str] = set()
    for group in groups.values():
        ms = [m for m in group["methods"] if m not in shown]
        for i, m in enumerate(ms):
            shown.add(m)
            cells = [format_cell(group["cells"][m][columns[k]["scheme"]], columns[k]["scheme"]) for k in keep]
            t.add_row(escape(m), *cells, end_section=(i == len(ms) - 1))
    ref = doc.get("in_corpus")
    if ref:
        for m in ref["methods"]:
            cells = [format_cell(ref["cells"][metric][m][columns[k]["scheme"]], columns[k]["scheme"]) for k in keep]
            t.add_row(escape(f"{m} (in-corpus ceiling)"), *cells, style="dim")
        t.rows[-1].end_section = True
    chance = chance_cells(doc)
    t.add_row("chance (1/classes)", *(chance[k] for k in keep), style="dim")
    return t


CELL_WIDTH = 16  # "30.51 ± 1.23" with the table's padding and rule


def rich_tables(doc: dict, metric: str, width: int) -> list:
    """:func:`rich_table` split into tables that each fit ``width`` characters, the scheme columns in groups and the
    method column in every one (a grid of 24 schemes in one table cuts every cell to an ellipsis)."""
    names = [m for g in doc["tables"][metric].values() for m in g["methods"]]
    names += [f"{m} (in-corpus ceiling)" for m in (doc.get("in_corpus") or {}).get("methods", [])]
    first = max(len(n) for n in [*names, "chance (1/classes)"]) + 4
    n = len(doc["columns"])
    per = max(1, (width - first) // CELL_WIDTH)
    return [rich_table(doc, metric, range(i, min(i + per, n))) for i in range(0, n, per)]
