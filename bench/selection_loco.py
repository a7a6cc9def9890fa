"""Which rule ``--method auto`` uses: chosen by leave-one-corpus-out over the development pairs.

For every development pair and seed, the script reads each candidate run's label-free scores (scores.json,
computed if missing: no target label) and, for evaluation only, its target WAR/UAR. A rule is either a fixed
candidate or a :class:`sercross.selection.SelectionRule` (one or two scores, with or without the speaker gate
at a few thresholds). Leave-one-corpus-out: for each corpus group (a corpus and the variants derived from it by
bench/confound.py), the rule with the best mean (WAR + UAR) / 2 over the pairs that do not involve the group is
applied to the pairs whose target is in it; so no pair is decided by a rule that saw its target's labels. The
rule ``auto`` ships with is the one chosen on all development pairs; the leave-one-corpus-out numbers are the
honest estimate of how it does on a corpus it has not seen.

    python bench/selection_loco.py --cache CACHE --seeds 0 --out bench/selection.md
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sercross.experiments import load_pair
from sercross.experiments.auto import pair_confounding
from sercross.experiments.label_free import run_label_free
from sercross.experiments.selection_tables import spearman
from sercross.infra import read_json, run_dir
from sercross.methods import get_method
from sercross.selection import DEFAULT_RULE, RULE_SCORES, SelectionRule, apply_rule, speaker_normalised

BASE = ("berlin", "casia", "emovo", "ravdess")
DERIVED = ("berlin_conf2", "ravdess_conf1")
CANDIDATES = ("only_cls", "only_cls_spk", "tlmlda", "tlmlda_plus", "tlmlda_plus_no_spk",
              "logreg", "sk_coral", "sk_subspace", "sk_linear_ot", "sk_kmm", "sk_ot_prop",
              "logreg_spk", "sk_coral_spk", "sk_subspace_spk", "sk_linear_ot_spk", "sk_kmm_spk", "sk_ot_prop_spk")
GATES = (None, 0.3, 0.4, 0.5, 0.6)


def default_schemes() -> list[tuple[str, str]]:
    """The 12 ordered pairs of the four corpora and each confounded variant against the three other corpora."""
    out = [(a, b) for a in BASE for b in BASE if a != b]
    for d in DERIVED:
        base = d.split("_conf")[0]
        out += [(o, d) for o in BASE if o != base] + [(d, o) for o in BASE if o != base]
    return out


@dataclass
class Case:
    """One pair and seed: per candidate its target WAR/UAR (evaluation only), scores and target predictions."""

    source: str
    target: str
    seed: int
    war: dict
    uar: dict
    scores: dict
    predictions: dict
    confounding: dict

    @property
    def name(self) -> str:
        return f"{self.source}→{self.target}"


def _candidate_dir(cache: Path, pair, m: str, tag: str, seed: int) -> Path:
    d = run_dir(cache, pair.key.dirname, m, tag, seed)
    if not (d / "metrics.json").is_file() and not get_method(m).seeded:
        d = run_dir(cache, pair.key.dirname, m, tag, 0)  # one run serves every seed
    return d


def load_cases(cache: Path, schemes, seeds, candidates, tag: str) -> tuple[list[Case], list[str]]:
    cases, missing = [], []
    for source, target in schemes:
        pair = load_pair(cache, source, target, "IS10")
        for seed in seeds:
            dirs = {m: _candidate_dir(cache, pair, m, tag, seed) for m in candidates}
            absent = [m for m, d in dirs.items() if not (d / "metrics.json").is_file()]
            if absent:
                missing.append(f"{source}→{target} seed {seed}: {', '.join(absent)}")
                continue
            metrics = {m: read_json(d / "metrics.json") for m, d in dirs.items()}
            lf = {m: run_label_free(d, pair) for m, d in dirs.items()}
            preds = {m: np.asarray(v["target_predictions"]) for m, v in lf.items()}
            conf = pair_confounding(pair, preds)
            cases.append(Case(source, target, seed, {m: 100 * v["war"] for m, v in metrics.items()},
                              {m: 100 * v["uar"] for m, v in metrics.items()},
                              {m: v["scores"] for m, v in lf.items()}, preds, conf))
    return cases, missing


SCORE_COMBOS = [(s,) for s in RULE_SCORES] + list(itertools.combinations(RULE_SCORES, 2))


def rules(candidates, train: list[Case], memo: Memo, top_k: tuple[int, ...] = ()) -> list:
    """The rule family, given the training pairs: every fixed candidate; every score or pair of scores over all
    candidates (and, with ``top_k``, over the k best fixed candidates on ``train``), each with or without the
    speaker gate."""
    out: list = [("fixed", m) for m in candidates]
    ranked = sorted(candidates, key=lambda m: (-memo.mean(("fixed", m), train), candidates.index(m)))
    pools = [tuple(candidates)] + [tuple(m for m in candidates if m in ranked[:k]) for k in top_k]
    out += [SelectionRule(pool, combo, gate) for pool in pools for combo in SCORE_COMBOS for gate in GATES]
    return out


def rule_name(rule) -> str:
    if isinstance(rule, tuple):
        return f"always {rule[1]}"
    gate = "" if rule.speaker_gate is None else f", gate {rule.speaker_gate:g}"
    pool = "" if len(rule.candidates) == len(CANDIDATES) else f" among {', '.join(rule.candidates)}"
    if rule.average is None:
        return f"{rule.combine} of all candidates{pool}{gate}"
    what = "best" if rule.average == 1 else f"{rule.combine} of the {rule.average} best by"
    return f"{what} {' + '.join(rule.scores)}{pool}{gate}"


def pick(rule, case: Case) -> str:
    if isinstance(rule, tuple):
        return rule[1]
    return apply_rule(rule, case.scores, case.predictions, case.confounding["max"]).method


def _value(case: Case, m: str) -> float:
    return (case.war[m] + case.uar[m]) / 2


class Memo:
    """Each rule's pick per case, computed once (rules are hashable values)."""

    def __init__(self, cases: list[Case]):
        self.index = {id(c): i for i, c in enumerate(cases)}
        self.picks: dict = {}

    def pick(self, rule, case: Case) -> str:
        key = (rule, self.index[id(case)])
        if key not in self.picks:
            self.picks[key] = pick(rule, case)
        return self.picks[key]

    def mean(self, rule, cases: list[Case]) -> float:
        return float(np.mean([_value(c, self.pick(rule, c)) for c in cases]))


