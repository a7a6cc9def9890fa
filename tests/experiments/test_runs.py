"""Run folders (runs, run_files, run_status): artifacts, determinism, stale or interrupted artifacts, awkward data."""

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch

from sercross.experiments.evaluation import evaluate_run
from sercross.experiments.pairs import Pair, speaker_normalize
from sercross.experiments.run_files import load_estimator, read_run_config
from sercross.experiments.run_status import run_state
from sercross.experiments.runs import train_run
from sercross.infra.errors import SercrossError
from sercross.methods import ADDED_TRAIN_FIELDS, METHODS, get_preset
from sercross.selection import SCORES

CFG = get_preset("demo", epochs=2, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1)


def make_pair(rng, n=30, d=16, classes=("anger", "sadness", "fear")):
    k = len(classes)
    ys, yt = rng.integers(0, k, n), rng.integers(0, k, n)
    Xs = rng.random((n, d)).astype(np.float32)
    Xt = rng.random((n, d)).astype(np.float32)
    return Pair("a", "b", "IS10", classes, Xs, ys, Xt, yt, [f"s{i}.wav" for i in range(n)],
                [f"t{i}.wav" for i in range(n)], [f"spk{i % 3}" for i in range(n)], {"fingerprint": "x"})


def test_run_folder_has_every_artifact_and_is_deterministic(rng, tmp_path):
    p = make_pair(rng)
    a = train_run(tmp_path / "1", p, "tlmlda", "demo", CFG, seed=4)
    b = train_run(tmp_path / "2", p, "tlmlda", "demo", CFG, seed=4)
    for f in ("config.json", "model.pt", "history.csv", "metrics.json", "predictions.csv"):
        assert (a / f).is_file()
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma["war"] == mb["war"] and ma["confusion"] == mb["confusion"]
    assert (a / "model.pt").read_bytes() == (b / "model.pt").read_bytes()
    cfg = json.loads((a / "config.json").read_text())
    assert cfg["reported_epoch"] == "last" and cfg["seed"] == 4 and cfg["peak_rss_mb"] > 0
    import numpy
    import torch

    # the libraries that can change the numbers are recorded with them
    assert cfg["libraries"]["numpy"] == numpy.__version__ and cfg["libraries"]["torch"] == torch.__version__
    assert any(b.startswith("openblas") or b.startswith("mkl") for b in cfg["blas"]), cfg["blas"]
    # a reloaded model predicts what the trained one did
    est = load_estimator(a)
    rows = list(csv.DictReader(open(a / "predictions.csv")))
    assert [p.classes[i] for i in est.predict(p.Xt)] == [r["predicted"] for r in rows]
    # each row: the file's speaker, its true class, and a probability per class that argmax gives the prediction
    assert list(rows[0]) == ["file", "speaker", "true", "predicted", "p_anger", "p_sadness", "p_fear"]
    assert [r["true"] for r in rows] == [p.classes[t] for t in p.yt]
    assert [r["speaker"] for r in rows] == [""] * len(rows)  # this pair has no target speakers
    for r in rows:
        probs = {c: float(r[f"p_{c}"]) for c in p.classes}
        assert abs(sum(probs.values()) - 1) < 1e-4 and max(probs, key=probs.get) == r["predicted"]


def test_metrics_give_each_target_speaker_s_results(rng, tmp_path):
    p = make_pair(rng)
    p.target_speakers = [f"t{i % 2}" for i in range(len(p.yt))]
    out = train_run(tmp_path, p, "pca_svm", "demo", CFG, seed=0)
    met = json.loads((out / "metrics.json").read_text())
    assert set(met["per_speaker"]) == {"t0", "t1"} and met["per_speaker"]["t0"]["n"] == 15
    pred = np.array([p.classes.index(r["predicted"]) for r in csv.DictReader(open(out / "predictions.csv"))])
    rows = np.arange(len(pred)) % 2 == 1
    assert met["per_speaker"]["t1"]["war"] == pytest.approx(float((pred[rows] == p.yt[rows]).mean()))
    assert [r["speaker"] for r in csv.DictReader(open(out / "predictions.csv"))][:3] == ["t0", "t1", "t0"]


