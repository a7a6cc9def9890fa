"""The data behind each figure comes from the right arrays: the stored models, metrics.json and history.csv."""

import numpy as np
import pytest

from sercross.experiments.run_files import load_estimator
from sercross.infra.cache import read_csv
from sercross.infra.errors import SercrossError
from sercross.methods.config import LOSS_NAMES
from sercross.methods.metrics import confusion, per_class_recall
from sercross.report.figure_data import (
    confusion_counts,
    embed,
    figure2_groups,
    mean_confusion,
    recall_summary,
    row_normalise,
    training_curves,
    tsne_inputs,
)
from sercross.report.selection import load_run


@pytest.mark.slow
def test_tsne_inputs_are_the_stored_models_learned_features(demo):
    cache, pair, runs = demo
    run = load_run(runs["tlmlda"])
    inp = tsne_inputs(run)
    assert inp.source.shape == (len(pair.ys), 256) and inp.target.shape == (len(pair.yt), 256)
    est = load_estimator(runs["tlmlda"])
    assert np.array_equal(inp.source, est.transform(pair.Xs)) and np.array_equal(inp.target, est.transform(pair.Xt))
    assert np.array_equal(inp.yt, pair.yt) and inp.classes == pair.classes
    other = tsne_inputs(load_run(runs["only_cls"]), pair)
    assert not np.allclose(other.source, inp.source)  # each panel its own model
    sxy, txy = embed(inp.source, inp.target)
    assert sxy.shape == (len(pair.ys), 2) and txy.shape == (len(pair.yt), 2)
    again = embed(inp.source, inp.target)
    assert np.array_equal(again[0], sxy)  # fixed random_state
    with pytest.raises(SercrossError, match="no learned 256-d features"):
        tsne_inputs(load_run(runs["pca_svm"]))


@pytest.mark.slow
def test_confusion_data_matches_the_models_predictions_on_the_target(demo):
    cache, pair, runs = demo
    for key in ("tlmlda", "pca_svm"):
        run = load_run(runs[key])
        cm = confusion_counts(run)
        pred = load_estimator(runs[key]).predict(pair.Xt)
        assert np.array_equal(cm, confusion(pair.yt, pred, len(pair.classes)))
        assert cm.sum() == len(pair.yt)
        rec = row_normalise(cm)
        assert np.allclose(rec.sum(axis=1), 1.0)
        assert np.allclose(np.diag(rec), per_class_recall(cm))
    cms = [confusion_counts(load_run(runs[k])) for k in ("pca_svm", "pca_svm_1")]
    avg = mean_confusion(cms)
    assert np.isclose(avg.sum(), len(pair.yt)) and np.allclose(avg, (cms[0] + cms[1]) / 2)
    assert np.allclose(row_normalise(avg).sum(axis=1), 1.0)


def test_row_normalise_and_mean_confusion_edge_cases():
    rec = row_normalise(np.array([[2, 2], [0, 0]]))
    assert np.allclose(rec[0], [0.5, 0.5]) and np.isnan(rec[1]).all()
    with pytest.raises(ValueError):
        mean_confusion([np.zeros((2, 2)), np.zeros((3, 3))])


@pytest.mark.slow
def test_recall_summary_is_the_mean_over_seeds_per_method(demo):
    _, pair, runs = demo
    rs = [load_run(runs[k]) for k in ("tlmlda", "pca_svm", "pca_svm_1")]
    s = recall_summary(rs)
    assert s.methods == ["tlmlda", "pca_svm"] and s.n_seeds == [1, 2] and s.classes == pair.classes
    per_seed = [per_class_recall(confusion_counts(r)) for r in rs[1:]]
    assert np.allclose(s.mean[1], np.mean(per_seed, axis=0))
    assert np.isclose(s.uar[1], np.mean([r.metrics["uar"] for r in rs[1:]]))
    assert np.isnan(s.sd[0]).all()


@pytest.mark.slow
def test_training_curves_read_history_csv(demo):
    _, _, runs = demo
    c = training_curves(load_run(runs["tlmlda"]))
    hist = read_csv(runs["tlmlda"] / "history.csv")
    assert list(c.epoch) == [1.0, 2.0] and set(c.loss) == set(LOSS_NAMES) and not c.inactive
    assert np.allclose(c.loss["MMD"], [float(r["loss_MMD"]) for r in hist])
    assert np.allclose(c.effective["L_y"], [float(r["effective_L_y"]) for r in hist])
    assert np.allclose(c.target_war_monitor, [float(r["target_war_monitor"]) for r in hist])
    only = training_curves(load_run(runs["only_cls"]))
    assert list(only.loss) == ["L_y"] and only.inactive == ("L_S", "L_T", "MMD", "LMMD") and only.weighting == "unit"
    assert training_curves(load_run(runs["tlmlda_m"])).inactive == ("LMMD",)
    assert training_curves(load_run(runs["pca_svm"])) is None


@pytest.mark.slow
def test_figure2_groups_take_one_seed_and_preset_per_figure(demo):
    _, _, runs = demo
    all_runs = [load_run(p) for p in runs.values()]
    (preset, seed, found), = figure2_groups(all_runs)
    assert (preset, seed) == ("demo", 0) and list(found) == ["only_cls", "tlmlda_m", "tlmlda"]
    (_, _, part), = figure2_groups([r for r in all_runs if r.method != "tlmlda_m"])
    assert list(part) == ["only_cls", "tlmlda"]
    assert figure2_groups([r for r in all_runs if r.method == "pca_svm"]) == []
