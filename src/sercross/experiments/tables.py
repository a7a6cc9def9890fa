"""Benchmark tables as one JSON document in the layout of the paper's Tables 3 and 4; :mod:`.render` writes it out.

Rows are methods, columns the schemes and their Average; every cell of *our* tables is mean ± sample std
(ddof = 1) over seeds, in percent, at the last epoch. The paper's published numbers are kept in their own,
labelled tables (never in our cells), next to the difference ours − published. An "oracle" table (the best
epoch by target WAR, how the authors' public code reports its numbers) is shown apart, for comparison only.
"""

from __future__ import annotations

from collections.abc import Sequence

from sercross.experiments.aggregation import aggregate, aggregate_oracle
from sercross.experiments.paper import (
    PAPER_CITATION,
    PAPER_ROW,
    PAPER_SCHEME_NAMES,
    PAPER_TABLES,
    paper_rows_consistency,
)
from sercross.experiments.schemes import scheme_name_label
from sercross.experiments.selection_tables import selection_section
from sercross.methods import DEFAULT_ALPHA, METHODS, PAPER_CS, PCA_VARIANCE

TABLE3_METHODS = ("tlmlda_w", "tlmlda_alpha", "tlmlda_l", "tlmlda_m", "tlmlda")
TABLE4_FIRST = ("pca_svm", "only_cls")
TABLE_TITLES = {
    "table3": "ablations, layout of the paper's Table 3",
    "table4": "comparison with baselines, layout of the paper's Table 4",
    "ours": "TLMLDA+ (ours, not in the paper) and its ablations",
}
OUR_GROUPS = ("ours", "ours_ablation")
AVERAGE = "Average"
STD_NOTE = "std = sample standard deviation over seeds (ddof = 1)"


def base_methods(meta: dict) -> dict[str, str]:
    """Each row of a benchmark (a method, or a labelled variant of one) -> its registry method."""
    recipes = meta.get("recipes") or {}
    return {m: (recipes.get(m) or {}).get("method", m) for m in meta["methods"]}


def table_methods(methods: Sequence[str], base: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Which of our methods go in which table (TLMLDA closes both, as in the paper); empty tables dropped.

    ``base``: a variant's registry method, whose group places it (a variant never takes a paper row's place)."""
    base = base or {}
    t3 = [m for m in TABLE3_METHODS if m in methods]
    ours = [m for m in methods if base.get(m, m) in METHODS and METHODS[base.get(m, m)].group in OUR_GROUPS]
    rest = [m for m in methods if m not in TABLE3_METHODS and m not in ours]
    t4 = [m for m in TABLE4_FIRST if m in rest] + [m for m in rest if m not in TABLE4_FIRST]
    if t4 and "tlmlda" in methods:
        t4.append("tlmlda")
    out = {"table3": t3, "table4": t4, "ours": ours}
    return {k: v for k, v in out.items() if v}


def build_tables(rows: Sequence[dict], meta: dict, reference_rows: Sequence[dict] | None = None) -> dict:
    """The JSON document of a benchmark: protocol, our tables, the paper's, differences, oracle, failures.

    ``meta``: name, tag, preset, config (TrainConfig as a dict), feature_set, seeds, methods, schemes (dicts
    with name, source, target, classes, n_source, n_target), skipped (dicts with scheme, reason), and
    optionally jobs, threads, sercross_version, created. ``reference_rows``: in-corpus references whose
    ``scheme`` is the column they stand beside (:func:`sercross.experiments.incorpus.reference_rows`).
    """
    schemes = [s["name"] for s in meta["schemes"]]
    methods, seeds = list(meta["methods"]), list(meta["seeds"])
    base = base_methods(meta)
    groups = table_methods(methods, base)
    doc: dict = {
        "name": meta["name"],
        "created": meta.get("created"),
        "sercross_version": meta.get("sercross_version"),
        "unit": "percent",
        "std": "sample (ddof=1) over seeds; null with a single seed",
        "protocol": protocol(meta),
        "grid": {k: meta.get(k) for k in ("preset", "tag", "config", "feature_set", "seeds", "methods", "recipes",
                                          "schemes", "skipped", "jobs", "threads")},
        "columns": [{"scheme": s["name"], "label": s.get("label") or scheme_name_label(s["name"]),
                     "classes": list(s["classes"]), "chance": round(100 / len(s["classes"]), 6)}
                    for s in meta["schemes"]]
        + [{"scheme": AVERAGE, "label": AVERAGE}],
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
    oracle = aggregate_oracle(rows, schemes, ordered, seeds, base)
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
    selection = selection_section(rows)
    if selection is not None:
        doc["selection"] = selection
    doc["notes"] = _notes(doc, rows)
    if reference_rows:
        doc["in_corpus"] = in_corpus_section(doc, reference_rows, schemes, seeds)
    return doc


def in_corpus_section(doc: dict, reference_rows: Sequence[dict], schemes: Sequence[str], seeds) -> dict:
    """The in-corpus ceiling of each column (the target's speaker-independent cross-validation on the column's
    classes) and the gap: each method's cross-corpus mean minus the best ceiling of that column."""
    ref_methods = list(dict.fromkeys(r["method"] for r in reference_rows))
    section: dict = {
        "title": "in-corpus ceiling: speaker-independent cross-validation inside the target corpus on the column's "
        "classes (leave-one-speaker-out up to 10 speakers, else speaker-grouped 5-fold; scaling fitted on the "
        "training folds); the mean over folds, then mean ± std over seeds",
        "methods": ref_methods,
        "folds": {r["target"]: r["folds"] for r in reference_rows if r.get("folds")},
        "cells": {}, "gap": {},
    }
    for metric in ("war", "uar"):
        ref = aggregate(reference_rows, metric, schemes, ref_methods, seeds)
        section["cells"][metric] = {m: _cells(c) for m, c in ref.items()}
        best = {s: max((ref[m][s].mean for m in ref_methods if ref[m][s].mean is not None), default=None)
                for s in schemes}
        gap = {}
        for group in doc["tables"][metric].values():
            for m, cells in group["cells"].items():
                gap[m] = {s: (None if cells[s]["mean"] is None or best[s] is None
                              else round(cells[s]["mean"] - best[s], 6)) for s in schemes}
        section["gap"][metric] = gap
    return section


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
    multi = [s["name"] for s in meta.get("schemes", ()) if "+" in s["source"]]
    sources = {"sources": f"{', '.join(multi)}: trained on the union of the sources a+b+c (each source min-max "
               "scaled on its own, speakers kept apart by corpus), which the methods treat as one source domain "
               "(adaptation terms compare the union with the target); classes: those the target and every source "
               "share"} if multi else {}
    return {**sources,
        "metric": "WAR = accuracy over all target utterances (the paper's metric); UAR = mean per-class recall "
        "on the target. Both in percent.",
        "reported_epoch": f"the last (epoch {cfg.get('epochs')} of {cfg.get('epochs')}); no early stopping, "
        "no checkpoint chosen on the target",
        "normalization": "; ".join(_normalization(t) for t in _target_sets(meta)),
        "target_set": "; ".join(TARGET_SET_TEXT[t] for t in _target_sets(meta)),
        "selection": "network methods: none on the target; fixed preset hyper-parameters and the paper's "
        f"per-scheme alpha for (L_S, L_T, L_y, MMD, LMMD) (schemes outside the paper, and TLMLDA+ everywhere: "
        f"{tuple(DEFAULT_ALPHA)}). pca_svm: PCA size "
        f"({'/'.join(f'{v:.0%}' for v in PCA_VARIANCE)} variance) and C in {{{', '.join(f'{c:g}' for c in PAPER_CS)}}} "
        "chosen by leave-one-speaker-out UAR on the source (grouped 10-fold when the source has more than "
        "10 speakers)",
        "seeds": f"{len(seeds)} ({', '.join(map(str, seeds))})",
        "preset": f"{meta.get('tag')} (preset {meta.get('preset')}: lr {cfg.get('lr')}, batch "
        f"{cfg.get('batch_size')}, {cfg.get('epochs')} epochs, {cfg.get('precision', 'fp32')})",
        "features": f"openSMILE {meta.get('feature_set')}",
        "std": f"{STD_NOTE}; a cell with a single seed shows the mean alone",
        "average": "Average = mean of the scheme means (as the paper averages its six schemes); its ± is the "
        "sample std over seeds of the per-seed average across schemes",
        "chance": "chance level = 1/k for k classes: the UAR (and expected WAR) of guessing uniformly",
        "methods": _recipe_lines(meta),
    }


