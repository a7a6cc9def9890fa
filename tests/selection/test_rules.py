"""Selection rules: ranks, ties, consensus, and refusals."""

import numpy as np
import pytest

from sercross.infra import SercrossError
from sercross.selection.rules import SelectionRule, apply_rule, consensus


def test_one_score_picks_its_highest_and_names_the_runner_up():
    rule = SelectionRule(("a", "b", "c"), ("rv",))
    pick = apply_rule(rule, {"a": {"rv": 0.5}, "b": {"rv": 0.7}, "c": {"rv": 0.6}})
    assert (pick.method, pick.runner_up) == ("b", "c") and pick.rank == 1.0


def test_several_scores_rank_by_their_mean_rank_and_ties_go_to_the_first_listed():
    rule = SelectionRule(("a", "b", "c"), ("rv", "dev"))
    scores = {"a": {"rv": 0.9, "dev": -3.0}, "b": {"rv": 0.8, "dev": -1.0}, "c": {"rv": 0.1, "dev": -2.0}}
    # ranks: a (1, 3), b (2, 1), c (3, 2) -> means 2, 1.5, 2.5
    assert apply_rule(rule, scores).method == "b"
    tie = {"a": {"rv": 0.5}, "b": {"rv": 0.5}, "c": {"rv": 0.1}}
    assert apply_rule(SelectionRule(("a", "b", "c")), tie).method == "a"
    assert apply_rule(SelectionRule(("b", "a", "c")), tie).method == "b"


def test_a_missing_score_ranks_last():
    pick = apply_rule(SelectionRule(("a", "b")), {"a": {"rv": None}, "b": {"rv": 0.1}})
    assert pick.method == "b"
    pick = apply_rule(SelectionRule(("a", "b")), {"a": {"rv": float("nan")}, "b": {"rv": 0.1}})
    assert pick.method == "b"


def test_consensus_is_agreement_with_the_majority_vote():
    preds = {"a": np.array([0, 1, 2, 2]), "b": np.array([0, 1, 2, 0]), "c": np.array([1, 1, 2, 2])}
    # majority: [0, 1, 2, 2]
    assert consensus(preds) == {"a": 1.0, "b": 0.75, "c": 0.75}
    pick = apply_rule(SelectionRule(("b", "c", "a"), ("consensus",)), {m: {} for m in preds}, preds)
    assert pick.method == "a" and pick.table["a"]["consensus"] == 1.0


def test_bad_rules_are_refused_when_built():
    with pytest.raises(SercrossError, match="did you mean 'rv'"):
        SelectionRule(("a", "b"), ("rvv",))
    with pytest.raises(SercrossError, match="two or more distinct"):
        SelectionRule(("a", "a"))
    with pytest.raises(SercrossError, match="no label-free scores"):
        apply_rule(SelectionRule(("a", "b")), {"a": {"rv": 1.0}})


def test_speaker_class_nmi_is_0_when_every_speaker_shows_every_class_and_1_when_the_speaker_decides():
    from sercross.selection import speaker_class_nmi

    speakers = ["a"] * 4 + ["b"] * 4
    assert speaker_class_nmi(speakers, [0, 1, 2, 3] * 2) == pytest.approx(0.0, abs=1e-12)
    assert speaker_class_nmi(speakers, [0] * 4 + [1] * 4) == pytest.approx(1.0)
    assert speaker_class_nmi(["a"] * 8, [0, 1] * 4) is None  # no speaker information


def test_a_gated_rule_leaves_speaker_normalised_candidates_out_only_above_its_threshold():
    rule = SelectionRule(("only_cls", "logreg", "only_cls_spk"), ("rv",), speaker_gate=0.5)
    scores = {"only_cls": {"rv": 0.2}, "logreg": {"rv": 0.3}, "only_cls_spk": {"rv": 0.9}}
    assert apply_rule(rule, scores, confounding=0.4).method == "only_cls_spk"
    gated = apply_rule(rule, scores, confounding=0.6)
    assert gated.method == "logreg" and gated.pool == ("only_cls", "logreg")
    assert apply_rule(rule, scores, confounding=None).method == "only_cls_spk"  # unknown: not gated
    assert "speaker_gate" not in SelectionRule(("a", "b")).to_dict()  # older records stay equal
    with pytest.raises(SercrossError):
        SelectionRule(("a", "b"), speaker_gate=1.5)


def test_an_averaging_rule_names_its_best_ranked_members_and_records_average_only_when_set():
    scores = {"a": {"rv": 0.5}, "b": {"rv": 0.7}, "c": {"rv": 0.6}}
    one = apply_rule(SelectionRule(("a", "b", "c")), scores)
    assert one.members == ("b",) and one.label == "b"
    two = apply_rule(SelectionRule(("a", "b", "c"), average=2), scores)
    assert (two.method, two.members, two.label) == ("b", ("b", "c"), "mean of 2: b+c")
    every = apply_rule(SelectionRule(("a", "b", "c"), average=None), scores)
    assert every.members == ("b", "c", "a") and every.label == "mean of all 3"
    assert apply_rule(SelectionRule(("a", "b", "c"), average=9), scores).members == ("b", "c", "a")
    assert "average" not in SelectionRule(("a", "b")).to_dict()
    assert SelectionRule(("a", "b"), average=None).to_dict()["average"] is None
    assert "mean of all 2" in SelectionRule(("a", "b"), average=None).describe()
    for bad in (0, True, 1.5):
        with pytest.raises(SercrossError, match="average"):
            SelectionRule(("a", "b"), average=bad)


def test_candidates_combine_by_mean_probability_or_by_vote_with_ties_to_the_higher_mean():
    from sercross.selection import combine_outputs

    a = np.array([[0.6, 0.4], [0.9, 0.1]])
    b = np.array([[0.4, 0.6], [0.45, 0.55]])
    c = np.array([[0.3, 0.7], [0.6, 0.4]])
    pred, mean = combine_outputs([a, b, c])
    assert pred.tolist() == [1, 0] and np.allclose(mean[1], [0.65, 0.35])
    pred, shares = combine_outputs([a, b, c], "vote")
    assert pred.tolist() == [1, 0] and np.allclose(shares, [[1 / 3, 2 / 3], [2 / 3, 1 / 3]])
    pred, _ = combine_outputs([a, b], "vote")  # one vote each: the higher mean probability decides
    assert pred.tolist() == [0, 0]
    rule = SelectionRule(("a", "b", "c"), average=None, combine="vote")
    assert apply_rule(rule, {m: {"rv": 0.1} for m in "abc"}).label == "vote of all 3"
    assert rule.to_dict()["combine"] == "vote" and "combine" not in SelectionRule(("a", "b")).to_dict()
    with pytest.raises(SercrossError, match="did you mean 'vote'"):
        SelectionRule(("a", "b"), combine="vot")
