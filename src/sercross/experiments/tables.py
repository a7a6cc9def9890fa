"""Benchmark tables in the layout of the paper's Tables 3 and 4: Markdown, CSV, JSON and rich.

Rows are methods, columns the schemes and their Average; every cell of *our* tables is mean ± sample std
(ddof = 1) over seeds, in percent, at the last epoch. The paper's published numbers are kept in their own,
labelled tables (never in our cells), next to the difference ours − published. An "oracle" table (the best
epoch by target WAR, how the authors' public code reports its numbers) is shown apart, for comparison only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from sercross.experiments.benchmark import PAPER_SCHEMES, aggregate, aggregate_oracle, scheme_label
from sercross.infra import atomic_write_csv, atomic_write_json, atomic_write_text
from sercross.methods import DEFAULT_ALPHA, METHODS, PAPER_CS, PCA_VARIANCE, TrainConfig, get_method

PAPER_CITATION = (
    "H. Tao, Y. Wang, Z. Zhuang, H. Fu, X. Guo, S. Zou. Cross-Corpus Speech Emotion Recognition Based on "
    "Transfer Learning and Multi-Loss Dynamic Adjustment. Computational Intelligence and Neuroscience, 2022"
)
# Transcribed from the paper (Tables 3 and 4, WAR in %), columns E→B, B→E, E→C, C→E, B→C, C→B, Average.
# The Average is the paper's printed value (not recomputed here).
PAPER_SCHEME_NAMES = tuple(f"{s}:{t}" for s, t in PAPER_SCHEMES)
PAPER_TABLE3: dict[str, tuple[float, ...]] = {
    "TLMLDA_w": (51.95, 31.15, 31.10, 30.40, 32.70, 53.53, 38.51),
    "TLMLDA_α": (46.62, 34.33, 31.60, 30.67, 32.70, 53.13, 38.18),
    "TLMLDA_L": (36.76, 21.12, 28.70, 28.01, 20.05, 42.71, 29.56),
    "TLMLDA_M": (54.08, 38.28, 34.90, 29.23, 32.70, 54.33, 40.58),
    "TLMLDA": (58.93, 43.16, 35.40, 32.74, 41.00, 57.11, 44.72),
}
PAPER_TABLE4: dict[str, tuple[float, ...]] = {
    "PCA + SVM": (50.85, 33.48, 28.40, 27.61, 33.13, 43.38, 36.14),
    "DoSL [14]": (50.55, 33.03, 35.20, 33.81, 39.23, 53.20, 40.84),
    "TSDSL [17]": (47.41, 35.44, 32.50, 33.25, 37.40, 56.74, 40.46),
    "JDAR [18]": (48.74, 38.14, 30.30, 28.43, 38.60, 49.58, 38.97),
    "DBN + BP [28]": (29.86, 32.21, 24.20, 31.02, 35.80, 49.59, 33.78),
    "TLMLDA": (58.93, 43.16, 35.40, 32.74, 41.00, 57.11, 44.72),
}
PAPER_TABLES = {"table3": PAPER_TABLE3, "table4": PAPER_TABLE4}
# Our method -> its row in the paper.
PAPER_ROW = {
    "tlmlda_w": "TLMLDA_w", "tlmlda_alpha": "TLMLDA_α", "tlmlda_l": "TLMLDA_L", "tlmlda_m": "TLMLDA_M",
    "tlmlda": "TLMLDA", "pca_svm": "PCA + SVM",
}
TABLE3_METHODS = ("tlmlda_w", "tlmlda_alpha", "tlmlda_l", "tlmlda_m", "tlmlda")
TABLE4_FIRST = ("pca_svm", "only_cls")
TABLE_TITLES = {
    "table3": "ablations, layout of the paper's Table 3",
    "table4": "comparison with baselines, layout of the paper's Table 4",
    "ours": "TLMLDA+ (ours, not in the paper) and its ablations",
}
OUR_GROUPS = ("ours", "ours_ablation")
AVERAGE = "Average"
METRIC_TITLES = {"war": "WAR", "uar": "UAR", "oracle_war": "oracle WAR"}
STD_NOTE = "std = sample standard deviation over seeds (ddof = 1)"


def table_methods(methods: Sequence[str]) -> dict[str, list[str]]:
    """Which of our methods go in which table (TLMLDA closes both, as in the paper); empty tables dropped."""
    t3 = [m for m in TABLE3_METHODS if m in methods]
    ours = [m for m in methods if m in METHODS and METHODS[m].group in OUR_GROUPS]
    rest = [m for m in methods if m not in TABLE3_METHODS and m not in ours]
    t4 = [m for m in TABLE4_FIRST if m in rest] + [m for m in rest if m not in TABLE4_FIRST]
    if t4 and "tlmlda" in methods:
        t4.append("tlmlda")
    out = {"table3": t3, "table4": t4, "ours": ours}
    return {k: v for k, v in out.items() if v}


def paper_rows_consistency() -> list[str]:
    """Rows whose printed Average is not the mean of their six values (beyond rounding)."""
    notes = []
    for name, table in (("Table 3", PAPER_TABLE3), ("Table 4", PAPER_TABLE4)):
        for row, vals in table.items():
            mean = sum(vals[:6]) / 6
            if abs(mean - vals[6]) > 0.01:
                notes.append(
                    f"the paper's {name} prints {vals[6]:.2f} as the Average of {row}; the mean of its six "
                    f"values is {mean:.2f} (transcribed as printed)"
                )
    return notes


# ------------------------------------------------------------------------------------------- document


def build_tables(rows: Sequence[dict], meta: dict) -> dict:
    """The JSON document of a benchmark: protocol, our tables, the paper's, differences, oracle, failures.

    ``meta``: name, tag, preset, config (TrainConfig as a dict), feature_set, seeds, methods, schemes (dicts
    with name, source, target, classes, n_source, n_target), skipped (dicts with scheme, reason), and
    optionally jobs, threads, sercross_version, created.
    """
    schemes = [s["name"] for s in meta["schemes"]]
    methods, seeds = list(meta["methods"]), list(meta["seeds"])
    groups = table_methods(methods)
    doc: dict = {
        "name": meta["name"],
        "created": meta.get("created"),
        "sercross_version": meta.get("sercross_version"),
        "unit": "percent",
        "std": "sample (ddof=1) over seeds; null with a single seed",
        "protocol": protocol(meta),
        "grid": {k: meta.get(k) for k in ("preset", "tag", "config", "feature_set", "seeds", "methods",
                                          "schemes", "skipped", "jobs", "threads")},
        "columns": [{"scheme": s, "label": _label(s)} for s in schemes] + [{"scheme": AVERAGE, "label": AVERAGE}],
        "tables": {},
        "oracle": {},
        "paper": {},
        "difference": {},
    }
    for metric in ("war", "uar"):
        agg = aggregate(rows, metric, schemes, methods, seeds)
        doc["tables"][metric] = {
            g: {"title": TABLE_TITLES[g], "methods": ms, "cells": {m: _cells(agg[m]) for m in ms}}
            for g, ms in groups.items()
        }
    ordered = list(dict.fromkeys(m for ms in groups.values() for m in ms))
    oracle = aggregate_oracle(rows, schemes, ordered, seeds)
    doc["oracle"] = {
        "title": "oracle: best epoch chosen by target WAR (history.csv target_war_monitor), NOT the protocol; "
        "network methods only (pca_svm has no epochs)",
        "methods": list(oracle),
        "cells": {m: _cells(c) for m, c in oracle.items()},
    }
    doc["paper"] = _paper_section(schemes)
    war = aggregate(rows, "war", schemes, methods, seeds)
    doc["difference"] = _differences(war, groups, schemes)
    doc["failures"] = [
        {k: r.get(k) for k in ("scheme", "method", "seed", "status", "error", "run_dir")}
        for r in rows if r.get("status") in ("failed", "missing")
    ]
    doc["notes"] = _notes(doc, rows)
    return doc


def _label(scheme: str) -> str:
    s, t = scheme.split(":", 1)
    return scheme_label(s, t)


def _cells(cells: dict) -> dict:
    return {k: c.to_dict() for k, c in cells.items()}


def _paper_section(schemes: Sequence[str]) -> dict:
    shown = [s for s in PAPER_SCHEME_NAMES if s in schemes]
    tables = {}
    for g, table in PAPER_TABLES.items():
        tables[g] = {
            "title": f"Tao et al. (2022), Table {g[-1]}, WAR %",
            "rows": {row: {**dict(zip(PAPER_SCHEME_NAMES, vals[:6])), AVERAGE: vals[6]} for row, vals in table.items()},
        }
    return {
        "citation": PAPER_CITATION,
        "metric": "WAR (%)",
        "protocol": "as published; the paper reports one number per cell (no seeds or std) and does not say "
        "which epoch it reports",
        "schemes_in_this_benchmark": shown,
        "tables": tables,
        "notes": paper_rows_consistency(),
    }


def _differences(war: dict, groups: dict, schemes: Sequence[str]) -> dict:
    """ours − published (percentage points) for our methods that the paper has, on the paper's schemes."""
    shown = [s for s in PAPER_SCHEME_NAMES if s in schemes]
    out = {}
    for g, ms in groups.items():
        if g not in PAPER_TABLES:
            continue
        table = PAPER_TABLES[g]
        cells = {}
        for m in ms:
            row = PAPER_ROW.get(m)
            if row not in table:
                continue
            paper = dict(zip(PAPER_SCHEME_NAMES, table[row][:6]))
            d = {s: (None if war[m][s].mean is None else round(war[m][s].mean - paper[s], 6)) for s in shown}
            complete = len(shown) == 6 and all(war[m][s].n > 0 for s in PAPER_SCHEME_NAMES)
            # Our Average over the six paper schemes only (the benchmark may have others too).
            ours_avg = sum(war[m][s].mean for s in PAPER_SCHEME_NAMES) / 6 if complete else None
            d[AVERAGE] = None if ours_avg is None else round(ours_avg - table[row][6], 6)
            cells[m] = {"paper_row": row, "cells": d}
        if cells:
            out[g] = {"title": f"ours − published (WAR, percentage points), paper Table {g[-1]}", "rows": cells}
    return out


