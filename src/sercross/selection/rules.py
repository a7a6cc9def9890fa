"""Rules that pick one candidate per pair from label-free scores: the decision ``--method auto`` makes.

A rule ranks the candidates by one or more label-free scores (each "higher is better"; with several, by the mean
of their ranks) and picks the best; ties go to the candidate listed first. Besides the per-run scores of
:mod:`sercross.selection.scorers`, a rule may use ``consensus``: how often a candidate's target predictions agree
with the majority vote of all candidates (disagreement with an ensemble as a sign of error: Chen et al.,
"Detecting errors and estimating accuracy on unlabeled data with self-training ensembles", NeurIPS 2021). No
rule reads a target label. A rule may also average: the mean target class probabilities of its k best-ranked
candidates, or of its whole pool, instead of one candidate's. Which rule ``auto`` uses was chosen by
leave-one-corpus-out over the development pairs (``bench/selection.md``, ``bench/selection_ensemble.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sercross.infra import SercrossError, did_you_mean
from sercross.selection.confounding import majority_vote
from sercross.selection.scorers import SCORES

RULE_SCORES = (*SCORES, "consensus")
COMBINE = ("mean", "vote")


@dataclass(frozen=True)
class SelectionRule:
    """Which candidates ``auto`` trains and how it ranks them (stored with every ``auto`` run)."""

    candidates: tuple[str, ...]
    scores: tuple[str, ...] = ("rv",)
    # Candidates on speaker-normalised inputs are left out when the pair's speaker-class confounding (selection.
    # confounding: max of source and estimated target) exceeds this; None: never.
    speaker_gate: float | None = None
    # How many of the best-ranked candidates of the pool are averaged (mean target class probabilities): 1 picks one
    # run; None averages the whole pool, whatever the scores (they still rank it, for the record).
    average: int | None = 1
    # How the averaged candidates decide: "mean" of their class probabilities, or "vote" (each candidate's class;
    # ties go to the higher mean probability).
    combine: str = "mean"

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
        if self.speaker_gate is not None and not 0 <= self.speaker_gate <= 1:
            raise SercrossError(f"speaker_gate must be in [0, 1] or None, got {self.speaker_gate!r}")
        if self.average is not None and (isinstance(self.average, bool) or not isinstance(self.average, int)
                                         or self.average < 1):
            raise SercrossError(f"average must be a whole number ≥ 1 or None (the whole pool), got {self.average!r}")
        if self.combine not in COMBINE:
            raise SercrossError(f"unknown way to combine candidates {self.combine!r}"
                                f"{did_you_mean(self.combine, COMBINE)}", hint=f"one of {', '.join(COMBINE)}")

    def to_dict(self) -> dict:
        # speaker_gate and average only when not their defaults: rules recorded before they existed stay equal to
        # today's rules that do the same
        doc = {k: list(v) for k, v in asdict(self).items() if k in ("candidates", "scores")}
        if self.speaker_gate is not None:
            doc["speaker_gate"] = self.speaker_gate
        if self.average != 1:
            doc["average"] = self.average
        if self.combine != "mean":
            doc["combine"] = self.combine
        return doc

    def gated(self, confounding: float | None) -> bool:
        """Whether the speaker-normalised candidates are left out for a pair with this confounding."""
        return self.speaker_gate is not None and confounding is not None and confounding > self.speaker_gate

    def describe(self) -> str:
        ranked, how = ' + '.join(self.scores), self.combine
        words = (f"the best {ranked} among {len(self.candidates)} candidates" if self.average == 1 else
                 f"the {how} of all {len(self.candidates)} candidates" if self.average is None else
                 f"the {how} of the {self.average} best by {ranked} among {len(self.candidates)} candidates")
        if self.speaker_gate is not None:
            words += f" (without speaker normalisation where speaker-class NMI > {self.speaker_gate:g})"
        return words


@dataclass(frozen=True)
class Pick:
    method: str
    rank: float  # mean rank over the rule's scores (1 = best)
    runner_up: str | None
    runner_up_rank: float | None
    table: dict  # candidate -> {score: value} as used, for the record
    pool: tuple[str, ...] = ()  # the candidates ranked (all, or those left by the speaker gate)
    members: tuple[str, ...] = ()  # the candidates averaged, best-ranked first (a rule with average 1: the pick)
    combine: str = "mean"  # how the members decide (the rule's combine)

    @property
    def label(self) -> str:
        """What was chosen, for tables: the candidate, ``mean of N: a+b+…`` for an average of some candidates, or
        ``mean of all N`` when the whole pool is averaged (``vote of …`` for a vote)."""
        if len(self.members) <= 1:
            return self.method
        if set(self.members) == set(self.pool):
            return f"{self.combine} of all {len(self.members)}"
        return f"{self.combine} of {len(self.members)}: {'+'.join(self.members)}"


def consensus(predictions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Share of each candidate's target predictions that agree with the candidates' majority vote (ties of the
    vote go to the lowest class index)."""
    majority = majority_vote(predictions)
    return {m: float(np.mean(np.asarray(p, int) == majority)) for m, p in predictions.items()}


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