def choose(rule_list, cases: list[Case], memo: Memo) -> object:
    """The rule with the best mean (WAR + UAR) / 2 over ``cases`` (ties: the earlier rule)."""
    return max(rule_list, key=lambda r: (memo.mean(r, cases), -rule_list.index(r)))


def group_of(cache: Path, corpus: str) -> str:
    meta = read_json(cache / "features" / corpus / "IS10" / "meta.json")
    return (meta.get("derivation") or {}).get("derived_from", corpus)


def loco(cache: Path, cases: list[Case], candidates: list[str], top_k: tuple[int, ...] = ()) -> tuple[dict, list, Memo]:
    """Per case the method picked by the rule chosen without the case's target group; and the per-fold record."""
    memo = Memo(cases)
    groups = {c: group_of(cache, c) for case in cases for c in (case.source, case.target)}
    picks, folds = {}, []
    for g in sorted(set(groups.values())):
        test = [c for c in cases if groups[c.target] == g]
        train = [c for c in cases if g not in (groups[c.source], groups[c.target])]
        if not test or not train:
            continue
        rule_list = rules(candidates, train, memo, top_k)
        best = choose(rule_list, train, memo)
        fixed = choose([r for r in rule_list if isinstance(r, tuple)], train, memo)
        for c in test:
            picks[id(c)] = memo.pick(best, c)
            picks[("fixed", id(c))] = fixed[1]
        folds.append((g, len(train), len(test), rule_name(best), rule_name(fixed),
                      np.mean([c.war[picks[id(c)]] for c in test]), np.mean([c.uar[picks[id(c)]] for c in test]),
                      np.mean([c.war[fixed[1]] for c in test]), np.mean([c.uar[fixed[1]] for c in test]),
                      np.mean([max(c.war.values()) for c in test])))
    return picks, folds, memo


def _ms(values) -> str:
    return f"{np.mean(values):.2f}"


