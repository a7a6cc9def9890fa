"""How well ``auto`` chose, measured: the section of a benchmark's tables on label-free selection.

Per scheme (mean over seeds): what ``auto`` picked and its WAR, the candidate with the best target WAR (the
*oracle*: it reads target labels, for evaluation only) and the regret, oracle − pick. Per label-free score: the
mean Spearman correlation between the score and target WAR across the candidates of one scheme and seed (how well
its ranking agrees with accuracy), and how often its top candidate is the oracle's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sercross.experiments.auto import SELECTION_FILE
from sercross.infra import read_json
from sercross.selection import RULE_SCORES


def _candidates(row: dict) -> list[str]:
    try:
        return list(read_json(Path(row["run_dir"]) / SELECTION_FILE)["candidates"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman correlation over the entries finite in both; None with fewer than 3 or a constant side."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return None
    return float(spearmanr(a[ok], b[ok]).statistic)


def selection_section(rows: Sequence[dict]) -> dict | None:
    """The selection tables of a benchmark with ``auto`` rows (None without them). Percent like the other tables."""
    by_key = {(r["scheme"], r["method"], r["seed"]): r for r in rows if r.get("war") is not None}
    autos = [r for r in rows if r["method"] == "auto" and r.get("picked")]
    if not autos:
        return None
    per_scheme: dict[str, list[dict]] = defaultdict(list)
    rho: dict[str, list[float]] = defaultdict(list)
    hits: dict[str, int] = defaultdict(int)
    for a in autos:
        cands = [m for m in _candidates(a) if (a["scheme"], m, a["seed"]) in by_key]
        if len(cands) < 2:
            continue
        cand_rows = {m: by_key[(a["scheme"], m, a["seed"])] for m in cands}
        wars = {m: float(r["war"]) for m, r in cand_rows.items()}
        best = max(wars, key=wars.get)
        per_scheme[a["scheme"]].append({"pick": a["picked"], "war": float(a["war"]), "uar": float(a["uar"]),
                                        "oracle": best, "oracle_war": wars[best]})
        for s in RULE_SCORES:
            vals = [cand_rows[m].get(f"score_{s}") for m in cands]
            vals = [np.nan if v in (None, "") else float(v) for v in vals]
            r = spearman(vals, [wars[m] for m in cands])
            if r is not None:
                rho[s].append(r)
                hits[s] += cands[int(np.nanargmax(vals))] == best
    schemes = {}
    for scheme, items in per_scheme.items():
        schemes[scheme] = {
            "picks": list(dict.fromkeys(i["pick"] for i in items)),
            "war": 100 * np.mean([i["war"] for i in items]), "uar": 100 * np.mean([i["uar"] for i in items]),
            "oracle": list(dict.fromkeys(i["oracle"] for i in items)),
            "oracle_war": 100 * np.mean([i["oracle_war"] for i in items]),
            "regret": 100 * np.mean([i["oracle_war"] - i["war"] for i in items]), "seeds": len(items),
        }
    scorers = {s: {"spearman": float(np.mean(v)), "n": len(v), "top_is_oracle": hits[s]} for s, v in rho.items()}
    return {"title": "label-free selection (auto): pick, oracle best candidate and regret, WAR %",
            "oracle_note": "the oracle reads target labels: for evaluation only, never used to choose",
            "schemes": schemes, "scorers": scorers}


def selection_md(section: dict, label) -> list[str]:
    """Markdown of :func:`selection_section`; ``label`` names a scheme for display."""
    out = ["## Label-free selection (`auto`)", "",
           f"The pick is made without target labels; the **oracle** column is the candidate with the best target "
           f"WAR ({section['oracle_note']}). Regret = oracle WAR − auto WAR, mean over seeds. The default rule was "
           "chosen on sercross's development pairs (docs/selection.md): on those pairs these numbers are "
           "in-sample; bench/selection_ensemble.md has the leave-one-corpus-out estimate.", "",
           "| scheme | auto picked | auto WAR | auto UAR | oracle best (evaluation only) | oracle WAR | regret |",
           "|---|---|---:|---:|---|---:|---:|"]
    for scheme, s in section["schemes"].items():
        out.append(f"| {label(scheme)} | {', '.join(s['picks'])} | {s['war']:.2f} | {s['uar']:.2f} | "
                   f"{', '.join(s['oracle'])} | {s['oracle_war']:.2f} | {s['regret']:.2f} |")
    if section["schemes"]:
        mean = np.mean([s["regret"] for s in section["schemes"].values()])
        out += ["", f"Mean regret over schemes: {mean:.2f} WAR points.", ""]
    if section["scorers"]:
        out += ["Agreement of each label-free score with target accuracy across the candidates of a scheme and "
                "seed (Spearman; 1 = same ranking), and how often its top candidate is the oracle's:", "",
                "| score | mean Spearman | scheme-seeds | top = oracle |", "|---|---:|---:|---:|"]
        out += [f"| {s} | {v['spearman']:+.3f} | {v['n']} | {v['top_is_oracle']} |"
                for s, v in section["scorers"].items()]
        out.append("")
    return out
