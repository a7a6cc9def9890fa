"""auto: candidates trained as ordinary runs, a label-free pick recorded per scheme and seed, never a target label."""

import json

import pytest
from test_benchmark import TINY, isolated, write_features  # noqa: F401 (fixture)

from sercross.experiments import (
    benchmark_meta,
    build_tables,
    collect_results,
    plan_benchmark,
    run_benchmark,
    select_all,
)
from sercross.experiments.auto import SELECTION_FILE, trained_methods
from sercross.experiments.run_files import load_estimator
from sercross.selection import DEFAULT_RULE, SelectionRule

RULE = SelectionRule(("only_cls", "logreg", "sk_coral"), ("rv",))
GATED = SelectionRule(("only_cls", "logreg", "logreg_spk"), ("rv", "consensus"), speaker_gate=0.0)


def test_auto_stands_for_the_candidates_of_the_default_rule():
    assert trained_methods(["pca_svm", "auto"]) == ("pca_svm", *DEFAULT_RULE.candidates)
    assert trained_methods(["auto", "only_cls"]).count("only_cls") == 1


def test_auto_candidates_join_the_grid_once_with_auto_s_preset_and_settings():
    from sercross.experiments.plan import with_candidates
    from sercross.experiments.recipes import Recipe

    rule = SelectionRule(("dan", "logreg"), ("rv",))
    grid = {"dan": Recipe.build("dan", "fast"), "auto": Recipe.build("auto", "fast")}
    recipes, candidates = with_candidates(grid, rule)
    assert list(recipes) == ["dan", "logreg", "auto"] and candidates == {"auto": {"dan": "dan", "logreg": "logreg"}}
    grid = {"dan": Recipe.build("dan", "fast"), "auto": Recipe.build("auto", "fast", {"epochs": 3})}
    recipes, candidates = with_candidates(grid, rule)  # auto's dan is another run than the grid's dan
    assert candidates["auto"]["dan"] == "dan (auto)" and recipes["dan (auto)"].tag == "fast_e3"
    assert recipes["dan"].tag == "fast" and recipes["logreg"] == Recipe.build("logreg", "fast", {"epochs": 3})


@pytest.mark.slow  # trains 6 small runs
def test_a_grid_with_auto_trains_the_candidates_and_records_a_pick(tmp_path):
    cache = tmp_path / "cache"
    write_features(cache, "demo_a", seed=1)
    write_features(cache, "demo_b", seed=2)
    plan = plan_benchmark(cache, [("demo_a", "demo_b")], methods=["auto"], seeds=[0, 1], preset="tiny", rule=RULE)
    assert plan.methods == (*RULE.candidates, "auto") and len(plan.runs) == 6 and len(plan.selections) == 2
    outcome = run_benchmark(plan, jobs=1)
    results = select_all(plan)
    assert [r.pick in RULE.candidates for r in results] == [True, True]
    doc = json.loads((results[0].run_dir / SELECTION_FILE).read_text())
    assert set(doc["candidates"]) == set(RULE.candidates) and doc["pick"] != doc["runner_up"]
    assert all(set(c["label_free"]) >= {"rv", "dev", "mixval"} for c in doc["candidates"].values())
    rows = {(r["method"], r["seed"]): r for r in collect_results(plan, outcome)}
    auto = rows[("auto", 0)]
    assert auto["status"] == "selected" and auto["war"] == rows[(auto["picked"], 0)]["war"]
    assert load_estimator(results[0].run_dir) is not None
    section = build_tables(collect_results(plan, outcome), benchmark_meta(plan, "t", outcome))["selection"]
    (scheme,) = section["schemes"].values()
    cand_war = [[100 * rows[(m, s)]["war"] for m in RULE.candidates] for s in (0, 1)]
    assert scheme["oracle_war"] == pytest.approx((max(cand_war[0]) + max(cand_war[1])) / 2)
    assert scheme["regret"] == pytest.approx(scheme["oracle_war"] - scheme["war"]) and scheme["regret"] >= 0
    # made again: nothing is trained or re-selected
    again = plan_benchmark(cache, [("demo_a", "demo_b")], methods=["auto"], seeds=[0, 1], preset="tiny", rule=RULE)
    assert not again.todo and all(r.reused for r in select_all(again))