def _per_seed(cases: list[Case], f) -> str:
    """Mean over cases of f(case); with several seeds, ± the std over seeds of the per-seed means."""
    seeds = sorted({c.seed for c in cases})
    per = [np.mean([f(c) for c in cases if c.seed == s]) for s in seeds]
    return f"{np.mean(per):.2f}" + (f" ± {np.std(per, ddof=1):.2f}" if len(per) > 1 else "")


def summary(cases, picks, candidates) -> list[str]:
    fixed_war = {m: np.mean([c.war[m] for c in cases]) for m in candidates}
    best = max(fixed_war, key=lambda m: (np.mean([_value(c, m) for c in cases]), -candidates.index(m)))
    regret = [max(c.war.values()) - c.war[picks[id(c)]] for c in cases]
    below = [(c.name, c.seed, c.war[picks[id(c)]] - c.war["only_cls"]) for c in cases]
    worst = min(below, key=lambda t: t[2])
    n_below = sum(d < -1 for *_, d in below)
    rows = [("auto (leave-one-corpus-out: the rule chosen without the target's corpus)",
             lambda c: c.war[picks[id(c)]], lambda c: c.uar[picks[id(c)]]),
            ("the fixed candidate chosen by leave-one-corpus-out (the best on the fold's training pairs)",
             lambda c: c.war[picks[("fixed", id(c))]], lambda c: c.uar[picks[("fixed", id(c))]]),
            (f"best fixed candidate in hindsight ({best}: chosen on every pair's target labels)",
             lambda c: c.war[best], lambda c: c.uar[best]),
            ("only_cls", lambda c: c.war["only_cls"], lambda c: c.uar["only_cls"]),
            ("oracle: best candidate per pair by target WAR (evaluation only)",
             lambda c: max(c.war.values()), lambda c: c.uar[max(c.war, key=c.war.get)])]
    lines = ["| | WAR % | UAR % |", "|---|---|---|"]
    lines += [f"| {name} | {_per_seed(cases, fw)} | {_per_seed(cases, fu)} |" for name, fw, fu in rows]
    auto_war = np.mean([c.war[picks[id(c)]] for c in cases])
    auto_uar = np.mean([c.uar[picks[id(c)]] for c in cases])
    lines += ["", f"- auto − best fixed: WAR {auto_war - fixed_war[best]:+.2f}, "
              f"UAR {auto_uar - np.mean([c.uar[best] for c in cases]):+.2f} (goal: ≥ +3)",
              f"- mean regret (oracle WAR − auto WAR): {np.mean(regret):.2f} (goal: ≤ 2); largest "
              f"{max(regret):.2f}",
              f"- pair-seeds where auto is more than 1 WAR point below only_cls: {n_below} of {len(cases)} "
              f"(goal: none); worst {worst[0]} seed {worst[1]}: {worst[2]:+.2f}"]
    return lines