def test_a_run_on_an_unlabelled_target_reports_predictions_not_scores(rng, tmp_path):
    p = make_pair(rng)
    p.yt = np.full(len(p.yt), -1)
    p.meta["target_labelled"] = False
    out = train_run(tmp_path, p, "tlmlda", "demo", CFG, seed=0)
    met = json.loads((out / "metrics.json").read_text())
    assert met["labelled"] is False and met["war"] is None and met["uar"] is None and "no labels" in met["note"]
    assert sum(met["predicted"].values()) == len(p.yt) == met["n"]
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert {r["true"] for r in rows} == {""} and len(rows) == len(p.yt)
    assert "target_war_monitor" not in (out / "history.csv").read_text().splitlines()[0]
    assert run_state(out, "x", "tlmlda", "demo", 0, CFG) == "finished"


def test_constant_columns_and_single_class_batches_train(rng, tmp_path):
    p = make_pair(rng)
    p.Xs[:, :4] = 0.0  # constant after min-max scaling
    p.Xt[:, :4] = 0.0
    p.ys[:] = 0
    p.ys[1] = 1  # nearly every batch holds a single class
    out = train_run(tmp_path, p, "tlmlda", "demo", CFG, seed=0)
    assert np.isfinite(json.loads((out / "metrics.json").read_text())["war"])


def test_interrupted_retraining_is_detected(rng, tmp_path):
    p = make_pair(rng)
    out = train_run(tmp_path, p, "only_cls", "demo", CFG, seed=0)
    (out / "model.pt").write_bytes(b"half")
    with pytest.raises(SercrossError, match="does not match"):
        load_estimator(out)


def test_evaluating_against_another_pair_is_refused(rng, tmp_path):
    p = make_pair(rng)
    out = train_run(tmp_path, p, "only_cls", "demo", CFG, seed=0)
    other = make_pair(rng)
    other.meta = {"fingerprint": "other"}
    with pytest.raises(SercrossError, match="another version of pair"):
        evaluate_run(out, other)


def test_pca_svm_choices_ignore_target_labels(rng, tmp_path):
    p = make_pair(rng, n=40)
    a = train_run(tmp_path / "1", p, "pca_svm", "demo", CFG, seed=0)
    p.yt = rng.permutation(p.yt)
    p.meta = dict(p.meta)
    b = train_run(tmp_path / "2", p, "pca_svm", "demo", CFG, seed=0)
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (a, b))
    assert ca["chosen"] == cb["chosen"]