@pytest.mark.slow  # trains 6 small runs
def test_the_pick_reads_no_target_label(tmp_path):
    picks = []
    for k, permute in enumerate((None, ("anger", "fear", "happiness", "neutral", "sadness"))):
        cache = tmp_path / f"cache{k}"
        write_features(cache, "demo_a", seed=1)
        write_features(cache, "demo_b", seed=2, permute_labels=permute)  # the target's labels shuffled
        plan = plan_benchmark(cache, [("demo_a", "demo_b")], methods=["auto"], seeds=[0], preset="tiny",
                              rule=GATED)
        run_benchmark(plan, jobs=1)
        (result,) = select_all(plan)
        doc = json.loads((result.run_dir / SELECTION_FILE).read_text())
        picks.append((result.pick, result.runner_up, {m: c["label_free"] for m, c in doc["candidates"].items()},
                      doc["confounding"], doc["pool"]))
    assert picks[0] == picks[1]
    assert picks[0][4] == ["only_cls", "logreg"]  # gate 0: the speaker-normalised candidate left out


@pytest.mark.slow  # trains 3 small runs
@pytest.mark.parametrize("combine", ["mean", "vote"])
def test_an_averaging_rule_scores_the_mean_of_its_members_probabilities(tmp_path, combine):
    import numpy as np

    from sercross.infra import SercrossError, read_csv

    cache = tmp_path / "cache"
    write_features(cache, "demo_a", seed=1)
    write_features(cache, "demo_b", seed=2)
    rule = SelectionRule(("only_cls", "logreg", "sk_coral"), ("rv",), average=None, combine=combine)
    plan = plan_benchmark(cache, [("demo_a", "demo_b")], methods=["auto"], seeds=[0], preset="tiny", rule=rule)
    outcome = run_benchmark(plan, jobs=1)
    (result,) = select_all(plan)
    doc = json.loads((result.run_dir / SELECTION_FILE).read_text())
    assert sorted(doc["members"]) == sorted(rule.candidates) and doc["pick"] == f"{combine} of all 3"
    rows = {r["method"]: r for r in collect_results(plan, outcome)}
    tables = {m: read_csv(plan.candidate_dirs(plan.selections[0])[m] / "predictions.csv") for m in rule.candidates}
    classes = [k[2:] for k in tables["logreg"][0] if k.startswith("p_")]
    each = np.array([[[float(r[f"p_{c}"]) for c in classes] for r in t] for t in tables.values()])
    mean = each.mean(axis=0)
    if combine == "vote":  # each member's class counted, ties to the higher mean probability
        votes = np.stack([(p.argmax(axis=1)[:, None] == np.arange(len(classes))) for p in each]).sum(axis=0)
        decided = [max(range(len(classes)), key=lambda k, i=i: (votes[i, k], mean[i, k])) for i in range(len(mean))]
        mean = votes / len(each)
    else:
        decided = mean.argmax(axis=1)
    truth = [classes.index(r["true"]) for r in tables["logreg"]]
    assert rows["auto"]["war"] == pytest.approx(float(np.mean(np.asarray(decided) == truth)))
    assert rows["auto"]["picked"] == doc["pick"] and rows["auto"]["status"] == "selected"
    written = read_csv(result.run_dir / "predictions.csv")
    assert np.allclose([[float(r[f"p_{c}"]) for c in classes] for r in written], mean, atol=1e-6)
    with pytest.raises(SercrossError, match="averages 3 candidate runs"):
        load_estimator(result.run_dir)
    # predict on new recordings averages the members too: the target's own features give the run's predictions
    from sercross.experiments.pairs import load_pair
    from sercross.experiments.predict import _model_outputs
    from sercross.experiments.resolve import add_target_scaling
    from sercross.experiments.run_files import read_run_config
    from sercross.features import load_features

    pair = load_pair(cache, "demo_a", "demo_b", "IS10")
    table = load_features(cache, "demo_b", "IS10")
    if pair.target_scaling is None:
        assert add_target_scaling(cache, pair, table)
    row = {u.file: i for i, u in enumerate(table.utterances)}
    X = table.X[[row[f] for f in pair.target_files]]
    pred, proba, _ = _model_outputs(result.run_dir, read_run_config(result.run_dir), pair, X, pair.target_speakers)
    assert [classes[k] for k in pred] == [r["predicted"] for r in written] == [classes[k] for k in decided]
    assert np.allclose(proba, mean, atol=1e-5)