TARGET_SET_TEXT = {
    "shared": "shared (the paper's closed-set protocol): the target utterances of the scheme's classes enter "
    "training unlabelled; the target labels chose them, and score them",
    "all": "all: every target utterance, whatever its label, enters training unlabelled (scaling, speaker "
    "statistics, adaptation batches, AdaBN); the target labels only choose the scored utterances (the scheme's "
    "classes) and score them",
}


def _target_sets(meta: dict) -> list[str]:
    """The grid's target sets (a document written before several were possible names one, or none: shared)."""
    return list(meta.get("target_sets") or [meta.get("target_set", "shared")])


def _normalization(target_set: str) -> str:
    if target_set == "all":
        return ("min-max to [0, 1] per corpus (the source on its utterances of the scheme's classes, the target on "
                "all of its utterances; no target label is used)")
    return ("min-max to [0, 1] per corpus (source and target each scaled on their own utterances of the scheme's "
            "classes, chosen for the target with its labels as in the paper)")


def _recipe_lines(meta: dict) -> list[dict]:
    """How each row was trained, when that is not just the grid's one preset applied to a registry method."""
    recipes = meta.get("recipes") or {}
    plain = all(not r.get("settings") and r.get("tag") == meta.get("tag") and label == r.get("method")
                for label, r in recipes.items())
    if plain:
        return []
    out = []
    for label, r in recipes.items():
        changed = ", ".join(f"{k} = {v}" for k, v in (r.get("settings") or {}).items()) or "no setting changed"
        seeds = "" if r.get("seeded", True) else "; does not depend on the seed: one run serves every seed"
        out.append({"label": label, "text": f"{r['method']}, preset {r['preset']} ({changed}); run folders "
                                             f"`{r['method']}/{r['tag']}-seed<k>`{seeds}"})
    return out


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
    unlabelled = sorted({r["scheme"] for r in rows if str(r.get("error", "")).startswith("target unlabelled")})
    if unlabelled:
        notes.append(f"{', '.join(scheme_name_label(s) for s in unlabelled)}: the target has no labels, so its "
                     "cells are empty (—); each run's predictions.csv has its predictions")
    collapsed: dict[tuple[str, str], list[bool]] = {}
    for r in rows:
        if r.get("predicted_classes") not in (None, "") and r.get("war") not in (None, ""):
            one = int(float(r["predicted_classes"])) == 1
            collapsed.setdefault((r["method"], r["scheme"]), []).append(one)
    for (method, scheme), flags in collapsed.items():
        if any(flags):
            notes.append(f"{method} on {scheme_name_label(scheme)}: {sum(flags)} of {len(flags)} seeds predict one "
                         "class for the whole target (collapsed; its WAR is then that class's share of the target)")
    return notes