def protocol(meta: dict) -> dict:
    cfg = meta.get("config") or {}
    seeds = list(meta["seeds"])
    return {
        "metric": "WAR = accuracy over all target utterances (the paper's metric); UAR = mean per-class recall "
        "on the target. Both in percent.",
        "reported_epoch": f"the last (epoch {cfg.get('epochs')} of {cfg.get('epochs')}); no early stopping, "
        "no checkpoint chosen on the target",
        "normalization": "min-max to [0, 1] per corpus (source and target each scaled on their own utterances "
        "of the scheme's classes; target labels are not used)",
        "selection": "network methods: none on the target; fixed preset hyper-parameters and the paper's "
        f"per-scheme alpha for (L_S, L_T, L_y, MMD, LMMD) (schemes outside the paper, and TLMLDA+ everywhere: "
        f"{tuple(DEFAULT_ALPHA)}). pca_svm: PCA size "
        f"({'/'.join(f'{v:.0%}' for v in PCA_VARIANCE)} variance) and C in {{{', '.join(f'{c:g}' for c in PAPER_CS)}}} "
        "chosen by leave-one-speaker-out UAR on the source (grouped 10-fold when the source has more than "
        "10 speakers)",
        "seeds": f"{len(seeds)} ({', '.join(map(str, seeds))})",
        "preset": f"{meta.get('tag')} (preset {meta.get('preset')}: lr {cfg.get('lr')}, batch "
        f"{cfg.get('batch_size')}, {cfg.get('epochs')} epochs)",
        "features": f"openSMILE {meta.get('feature_set')}",
        "std": f"{STD_NOTE}; a cell with a single seed shows the mean alone",
        "average": "Average = mean of the scheme means (as the paper averages its six schemes); its ± is the "
        "sample std over seeds of the per-seed average across schemes",
    }


