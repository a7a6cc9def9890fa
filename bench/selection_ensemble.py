"""Does averaging the candidates beat picking one? Label-free ensembles of ``auto``'s candidates, measured by
leave-one-corpus-out on the development pairs.

A label-free score that ranks candidates poorly (bench/selection.md: Spearman ≤ 0.41 with target accuracy) makes a
poor pick, and one bad pick costs up to 20 points. Averaging the candidates' target class probabilities (the
members chosen without target labels: all of the rule's pool, or its k best by one or two scores) trades the
chance of the best candidate for protection against the worst. This script measures that trade on the same
development pairs and with the same leave-one-corpus-out protocol as bench/selection_loco.py: per held-out corpus,
the best rule (a fixed candidate, a selection rule or an ensemble rule) on the pairs involving neither the corpus
nor its variants decides the pairs whose target it is. Target labels only score.

    python bench/selection_ensemble.py --cache CACHE --seeds 0 --out bench/selection_ensemble.md
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from selection_loco import (
    CANDIDATES,
    GATES,
    SCORE_COMBOS,
    _candidate_dir,
    _per_seed,
    default_schemes,
    group_of,
    load_cases,
    pick,
    rule_name,
)

from sercross.experiments import load_pair
from sercross.selection import DEFAULT_RULE, SelectionRule, apply_rule, combine_outputs


def load_probabilities(cache: Path, cases, candidates, tag: str) -> dict:
    """Per case (by id) the truth (evaluation only) and each candidate's target class probabilities."""
    out = {}
    pairs = {}
    for c in cases:
        key = (c.source, c.target)
        if key not in pairs:
            pairs[key] = load_pair(cache, c.source, c.target, "IS10")
        pair = pairs[key]
        probs, truth, files = {}, None, None
        for m in candidates:
            with open(_candidate_dir(cache, pair, m, tag, c.seed) / "predictions.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            classes = [k[2:] for k in rows[0] if k.startswith("p_")]
            names = [r["file"] for r in rows]
            if files is None:
                files, truth = names, np.array([classes.index(r["true"]) for r in rows])
            if names != files:
                raise SystemExit(f"{c.name}: {m}'s predictions list other files")
            probs[m] = np.array([[float(r[f"p_{k}"]) for k in classes] for r in rows])
        out[id(c)] = (truth, probs)
    return out


def _scores(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    war = 100 * float(np.mean(pred == truth))
    uar = 100 * float(np.mean([np.mean(pred[truth == k] == k) for k in np.unique(truth)]))
    return war, uar


class Evaluator:
    """WAR and UAR per (rule, case), computed once; a rule is a fixed candidate, a SelectionRule or an Ensemble."""

    def __init__(self, cases, probs, candidates):
        self.cases, self.probs, self.candidates = cases, probs, candidates
        self.memo: dict = {}

    def value(self, rule, case) -> tuple[float, float]:
        key = (rule, id(case))
        if key not in self.memo:
            if isinstance(rule, SelectionRule) and rule.average != 1:
                truth, probs = self.probs[id(case)]
                members = apply_rule(rule, case.scores, case.predictions, case.confounding["max"]).members
                self.memo[key] = _scores(truth, combine_outputs([probs[m] for m in members], rule.combine)[0])
            else:
                m = pick(rule, case)
                self.memo[key] = (case.war[m], case.uar[m])
        return self.memo[key]

    def mean(self, rule, cases) -> float:
        return float(np.mean([sum(self.value(rule, c)) / 2 for c in cases]))


@dataclass(frozen=True)
class BestFixedMean:
    """The mean of the ``k`` candidates with the best mean on the training pairs (with the speaker gate ``gate``):
    a rule that only exists once a fold's training pairs are known (:meth:`build`)."""

    k: int
    gate: float | None

    def build(self, candidates, train, ev: Evaluator) -> SelectionRule:
        ranked = sorted(candidates, key=lambda m: (-ev.mean(("fixed", m), train), candidates.index(m)))
        pool = tuple(m for m in candidates if m in ranked[: self.k])
        return SelectionRule(pool, ("rv",), self.gate, None)


def families(candidates) -> dict[str, list]:
    """The rule families compared; "mean of all" has one free choice (the gate), "both" several hundred."""
    every = tuple(candidates)
    fixed = [("fixed", m) for m in candidates]
    select = [SelectionRule(every, combo, g) for combo in SCORE_COMBOS for g in GATES]
    mean_all = [SelectionRule(every, ("rv",), g, None) for g in GATES]
    vote_all = [SelectionRule(every, ("rv",), g, None, "vote") for g in GATES]
    top_rv = [SelectionRule(every, ("rv",), g, k) for k in (3, 5, 8) for g in GATES]
    top_k = [SelectionRule(every, combo, g, k) for combo in SCORE_COMBOS for k in (3, 5, 8) for g in GATES]
    best_k = [BestFixedMean(k, g) for k in (3, 5, 8, 12) for g in GATES]
    return {"fixed": fixed, "select": fixed + select, "mean of all": mean_all,
            "mean or vote of all": mean_all + vote_all, "mean of all or of the k best fixed": mean_all + best_k,
            "mean of all or top-k by rv": mean_all + top_rv, "ensemble": fixed + mean_all + top_k,
            "both": fixed + select + mean_all + top_k}


def loco(cache, cases, ev: Evaluator, family: list) -> tuple[dict, list]:
    groups = {c: group_of(cache, c) for case in cases for c in (case.source, case.target)}
    chosen, folds = {}, []
    for g in sorted(set(groups.values())):
        test = [c for c in cases if groups[c.target] == g]
        train = [c for c in cases if g not in (groups[c.source], groups[c.target])]
        if not test or not train:
            continue
        rules = [r.build(ev.candidates, train, ev) if isinstance(r, BestFixedMean) else r for r in family]
        best = max(rules, key=lambda r: (ev.mean(r, train), -rules.index(r)))
        for c in test:
            chosen[id(c)] = best
        folds.append((g, describe(best)))
    return chosen, folds


def describe(rule) -> str:
    return rule_name(rule)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--tag", default="fast")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    candidates = list(CANDIDATES)
    cases, missing = load_cases(args.cache, default_schemes(), seeds, candidates, args.tag)
    ev = Evaluator(cases, load_probabilities(args.cache, cases, candidates, args.tag), candidates)
    fams = families(candidates)
    best_fixed = max(fams["fixed"], key=lambda r: ev.mean(r, cases))
    lines = ["# Label-free ensembles against label-free picks (leave-one-corpus-out)", "",
             f"Made by `python bench/selection_ensemble.py --cache CACHE --seeds {args.seeds} --out {args.out}` over "
             f"{len({c.name for c in cases})} development pairs × {len(seeds)} seed(s) = {len(cases)} pair-seeds "
             f"(preset {args.tag}, last epoch), {len(candidates)} candidates. An ensemble averages its members' "
             "target class probabilities; members are chosen without target labels. Target labels only score.", "",
             "| | WAR % | UAR % | mean regret (oracle WAR − WAR) | pair-seeds > 1 WAR below only_cls | "
             "worst vs only_cls |", "|---|---|---|---|---|---|"]

    def row(name, value):
        wars = [value(c)[0] for c in cases]
        diffs = [value(c)[0] - c.war["only_cls"] for c in cases]
        regret = np.mean([max(c.war.values()) - value(c)[0] for c in cases])
        lines.append(f"| {name} | {_per_seed(cases, lambda c: value(c)[0])} | "
                     f"{_per_seed(cases, lambda c: value(c)[1])} | {regret:.2f} | "
                     f"{sum(d < -1 for d in diffs)} of {len(wars)} | {min(diffs):+.2f} |")

    fold_lines, loco_picks = [], {}
    for fam in fams:
        chosen, folds = loco(args.cache, cases, ev, fams[fam])
        loco_picks[fam] = chosen
        row(f"leave-one-corpus-out over the {fam} rules ({len(fams[fam])})",
            lambda c, chosen=chosen: ev.value(chosen[id(c)], c))
        fold_lines += [f"| {fam} | {g} | {r} |" for g, r in folds]
    every = tuple(candidates)
    for r in [SelectionRule(every, ("rv",), None, None), SelectionRule(every, ("rv",), 0.3, None),
              SelectionRule(every, ("rv",), 0.3, None, "vote"),
              SelectionRule(every, ("rv",), 0.3, 5), SelectionRule(every, ("rv", "iws"), 0.3, 5),
              SelectionRule(every, ("rv", "iws"), 0.3)]:
        row(f"always: {describe(r)}", lambda c, r=r: ev.value(r, c))
    row(f"best fixed candidate in hindsight ({best_fixed[1]}; target labels)", lambda c: ev.value(best_fixed, c))
    row("only_cls", lambda c: (c.war["only_cls"], c.uar["only_cls"]))
    row("oracle: best candidate per pair (evaluation only)",
        lambda c: (max(c.war.values()), c.uar[max(c.war, key=c.war.get)]))
    lines += ["", "## Rule chosen per fold", "", "| family | held-out target group | rule |", "|---|---|---|",
              *fold_lines]
    # auto ships the family that did best out of sample, its rule chosen on every development pair
    shipped = max(fams, key=lambda f: (np.mean([sum(ev.value(loco_picks[f][id(c)], c)) for c in cases]),
                                       -list(fams).index(f)))
    built = [r.build(candidates, cases, ev) if isinstance(r, BestFixedMean) else r for r in fams[shipped]]
    final = max(built, key=lambda r: (ev.mean(r, cases), -built.index(r)))
    lines += ["", "## Chosen on all development pairs (what `auto` ships with; in-sample)", "",
              f"The family with the best leave-one-corpus-out (WAR + UAR) / 2 above is **{shipped}**; its rule chosen "
              f"on all {len(cases)} pair-seeds: **{describe(final)}** (in-sample mean (WAR + UAR) / 2 "
              f"{ev.mean(final, cases):.2f}). `DEFAULT_RULE` today: {describe(DEFAULT_RULE)}.", "",
              "| pair | seed | this rule WAR | only_cls WAR | oracle WAR |", "|---|---|---|---|---|"]
    lines += [f"| {c.name} | {c.seed} | {ev.value(final, c)[0]:.2f} | {c.war['only_cls']:.2f} | "
              f"{max(c.war.values()):.2f} |" for c in cases]
    if missing:
        lines += ["", "Left out (candidate runs missing): " + "; ".join(missing)]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