def test_a_speaker_normalised_run_is_evaluated_on_the_inputs_it_was_trained_on(rng, tmp_path):
    p = make_pair(rng)
    p.target_speakers = [f"t{i % 2}" for i in range(len(p.yt))]
    p.Xt[: len(p.yt) // 2] += 0.5  # one target speaker's offset: normalisation changes what the model sees
    out = train_run(tmp_path, p, "only_cls_spk", "demo", CFG, seed=0)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["method_spec"]["input_norm"] == "speaker"
    assert cfg["speaker_groups"] == {"source": 3, "target": 2}
    first = (out / "predictions.csv").read_text()
    assert evaluate_run(out, p)["war"] == json.loads((out / "metrics.json").read_text())["war"]
    assert (out / "predictions.csv").read_text() == first
    est = load_estimator(out)
    Xt = speaker_normalize(p.Xt, p.target_speakers)
    assert [p.classes[i] for i in est.predict(Xt)] == [r["predicted"] for r in csv.DictReader(first.splitlines())]
    p.target_speakers = None
    with pytest.raises(SercrossError, match="without its target speakers"):
        evaluate_run(out, p)


def test_a_missing_run_says_what_is_there_instead(tmp_path):
    method_dir = tmp_path / "runs" / "demo_a__demo_b" / "tlmlda"
    (method_dir / "demo-seed0").mkdir(parents=True)
    (method_dir / "demo-seed0" / "config.json").write_text("{}")
    with pytest.raises(SercrossError) as exc:
        read_run_config(method_dir / "paper-seed0")
    assert exc.value.message.endswith("the folder does not exist")
    assert str(method_dir / "demo-seed0") in exc.value.hint
    with pytest.raises(SercrossError) as exc:
        read_run_config(method_dir)
    assert exc.value.message.endswith("it has no config.json") and "demo-seed0" in exc.value.hint
    with pytest.raises(SercrossError) as exc:
        read_run_config(tmp_path / "runs" / "demo_a__demo_b" / "dan" / "fast-seed3")
    assert "`sercross train --source demo_a --target demo_b --method dan --preset fast --seed 3`" in exc.value.hint
    with pytest.raises(SercrossError) as exc:  # outside a cache: no guessing
        read_run_config(tmp_path / "elsewhere")
    assert "SOURCE__TARGET" in exc.value.hint


def test_a_pca_svm_model_pickled_before_the_package_layout_still_loads(rng, tmp_path, monkeypatch):
    import hashlib
    import pickle
    import sys
    import types

    from sercross.methods import pca_svm

    p = make_pair(rng)
    rdir = train_run(tmp_path, p, "pca_svm", "demo", CFG, seed=0)
    # sercross 0.1.0 pickled the class as sercross.baselines.PCASVM, a dataclass with fewer parameters:
    # pickle one as it did (its attributes only, under the old module name)
    est = load_estimator(rdir)
    old_state = {k: v for k, v in vars(est).items() if k not in ("max_stratified_folds", "max_iter")}
    old = types.ModuleType("sercross.baselines")
    monkeypatch.setitem(sys.modules, "sercross.baselines", old)
    monkeypatch.setattr(pca_svm.PCASVM, "__module__", "sercross.baselines")
    old.PCASVM = pca_svm.PCASVM
    legacy = object.__new__(pca_svm.PCASVM)
    legacy.__dict__.update(old_state)
    data = pickle.dumps(legacy)
    assert b"sercross.baselines" in data and b"max_stratified_folds" not in data
    monkeypatch.undo()
    assert "sercross.baselines" not in sys.modules
    (rdir / "model.pkl").write_bytes(data)
    cfg = json.loads((rdir / "config.json").read_text())
    cfg["model_sha1"] = hashlib.sha1(data).hexdigest()
    (rdir / "config.json").write_text(json.dumps(cfg))
    again = load_estimator(rdir)
    assert type(again) is pca_svm.PCASVM
    assert (again.predict(p.Xt) == est.predict(p.Xt)).all()
    assert again.max_iter == 20000 and "PCASVM(" in repr(again)  # parameters it lacked read as they were


def shuffled_target_labels(p: Pair, rng) -> Pair:
    q = dataclasses.replace(p, yt=rng.permutation(p.yt), meta=dict(p.meta))
    assert (q.yt != p.yt).any()
    return q


@pytest.mark.parametrize("method", [m for m, spec in METHODS.items() if spec.kind != "auto"])  # auto: test_auto
def test_target_labels_change_no_model_and_no_prediction(method, rng, tmp_path):
    p = make_pair(rng)
    p.target_speakers = [f"t{i % 2}" for i in range(len(p.yt))]
    cfg = dataclasses.replace(CFG, epochs=1, grad_share_every=1)  # target monitoring on, as by default
    a = train_run(tmp_path / "a", p, method, "demo", cfg, seed=0)
    b = train_run(tmp_path / "b", shuffled_target_labels(p, rng), method, "demo", cfg, seed=0)
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (a, b))
    assert ca["model_sha1"] == cb["model_sha1"]
    assert ca.get("reverse_validation_uar") == cb.get("reverse_validation_uar")
    sa, sb = (json.loads((d / "scores.json").read_text())["scores"] for d in (a, b))
    assert sa == sb and set(sa) == set(SCORES)  # no label-free score reads a target label either
    pred = [[(r["predicted"], [v for k, v in r.items() if k.startswith("p_")]) for r in
             csv.DictReader(open(d / "predictions.csv"))] for d in (a, b)]
    assert pred[0] == pred[1]  # the same predictions and probabilities