def _notes(doc: dict, rows: Sequence[dict]) -> list[str]:
    notes = []
    cells = [c for t in doc["tables"].values() for g in t.values() for m in g["cells"].values() for c in m.values()]
    if any(c["n"] == 1 for c in cells):
        notes.append("a cell showing the mean alone has a single seed (no std)")
    if any(0 < c["n"] < c["expected"] for c in cells):
        notes.append("(n/N): only n of the N seeds have a result (the others failed or are missing, see below)")
    if any(c.get("schemes_with_results") is not None for c in cells):
        notes.append("[k/K schemes]: the Average covers only the k schemes with results")
    if any(c["n"] == 0 for c in cells):
        notes.append("—: no result (failed: every seed failed)")
    constant = sorted({m for t in doc["tables"].values() for g in t.values() for m, cs in g["cells"].items()
                       if any(c["n"] > 1 and c["std"] == 0 for c in cs.values())})
    if constant:
        why = "; pca_svm's PCA and SVM do not depend on the seed" if any(m.startswith("pca_svm") for m in constant) \
            else ""
        notes.append(f"± 0.00: every seed gave the same result in that cell ({', '.join(constant)}{why})")
    collapsed: dict[tuple[str, str], list[bool]] = {}
    for r in rows:
        if r.get("predicted_classes") not in (None, "") and r.get("war") not in (None, ""):
            one = int(float(r["predicted_classes"])) == 1
            collapsed.setdefault((r["method"], r["scheme"]), []).append(one)
    for (method, scheme), flags in collapsed.items():
        if any(flags):
            notes.append(f"{method} on {_label(scheme)}: {sum(flags)} of {len(flags)} seeds predict one class for the "
                         "whole target (collapsed; its WAR is then that class's share of the target)")
    return notes


