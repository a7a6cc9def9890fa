"""Rules that pick one candidate per pair from label-free scores: the decision ``--method auto`` makes.

A rule ranks the candidates by one or more label-free scores (each "higher is better"; with several, by the mean
of their ranks) and picks the best; ties go to the candidate listed first. Besides the per-run scores of
:mod:`sercross.selection.scorers`, a rule may use ``consensus``: how often a candidate's target predictions agree
with the majority vote of all candidates (disagreement with an ensemble as a sign of error: Chen et al.,
"Detecting errors and estimating accuracy on unlabeled data with self-training ensembles", NeurIPS 2021). No
rule reads a target label. Which rule ``auto`` uses was chosen by leave-one-corpus-out over the development pairs
(``bench/selection.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sercross.infra import SercrossError, did_you_mean
from sercross.selection.scorers import SCORES

RULE_SCORES = (*SCORES, "consensus")


@dataclass(frozen=True)
class SelectionRule:
    """Which candidates ``auto`` trains and how it ranks them (stored with every ``auto`` run)."""

    candidates: tuple[str, ...]
    scores: tuple[str, ...] = ("rv",)

    def __post_init__(self) -> None:
        for name in ("candidates", "scores"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if len(self.candidates) < 2 or len(set(self.candidates)) != len(self.candidates):
            raise SercrossError(f"a selection rule needs two or more distinct candidates, got {self.candidates!r}")
        if not self.scores:
            raise SercrossError("a selection rule needs at least one score", hint=f"one of {', '.join(RULE_SCORES)}")
        for s in self.scores:
            if s not in RULE_SCORES:
                raise SercrossError(f"unknown label-free score {s!r}{did_you_mean(s, RULE_SCORES)}",
                                    hint=f"one of {', '.join(RULE_SCORES)}")

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Pick:
    method: str
    rank: float  # mean rank over the rule's scores (1 = best)
    runner_up: str | None
    runner_up_rank: float | None
    table: dict  # candidate -> {score: value} as used, for the record


def consensus(predictions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Share of each candidate's target predictions that agree with the candidates' majority vote (ties of the
    vote go to the lowest class index)."""
    names = list(predictions)
    votes = np.stack([np.asarray(predictions[m], int) for m in names])
    n_classes = int(votes.max()) + 1
    counts = np.zeros((n_classes, votes.shape[1]), int)
    for row in votes:
        counts[row, np.arange(votes.shape[1])] += 1
    majority = counts.argmax(axis=0)
    return {m: float(np.mean(votes[i] == majority)) for i, m in enumerate(names)}


def _ranks(values: Sequence[float | None]) -> np.ndarray:
    """Rank 1 for the highest value; a missing value ranks last; equal values share their mean rank."""
    v = np.array([-np.inf if x is None or not np.isfinite(x) else x for x in values], float)
    order = (-v).argsort(kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for x in np.unique(v):  # mean rank within ties
        same = v == x
        ranks[same] = ranks[same].mean()
    return ranks


def apply_rule(rule: SelectionRule, scores: Mapping[str, Mapping[str, float | None]],
               predictions: Mapping[str, np.ndarray] | None = None) -> Pick:
    """The candidate ``rule`` picks, given each candidate's label-free scores and (for ``consensus``) its target
    predictions. ``scores`` and ``predictions`` are keyed by the rule's candidates."""
    missing = [m for m in rule.candidates if m not in scores]
    if missing:
        raise SercrossError(f"no label-free scores for candidate(s) {', '.join(missing)}")
    table = {m: dict(scores[m]) for m in rule.candidates}
    if "consensus" in rule.scores:
        if predictions is None:
            raise SercrossError("the rule ranks by consensus but no target predictions were given")
        for m, v in consensus({m: predictions[m] for m in rule.candidates}).items():
            table[m]["consensus"] = v
    ranks = np.mean([_ranks([table[m].get(s) for m in rule.candidates]) for s in rule.scores], axis=0)
    order = sorted(range(len(rule.candidates)), key=lambda i: (ranks[i], i))
    first, second = order[0], order[1]
    return Pick(rule.candidates[first], float(ranks[first]), rule.candidates[second], float(ranks[second]), table)


# What ``--method auto`` trains and how it picks: the candidates and scores chosen by leave-one-corpus-out over the
# development pairs (bench/selection.md, made by bench/selection_loco.py).
DEFAULT_RULE = SelectionRule(
    candidates=("only_cls", "only_cls_spk", "tlmlda", "tlmlda_plus", "tlmlda_plus_no_spk", "dann", "dann_spk",
                "coral", "coral_spk", "logreg", "sk_coral", "sk_subspace", "sk_linear_ot", "sk_kmm", "sk_ot_prop",
                "logreg_spk", "sk_coral_spk", "sk_subspace_spk", "sk_linear_ot_spk", "sk_kmm_spk", "sk_ot_prop_spk"),
    scores=("rv",),
)