def test_monitoring_the_target_trains_the_same_model(rng, tmp_path):
    p = make_pair(rng)
    on = train_run(tmp_path / "on", p, "tlmlda", "demo", dataclasses.replace(CFG, monitor_target=True), seed=0)
    off = train_run(tmp_path / "off", p, "tlmlda", "demo", dataclasses.replace(CFG, monitor_target=False), seed=0)
    assert "target_war_monitor" in (on / "history.csv").read_text().splitlines()[0]
    a, b = load_estimator(on), load_estimator(off)
    for (k, x), (_, y) in zip(a.model_.state_dict().items(), b.model_.state_dict().items()):
        assert torch.equal(x, y), k
    assert (on / "predictions.csv").read_text() == (off / "predictions.csv").read_text()


def _state(rdir, p, method="dann"):
    return run_state(rdir, p.meta["fingerprint"], method, "demo", 0, CFG)


@pytest.mark.parametrize("method, key, before, other", [
    ("dann", ("train", "adabn_chunk"), 8192, 64),
    ("tlmlda", ("train", "precision"), "fp32", "bf16"),
    ("tlmlda", ("train", "noise_shared"), False, True),
    ("tlmlda", ("train", "batch_minmax"), False, True),
    ("tlmlda", ("train", "adam_reset"), False, True),
    ("tlmlda", ("train", "code_dropout"), True, False),
    ("tlmlda", ("train", "dnn_batchnorm"), False, True),
    ("dann", ("method_spec", "discriminator_width"), 128, 64),
    ("dann", ("reverse_validation",), {"C": 1.0, "max_iter": 2000}, {"C": 0.5, "max_iter": 2000}),
    ("tlmlda_plus", ("method_spec", "normalized_terms"), ["L_S", "L_T", "L_y"], ["L_y"]),
    ("pca_svm", ("pca_svm",), {"pca_variance": [0.9, 0.95, 0.99], "C": [0.001, 0.01, 0.1, 1.0, 10.0],
                               "max_folds": 10, "max_stratified_folds": 5, "max_iter": 20000},
     {"pca_variance": [0.9, 0.95, 0.99], "C": [0.001, 0.01, 0.1, 1.0, 10.0], "max_folds": 10,
      "max_stratified_folds": 5, "max_iter": 1000}),
])
def test_a_run_made_before_a_setting_was_recorded_counts_with_the_value_it_had(method, key, before, other, rng,
                                                                               tmp_path):
    p = make_pair(rng)
    p.target_speakers = [f"t{i % 2}" for i in range(len(p.yt))]
    rdir = train_run(tmp_path, p, method, "demo", CFG, seed=0)
    path = rdir / "config.json"
    doc = json.loads(path.read_text())
    holder = doc if len(key) == 1 else doc[key[0]]
    assert holder[key[-1]] == before and _state(rdir, p, method) == "finished"
    del holder[key[-1]]  # as written before the setting was recorded
    path.write_text(json.dumps(doc))
    assert _state(rdir, p, method) == "finished"
    holder[key[-1]] = other  # a run made with another value is stale
    path.write_text(json.dumps(doc))
    assert _state(rdir, p, method) != "finished"


def test_model_files_keep_their_format(rng, tmp_path):
    import io

    p = make_pair(rng)
    rdir = train_run(tmp_path, p, "dann", "demo", CFG, seed=0)
    blob = torch.load(io.BytesIO((rdir / "model.pt").read_bytes()), weights_only=True)
    # the method by name, the config without later fields that hold their earlier value: unchanged trainings
    # keep byte-identical model files
    assert blob["method"] == "dann" and not set(ADDED_TRAIN_FIELDS) & set(blob["config"])
    assert set(blob) == {"state_dict", "n_features", "n_classes", "method", "config", "alpha", "random_state"}