def speaker_normalised(methods: Sequence[str]) -> set[str]:
    """The methods among ``methods`` that read speaker-normalised inputs."""
    from sercross.methods import get_method

    return {m for m in methods if getattr(get_method(m), "input_norm", "corpus") == "speaker"}


def apply_rule(rule: SelectionRule, scores: Mapping[str, Mapping[str, float | None]],
               predictions: Mapping[str, np.ndarray] | None = None, confounding: float | None = None) -> Pick:
    """The candidate ``rule`` picks, given each candidate's label-free scores, (for ``consensus``) its target
    predictions and (for a gated rule) the pair's speaker-class confounding. Keyed by the rule's candidates."""
    missing = [m for m in rule.candidates if m not in scores]
    if missing:
        raise SercrossError(f"no label-free scores for candidate(s) {', '.join(missing)}")
    pool = list(rule.candidates)
    if rule.gated(confounding):
        spk = speaker_normalised(pool)
        pool = [m for m in pool if m not in spk] if len(spk) <= len(pool) - 2 else pool
    table = {m: dict(scores[m]) for m in rule.candidates}
    if "consensus" in rule.scores:
        if predictions is None:
            raise SercrossError("the rule ranks by consensus but no target predictions were given")
        for m, v in consensus({m: predictions[m] for m in pool}).items():
            table[m]["consensus"] = v
    ranks = np.mean([_ranks([table[m].get(s) for m in pool]) for s in rule.scores], axis=0)
    order = sorted(range(len(pool)), key=lambda i: (ranks[i], i))
    first, second = order[0], order[1]
    k = len(pool) if rule.average is None else min(rule.average, len(pool))
    return Pick(pool[first], float(ranks[first]), pool[second], float(ranks[second]), table, tuple(pool),
                tuple(pool[i] for i in order[:k]), rule.combine)


def combine_outputs(probabilities: Sequence[np.ndarray], how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """``(class per utterance, class scores)`` of several candidates' class probabilities (each utterances ×
    classes): their mean, or with ``"vote"`` each class's share of the candidates' votes (ties: the class with the
    higher mean probability)."""
    stack = np.asarray(probabilities, dtype=np.float64)
    mean = stack.mean(axis=0)
    if how == "mean":
        return mean.argmax(axis=1), mean
    if how != "vote":
        raise SercrossError(f"unknown way to combine candidates {how!r}", hint=f"one of {', '.join(COMBINE)}")
    counts = np.zeros_like(mean)
    for p in stack:
        counts[np.arange(len(p)), p.argmax(axis=1)] += 1
    # half a mean probability is at most 0.5, less than one vote: it only breaks ties of the count
    return (counts + 0.5 * mean).argmax(axis=1), counts / len(stack)


# What ``--method auto`` trains and how it decides, chosen on the 24 development pairs (12 ordered pairs of EmoDB,
# CASIA, EMOVO and RAVDESS and 12 with a speaker-confounded variant; fast preset, seeds 0-2): the mean of every
# candidate's target class probabilities, the speaker-normalised candidates left out where the pair's speaker-class
# confounding exceeds 0.3. Out of sample (leave-one-corpus-out) this family of rules beat picking one candidate by
# label-free scores (bench/selection_ensemble.md); rv still ranks the candidates, for the record.
DEFAULT_RULE = SelectionRule(
    candidates=("only_cls", "only_cls_spk", "tlmlda", "tlmlda_plus", "tlmlda_plus_no_spk",
                "logreg", "sk_coral", "sk_subspace", "sk_linear_ot", "sk_kmm", "sk_ot_prop",
                "logreg_spk", "sk_coral_spk", "sk_subspace_spk", "sk_linear_ot_spk", "sk_kmm_spk", "sk_ot_prop_spk"),
    scores=("rv",),
    speaker_gate=0.3,
    average=None,
)