# ------------------------------------------------------------------------------------------ formatting


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


def _our_table_md(doc: dict, group: dict) -> str:
    cols = doc["columns"]
    body = [[m] + [format_cell(group["cells"][m][c["scheme"]], c["scheme"]) for c in cols] for m in group["methods"]]
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
    return _md_table(["Algorithm (paper)"] + [_label(c) if c != AVERAGE else average for c in cols], body)


def _diff_table_md(doc: dict, g: str) -> str | None:
    diff = doc["difference"].get(g)
    shown = doc["paper"]["schemes_in_this_benchmark"]
    if not diff or not shown:
        return None
    cols = shown + [AVERAGE]
    body = [[f"{m} − {d['paper_row']}"] + [_fmt_diff(d["cells"].get(c)) for c in cols] for m, d in diff["rows"].items()]
    return _md_table(["ours − paper"] + [_label(c) if c != AVERAGE else c for c in cols], body)


def render_markdown(doc: dict) -> str:
    p = doc["protocol"]
    out = [f"# Benchmark `{doc['name']}`", ""]
    out += ["## Protocol", ""]
    out += [
        f"- **Metric**: {p['metric']}",
        f"- **Reported epoch**: {p['reported_epoch']}.",
        f"- **Normalization**: {p['normalization']}.",
        f"- **Selection**: {p['selection']}.",
        f"- **Seeds**: {p['seeds']}; each cell is mean ± std over them; {p['std']}.",
        f"- **Average**: {p['average']}.",
        f"- **Preset**: {p['preset']}; features: {p['features']}.",
        "",
        "| scheme | source → target | classes | source / target utterances |",
        "|---|---|---|---:|",
    ]
    for s in doc["grid"]["schemes"]:
        out.append(f"| {_label(s['name'])} | {s['source']} → {s['target']} | {', '.join(s['classes'])} | "
                   f"{s['n_source']} / {s['n_target']} |")
    out.append("")
    for metric in ("war", "uar"):
        title = METRIC_TITLES[metric]
        out += [f"## {title} (%), ours: mean ± std over seeds, last epoch", ""]
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
    if doc["oracle"]["methods"]:
        group = {"methods": doc["oracle"]["methods"], "cells": doc["oracle"]["cells"]}
        out += [
            "## Oracle (for comparison only; not the protocol)", "",
            "WAR (%) at the best epoch chosen **on the target labels** (history.csv, `target_war_monitor`): "
            "this is how the authors' public code reports its numbers. It selects on the test set, so it "
            "overstates what a method achieves; the tables above are the results. Network methods only "
            "(pca_svm has no epochs).", "",
            _our_table_md(doc, group), "",
        ]
        adabn = [m for m in doc["oracle"]["methods"] if get_method(m).configure(TrainConfig()).adabn]
        if adabn:
            out += [f"The per-epoch monitor scores the network as it trains, before the AdaBN step that ends the "
                    f"training of {', '.join(adabn)}: their oracle rows are those of the network without AdaBN, "
                    "while their rows above include it.", ""]
    if doc["failures"]:
        out += ["## Failed or missing runs", ""]
        out += [f"- {f['method']} {_label(f['scheme'])} seed {f['seed']}: {f['status']}: {f['error']}"
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


TABLES_CSV_HEADER = ("table", "metric", "method", "scheme", "label", "mean", "std", "n", "expected", "cell")


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
                    out.append([f"ours_{g}", metric, m, s, _label_any(s), num(c["mean"]), num(c["std"]), c["n"],
                                c["expected"], format_cell(c, s)])
    for m in doc["oracle"]["methods"]:
        for s in cols:
            c = doc["oracle"]["cells"][m][s]
            out.append(["oracle", "war", m, s, _label_any(s), num(c["mean"]), num(c["std"]), c["n"], c["expected"],
                        format_cell(c, s)])
    shown = doc["paper"]["schemes_in_this_benchmark"]
    for g, t in doc["paper"]["tables"].items():
        for row, vals in t["rows"].items():
            for s in shown + [AVERAGE]:
                out.append([f"paper_{g}", "war", row, s, _label_any(s), vals[s], "", "", "", f"{vals[s]:.2f}"])
    for g, t in doc["difference"].items():
        for m, d in t["rows"].items():
            for s in shown + [AVERAGE]:
                v = d["cells"].get(s)
                out.append([f"diff_{g}", "war", m, s, _label_any(s), num(v), "", "", "", _fmt_diff(v)])
    return out


def _label_any(s: str) -> str:
    return s if s == AVERAGE else _label(s)


def write_tables(out_dir: Path, doc: dict) -> dict[str, Path]:
    out_dir = Path(out_dir)
    paths = {"md": out_dir / "tables.md", "csv": out_dir / "tables.csv", "json": out_dir / "tables.json"}
    atomic_write_text(paths["md"], render_markdown(doc))
    atomic_write_csv(paths["csv"], TABLES_CSV_HEADER, tidy_rows(doc))
    atomic_write_json(paths["json"], doc)
    return paths


def rich_table(doc: dict, metric: str):
    """One rich table of a metric with every method (the Table 3 group, a rule, then the Table 4 group)."""
    from rich.table import Table

    groups = doc["tables"][metric]
    seeds = len(doc["grid"]["seeds"])
    t = Table(title=f"{METRIC_TITLES[metric]} % on the target: mean ± std over {seeds} seed(s), last epoch",
              header_style="bold")
    t.add_column("method")
    for c in doc["columns"]:
        t.add_column(c["label"], justify="right")
    shown: set[str] = set()
    for gi, group in enumerate(groups.values()):
        ms = [m for m in group["methods"] if m not in shown]
        for i, m in enumerate(ms):
            shown.add(m)
            cells = [format_cell(group["cells"][m][c["scheme"]], c["scheme"]) for c in doc["columns"]]
            t.add_row(m, *cells, end_section=(i == len(ms) - 1 and gi < len(groups) - 1))
    return t