def _opt(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def per_pair(cases, picks) -> list[str]:
    lines = ["| pair | NMI source | NMI target (est.) | auto picks | auto WAR | only_cls WAR | oracle best | "
             "oracle WAR | regret |", "|---|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(c.name for c in cases):
        cs = [c for c in cases if c.name == name]
        chosen = ", ".join(dict.fromkeys(picks[id(c)] for c in cs))
        best = max(cs[0].war, key=lambda m: np.mean([c.war[m] for c in cs]))
        conf = cs[0].confounding
        lines.append(f"| {name} | {_opt(conf['source'])} | {_opt(np.mean([c.confounding['target'] or 0 for c in cs]))}"
                     f" | {chosen} | {_ms([c.war[picks[id(c)]] for c in cs])} | {_ms([c.war['only_cls'] for c in cs])}"
                     f" | {best} | {_ms([max(c.war.values()) for c in cs])} | "
                     f"{_ms([max(c.war.values()) - c.war[picks[id(c)]] for c in cs])} |")
    return lines


def fixed_table(cases, candidates) -> list[str]:
    lines = ["| candidate | speaker-normalised | WAR % | UAR % | pairs won (oracle) |", "|---|---|---|---|---|"]
    spk = speaker_normalised(candidates)
    for m in sorted(candidates, key=lambda m: -np.mean([c.war[m] for c in cases])):
        won = sum(max(c.war, key=c.war.get) == m for c in cases)
        war, uar = _per_seed(cases, lambda c, m=m: c.war[m]), _per_seed(cases, lambda c, m=m: c.uar[m])
        lines.append(f"| {m} | {'yes' if m in spk else ''} | {war} | {uar} | {won} |")
    return lines


def scorer_table(cases, candidates) -> list[str]:
    lines = ["| score | Spearman with target WAR (mean over pair-seeds) | its pick is the oracle best | "
             "WAR of its pick |", "|---|---|---|---|"]
    for s in RULE_SCORES:
        rule = SelectionRule(tuple(candidates), (s,))
        rhos, hits, wars = [], 0, []
        for c in cases:
            p = apply_rule(rule, c.scores, c.predictions)
            vals = [p.table[m].get(s) for m in candidates]
            rho = spearman([np.nan if v is None else v for v in vals], [c.war[m] for m in candidates])
            rhos.append(np.nan if rho is None else rho)
            hits += p.method == max(c.war, key=c.war.get)
            wars.append(c.war[p.method])
        lines.append(f"| {s} | {np.nanmean(rhos):+.3f} | {hits} of {len(cases)} | {np.mean(wars):.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--tag", default="fast", help="the runs' preset tag")
    ap.add_argument("--top-k", default="", help="also rules over the k best fixed candidates, e.g. 2,3,4,6")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    candidates = list(CANDIDATES)
    cases, missing = load_cases(args.cache, default_schemes(), seeds, candidates, args.tag)
    top_k = tuple(int(k) for k in args.top_k.split(",")) if args.top_k else ()
    picks, folds, memo = loco(args.cache, cases, candidates, top_k)
    rule_list = rules(candidates, cases, memo, top_k)
    final = choose(rule_list, cases, memo)
    lines = ["# Label-free selection: the rule `auto` uses, chosen by leave-one-corpus-out", "",
             f"Made by `python bench/selection_loco.py --cache CACHE --seeds {args.seeds}"
             f"{' --top-k ' + args.top_k if args.top_k else ''} --out {args.out}` over "
             f"{len({c.name for c in cases})} development pairs × {len(seeds)} seed(s) = {len(cases)} pair-seeds "
             f"(preset {args.tag}, last epoch); {len(candidates)} candidates, {len(rule_list)} rules per fold"
             f"{' (among them pools of the k best fixed candidates on the fold training pairs)' if top_k else ''}. "
             "Target labels only score; a pair is decided by the rule chosen on the pairs that involve neither its "
             "target's corpus nor a variant of it. Corpora: EmoDB (2-s copy), CASIA, EMOVO, RAVDESS and the speaker-"
             "confounded variants of bench/confound.py (berlin_conf2, ravdess_conf1, grouped with their corpus).",
             "", "## Summary", "", *summary(cases, picks, candidates),
             "", "## Leave-one-corpus-out folds", "",
             "| held-out target group | train pair-seeds | test pair-seeds | rule chosen | fixed chosen | "
             "auto WAR | auto UAR | fixed WAR | fixed UAR | oracle WAR |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {g} | {n_tr} | {n_te} | {r} | {fx} | {aw:.2f} | {au:.2f} | {fw:.2f} | {fu:.2f} | {ow:.2f} |"
              for g, n_tr, n_te, r, fx, aw, au, fw, fu, ow in folds]
    lines += ["", "## Per pair (mean over seeds)", "", *per_pair(cases, picks),
              "", "## Fixed candidates (all pair-seeds)", "", *fixed_table(cases, candidates),
              "", "## Each label-free score alone", "", *scorer_table(cases, candidates),
              "", "## The rule `auto` ships with", "",
              f"Chosen on all {len(cases)} development pair-seeds: **{rule_name(final)}** (in-sample mean "
              f"(WAR + UAR) / 2 {memo.mean(final, cases):.2f}; the "
              "leave-one-corpus-out summary above is the out-of-sample estimate). "
              f"`DEFAULT_RULE` today: {rule_name(DEFAULT_RULE)}."]
    if missing:
        lines += ["", "Left out (candidate runs missing): " + "; ".join(missing)]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
