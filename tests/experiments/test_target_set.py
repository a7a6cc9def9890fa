"""Target set ``all``: every target utterance enters training unlabelled; target labels only choose what is scored."""

import dataclasses
import json

import numpy as np
import pytest

import sercross.experiments.execute as execute
import sercross.experiments.plan as plan_mod
from sercross import CACHE_VERSION
from sercross.corpora.manifests import Utterance
from sercross.experiments.keys import PairKey
from sercross.experiments.pairs import build_pair, load_pair, pair_inputs, save_pair, speaker_normalize
from sercross.experiments.resolve import pair_for
from sercross.experiments.runs import train_run
from sercross.features import FeatureTable, write_derived_table
from sercross.infra.errors import SercrossError
from sercross.methods import METHODS, get_preset
from sercross.methods.config import PRESETS, TrainConfig

CFG = get_preset("demo", epochs=1, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1, grad_share_every=1)
SOURCE = ("anger", "sadness", "fear", "boredom")
TARGET = ("anger", "sadness", "fear", "surprise", "calm")  # surprise and calm: outside the shared classes


def table(corpus, emotions, rng, per=4, speakers=3, dim=10, shift=0.0):
    utts, rows = [], []
    for s in range(speakers):
        for k, e in enumerate(emotions):
            for i in range(per):
                utts.append(Utterance(f"{corpus}/{s}/{e}{i}.wav", f"{corpus}{s}", e, e))
                rows.append(rng.normal(k + shift, 1.0, dim))
    return FeatureTable(corpus, "IS10", np.asarray(rows, np.float32), utts, [f"f{i}" for i in range(dim)],
                        {"fingerprint": corpus, "cache_version": CACHE_VERSION, "feature_set": "IS10",
                         "n_features": dim, "columns": [f"f{i}" for i in range(dim)]})


def relabelled(t: FeatureTable, seed: int) -> FeatureTable:
    """The table with its labels permuted over all utterances (classes outside the shared set included)."""
    labels = np.random.default_rng(seed).permutation([u.emotion for u in t.utterances])
    assert (labels != np.array(t.emotions)).any()
    utts = [dataclasses.replace(u, emotion=str(e), native=str(e)) for u, e in zip(t.utterances, labels)]
    return dataclasses.replace(t, utterances=utts)


def test_all_feeds_every_target_utterance_and_scores_the_shared_classes(rng, tmp_path):
    src, tgt = table("a", SOURCE, rng), table("b", TARGET, rng, shift=5.0)
    p = build_pair(src, tgt, target_set="all")
    assert set(p.classes) == {"anger", "sadness", "fear"} and p.variant == "@all"
    assert len(p.Xu) == len(tgt.X) and len(p.unlabelled_speakers) == len(tgt.X)
    assert np.allclose(p.Xu.min(0), 0) and np.allclose(p.Xu.max(0), 1)  # scaled on every target utterance
    shared = [i for i, u in enumerate(tgt.utterances) if u.emotion in p.classes]
    assert p.scored_rows.tolist() == shared and np.array_equal(p.Xt, p.Xu[shared]) and len(p.yt) == len(shared)
    # speaker statistics over every target utterance; the scored rows are their rows
    Xs, Xu, Xt = pair_inputs(p, "speaker")
    assert np.array_equal(Xu, speaker_normalize(p.Xu, p.unlabelled_speakers)) and np.array_equal(Xt, Xu[shared])
    # both target sets coexist in one cache, each in its own folder
    shared_pair = build_pair(src, tgt)
    save_pair(tmp_path, shared_pair), save_pair(tmp_path, p)
    assert p.key == PairKey("a", "b", target_set="all") and shared_pair.key == PairKey("a", "b")
    assert (tmp_path / "pairs" / "a__b" / "IS10" / "pair.npz").is_file()
    assert (tmp_path / "pairs" / "a__b@all" / "IS10" / "pair.npz").is_file()
    q = load_pair(tmp_path, "a", "b", "IS10", target_set="all")
    assert np.array_equal(q.Xu, p.Xu) and q.scored_rows.tolist() == shared and q.meta["target_set"] == "all"
    assert load_pair(tmp_path, PairKey("a", "b", target_set="all"), feature_set="IS10").key == p.key
    assert load_pair(tmp_path, "a", "b", "IS10").Xu is None
    with pytest.raises(SercrossError, match="unknown target set"):
        build_pair(src, tgt, target_set="some")


def test_shared_pairs_are_written_as_before(rng, tmp_path):
    """The default target set adds nothing to pair.npz (its fingerprint, and so every cached run, stays valid)."""
    p = build_pair(table("a", SOURCE, rng), table("b", TARGET, rng))
    out = save_pair(tmp_path, p)
    with np.load(out / "pair.npz") as z:
        assert sorted(z.files) == sorted(["Xs", "ys", "Xt", "yt", "source_files", "target_files", "source_speakers"])
    assert "target_set" not in p.meta and p.Xu is None