def test_a_run_of_a_method_no_longer_defined_still_loads(rng, tmp_path, request):
    p = make_pair(rng)
    rdir = train_run(tmp_path, p, "only_cls", "demo", CFG, seed=0)
    est = load_estimator(rdir)
    # restored whole, in its order (monkeypatch.delitem would put the method back at the end, and reports
    # order methods as the registry does)
    saved = dict(METHODS)
    request.addfinalizer(lambda: (METHODS.clear(), METHODS.update(saved)))
    del METHODS["only_cls"]
    again = load_estimator(rdir)
    assert again.method.name == "only_cls"
    assert (again.predict(p.Xt) == est.predict(p.Xt)).all()


def _stored_terms(rdir, terms):
    path = rdir / "config.json"
    doc = json.loads(path.read_text())
    doc["method_spec"]["terms"] = terms
    path.write_text(json.dumps(doc))


def test_a_loss_term_added_later_leaves_earlier_runs_finished_and_a_changed_term_does_not(rng, tmp_path):
    p = make_pair(rng)
    only = train_run(tmp_path, p, "only_cls", "demo", CFG, seed=0)
    terms = json.loads((only / "config.json").read_text())["method_spec"]["terms"]
    assert len(terms) == 8 and not any(terms[5:])
    _stored_terms(only, terms[:5])  # as stored when TERM_NAMES had the paper's five terms only
    assert _state(only, p, "only_cls") == "finished"
    _stored_terms(only, terms + [False])  # stored by a sercross with one more term, off for this method
    assert _state(only, p, "only_cls") == "finished"
    _stored_terms(only, terms[:-1] + [True])  # a term switched on: another method
    assert _state(only, p, "only_cls") != "finished"
    dann = train_run(tmp_path, p, "dann", "demo", CFG, seed=0)
    terms = json.loads((dann / "config.json").read_text())["method_spec"]["terms"]
    _stored_terms(dann, terms[:5])  # dann's ADV flag cut off: not the same method
    assert _state(dann, p) != "finished"


def test_a_bf16_run_says_whether_its_cpu_had_native_bf16_and_reloads_in_fp32(rng, tmp_path):
    from sercross.methods import native_bf16

    p = make_pair(rng)
    cfg = dataclasses.replace(CFG, precision="bf16")
    rdir = train_run(tmp_path, p, "tlmlda", "demo_bf16", cfg, seed=0)
    doc = read_run_config(rdir)
    assert doc["train"]["precision"] == "bf16" and doc["bf16_native"] == (native_bf16().precision == "bf16")
    assert run_state(rdir, "x", "tlmlda", "demo_bf16", 0, cfg) == "finished"
    assert run_state(rdir, "x", "tlmlda", "demo_bf16", 0, CFG) == "trained with another configuration"
    before = json.loads((rdir / "metrics.json").read_text())
    assert evaluate_run(rdir, p)["war"] == before["war"]  # the fp32 master weights predict, in fp32


def test_the_authors_network_reloads(rng, tmp_path):
    p = make_pair(rng)
    cfg = dataclasses.replace(CFG, code_dropout=False, dnn_batchnorm=True)
    rdir = train_run(tmp_path, p, "tlmlda", "demo", cfg, seed=0)
    before = json.loads((rdir / "metrics.json").read_text())
    assert evaluate_run(rdir, p)["war"] == before["war"]


def test_a_shallow_run_stored_before_its_pca_cap_was_a_setting_is_stale(rng, tmp_path):
    # Runs made before the cap existed had none, and those made after it had it in code only: neither can be told
    # apart from a run of today's settings, so both are trained again.
    p = make_pair(rng)
    rdir = train_run(tmp_path, p, "sk_linear_ot", "demo", CFG, seed=0)
    assert _state(rdir, p, "sk_linear_ot") == "finished"
    path = rdir / "config.json"
    doc = json.loads(path.read_text())
    del doc["shallow"]["pca_samples_per_component"]
    path.write_text(json.dumps(doc))
    assert _state(rdir, p, "sk_linear_ot").startswith("scored or searched with other settings")