QUICK = ("tlmlda_plus", "dann", "sk_coral_spk")  # AdaBN and speaker statistics, an adversary, a shallow adapter


@pytest.mark.parametrize("method", [m if m in QUICK else pytest.param(m, marks=pytest.mark.slow)
                                    for m, spec in METHODS.items() if spec.kind != "auto"])
def test_no_target_label_reaches_training_with_all(method, rng, tmp_path):
    """Permuting every target label (into and out of the shared classes) leaves the trained model bit-identical."""
    src, tgt = table("a", SOURCE, rng), table("b", TARGET, rng, shift=2.0)
    a = train_run(tmp_path / "a", build_pair(src, tgt, target_set="all"), method, "demo", CFG, seed=0)
    b = train_run(tmp_path / "b", build_pair(src, relabelled(tgt, 1), target_set="all"), method, "demo", CFG, seed=0)
    assert a.parent.parent.name == "a__b@all"
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (a, b))
    assert ca["model_sha1"] == cb["model_sha1"] and ca["target_set"] == "all"
    assert ca.get("reverse_validation_uar") == cb.get("reverse_validation_uar")
    sa, sb = (json.loads((d / "scores.json").read_text()) for d in (a, b))
    assert sa == sb  # label-free scores and target predictions: over every target utterance


def test_shared_target_set_uses_target_labels_to_choose_utterances(rng, tmp_path):
    """The control of the test above: with the paper's protocol the same permutation changes the model."""
    src, tgt = table("a", SOURCE, rng), table("b", TARGET, rng, shift=2.0)
    a = train_run(tmp_path / "a", build_pair(src, tgt), "tlmlda", "demo", CFG, seed=0)
    b = train_run(tmp_path / "b", build_pair(src, relabelled(tgt, 1)), "tlmlda", "demo", CFG, seed=0)
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (a, b))
    assert ca["model_sha1"] != cb["model_sha1"] and "target_set" not in ca


def test_benchmark_with_target_set_all(rng, tmp_path, monkeypatch):
    monkeypatch.setitem(PRESETS, "tiny", TrainConfig(epochs=1, batch_size=8, encoder_sizes=(16, 12, 8),
                                                     dnn_sizes=(8, 6), threads=1))
    cache = tmp_path / "cache"
    for t in (table("synth_src", SOURCE, rng), table("synth_tgt", TARGET, rng, shift=2.0)):
        write_derived_table(cache, t.corpus, t, range(len(t.X)), {"test": True})
    plans = {ts: plan_mod.plan_benchmark(cache, [("synth_src", "synth_tgt")], methods=["only_cls", "dan"],
                                         seeds=[0], preset="tiny", target_sets=[ts]) for ts in ("shared", "all")}
    for plan in plans.values():
        assert not execute.run_benchmark(plan, jobs=1).failures
    assert not plans["all"].skipped, plans["all"].skipped
    spec = plans["all"].runs[0]
    assert plans["all"].run_dir(spec).parent.parent.name == "synth_src__synth_tgt@all"
    assert plans["shared"].run_dir(plans["shared"].runs[0]).parent.parent.name == "synth_src__synth_tgt"
    cfg = json.loads((plans["all"].run_dir(spec) / "config.json").read_text())
    stored = load_pair(cache, "synth_src", "synth_tgt", "IS10", target_set="all")
    assert cfg["target_set"] == "all" and cfg["pair_fingerprint"] == stored.meta["fingerprint"]
    # a re-plan finds both grids finished
    again = plan_mod.plan_benchmark(cache, [("synth_src", "synth_tgt")], methods=["only_cls", "dan"], seeds=[0],
                                    preset="tiny", target_sets=["all"])
    assert not again.todo
    # one grid of both target sets: two pairs, each with its runs, every one of them finished above
    both = plan_mod.plan_benchmark(cache, [("synth_src", "synth_tgt")], methods=["only_cls", "dan"], seeds=[0],
                                   preset="tiny", target_sets=["shared", "all"])
    assert [i.key.target_set for i in both.schemes] == ["shared", "all"] and len(both.runs) == 4 and not both.todo
    assert [i.name for i in both.schemes] == ["synth_src→synth_tgt", "synth_src→synth_tgt (target set all)"]
    tables = [plan_mod.load_features(cache, c, "IS10") for c in ("synth_src", "synth_tgt")]
    assert pair_for(cache, *tables, target_set="all").meta["fingerprint"] == stored.meta["fingerprint"]  # reused
