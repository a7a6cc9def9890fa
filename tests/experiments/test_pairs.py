import numpy as np
import pytest

from sercross.corpora.manifests import Utterance
from sercross.experiments.keys import PairKey
from sercross.experiments.pairs import (
    SPEAKERS_FILE,
    build_pair,
    default_classes,
    load_pair,
    minmax_scale,
    model_inputs,
    save_pair,
    speaker_normalize,
    stored_key,
)
from sercross.features import FeatureTable
from sercross.infra.cache import pair_dir
from sercross.infra.errors import SercrossError


def table(corpus, emotions, rng, dim=6, shift=0.0):
    X = rng.normal(loc=shift, size=(len(emotions), dim)).astype(np.float32)
    utts = [Utterance(f"{corpus}/{i}.wav", f"spk{i % 2}", e, e) for i, e in enumerate(emotions)]
    return FeatureTable(corpus, "IS10", X, utts, [f"f{i}" for i in range(dim)], {"fingerprint": corpus})


def test_minmax_scales_each_column_and_zeroes_constant_ones():
    X = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [2.0, 5.0, 0.0]])
    S = minmax_scale(X)
    assert S.min() == 0.0 and S.max() == 1.0
    assert np.allclose(S[:, 0], [0, 1, 0.5])
    assert np.all(S[:, 1] == 0)
    assert S.dtype == np.float32


def test_paper_class_sets_and_intersection(rng):
    b = table("berlin", ["anger", "boredom", "neutral", "sadness", "fear", "happiness", "disgust"], rng)
    c = table("casia", ["anger", "surprise", "neutral", "sadness", "fear", "happiness"], rng)
    x = table("other", ["anger", "neutral", "calm"], rng)
    assert default_classes(b, c) == ("anger", "sadness", "fear", "happiness", "neutral")
    assert default_classes(c, b) == ("anger", "sadness", "fear", "happiness", "neutral")
    assert default_classes(b, x) == ("anger", "neutral")


def test_pair_selects_shared_classes_and_scales_each_corpus_on_its_own(rng, tmp_path):
    src = table("a", ["anger", "sadness", "boredom"] * 5, rng)
    tgt = table("b", ["anger", "sadness", "surprise"] * 4, rng, shift=10.0)
    p = build_pair(src, tgt)
    assert p.classes == ("anger", "sadness")
    assert len(p.ys) == 10 and len(p.yt) == 8
    for X in (p.Xs, p.Xt):
        assert np.allclose(X.min(0), 0) and np.allclose(X.max(0), 1)
    save_pair(tmp_path, p)
    q = load_pair(tmp_path, "a", "b", "IS10")
    assert np.array_equal(q.Xs, p.Xs) and np.array_equal(q.yt, p.yt) and q.classes == p.classes
    assert q.source_speakers == p.source_speakers


def test_pair_errors_are_clear(rng):
    src = table("a", ["anger", "sadness"] * 3, rng)
    with pytest.raises(SercrossError, match="no utterance of class"):
        build_pair(src, table("b", ["anger", "fear"] * 3, rng), ("anger", "sadness"))
    with pytest.raises(SercrossError, match="fewer than 2"):
        build_pair(src, table("b", ["anger", "fear"] * 3, rng))
    with pytest.raises(SercrossError, match="--classes anger selects fewer than 2"):
        build_pair(src, table("b", ["anger", "sadness"] * 3, rng), ("anger",))
    with pytest.raises(SercrossError, match="same corpus"):
        build_pair(src, src)


def test_features_of_different_opensmile_versions_are_not_mixed(rng):
    a = table("a", ["anger", "sadness"] * 3, rng)
    b = table("b", ["anger", "sadness"] * 3, rng)
    a.meta["opensmile_version"], b.meta["opensmile_version"] = "2.6.0", "2.5.1"
    with pytest.raises(SercrossError, match="different opensmile versions"):
        build_pair(a, b)


def test_speaker_normalisation_removes_each_speakers_offset_and_scales_to_unit_range(rng):
    X = rng.normal(size=(40, 5))
    speakers = np.array(["m"] * 20 + ["f"] * 20)
    shifted = X.copy()
    shifted[20:] += 7.0  # a voice-wide offset (e.g. pitch) that carries no emotion
    S = speaker_normalize(shifted, speakers)
    assert S.dtype == np.float32 and np.isclose(S.min(), 0) and np.isclose(S.max(), 1)
    assert np.allclose(S[:20].mean(0), S[20:].mean(0), atol=1e-6)
    # the same result whatever per-corpus affine scaling came before (a pair's features are min-max scaled)
    assert np.allclose(speaker_normalize(3.0 * shifted - 2.0, speakers), S, atol=1e-6)
    # unknown speakers ("") form one group: plain per-corpus scaling
    assert np.allclose(speaker_normalize(X, [""] * 40), minmax_scale(X), atol=1e-6)
    with pytest.raises(ValueError, match="speakers for"):
        speaker_normalize(X, speakers[:3])


def test_target_speakers_round_trip_and_model_inputs(rng, tmp_path):
    src = table("a", ["anger", "sadness"] * 6, rng)
    tgt = table("b", ["anger", "sadness", "fear"] * 4, rng, shift=10.0)
    p = build_pair(src, tgt)
    assert p.target_speakers == [u.speaker for u in tgt.utterances if u.emotion in p.classes]
    save_pair(tmp_path, p)
    q = load_pair(tmp_path, "a", "b", "IS10")
    assert q.target_speakers == p.target_speakers
    assert model_inputs(q, "corpus") == (q.Xs, q.Xt)
    Xs, Xt = model_inputs(q, "speaker")
    assert np.allclose(Xt, speaker_normalize(q.Xt, q.target_speakers))
    with pytest.raises(SercrossError, match="unknown input normalisation"):
        model_inputs(q, "utterance")
    # a pair saved before target speakers were kept loads without them, and says so when they are needed
    (pair_dir(tmp_path, "a__b", "IS10") / SPEAKERS_FILE).unlink()
    old = load_pair(tmp_path, "a", "b", "IS10")
    assert old.target_speakers is None
    with pytest.raises(SercrossError, match="without its target speakers"):
        model_inputs(old, "speaker")


def older_pair(rng, cache):
    """Source and target tables and the folder of a pair saved as sercross did before it kept target speakers."""
    src = table("a", ["anger", "sadness"] * 6, rng)
    tgt = table("b", ["anger", "sadness"] * 6, rng)
    save_pair(cache, build_pair(src, tgt))
    folder = pair_dir(cache, "a__b", "IS10")
    (folder / SPEAKERS_FILE).unlink()
    return src, tgt, folder


def test_an_older_pair_gains_target_speakers_without_a_new_pair_file(rng, tmp_path):
    from sercross.experiments.resolve import pair_for

    src, tgt, folder = older_pair(rng, tmp_path)
    before = (folder / "pair.npz").read_bytes()
    p = pair_for(tmp_path, src, tgt)
    assert (folder / "pair.npz").read_bytes() == before  # finished runs refer to its fingerprint
    assert p.target_speakers == [u.speaker for u in tgt.utterances]
    assert load_pair(tmp_path, "a", "b", "IS10").target_speakers == p.target_speakers


def test_an_older_pair_whose_target_files_are_unknown_is_rebuilt(rng, tmp_path):
    from sercross.experiments.resolve import pair_for

    src, tgt, _ = older_pair(rng, tmp_path)
    renamed = FeatureTable("b", "IS10", tgt.X, [Utterance("elsewhere/" + u.file, u.speaker, u.emotion, u.native)
                                                 for u in tgt.utterances], tgt.columns, tgt.meta)
    p = pair_for(tmp_path, src, renamed)  # same fingerprint, but the files no longer match: build afresh
    assert p.target_files[0].startswith("elsewhere/") and p.target_speakers is not None
    assert load_pair(tmp_path, "a", "b", "IS10").target_speakers == p.target_speakers


def test_class_sets_coexist_and_their_order_does_not_matter(rng, tmp_path):
    from sercross.experiments.resolve import pair_for

    src = table("a", ["anger", "sadness", "fear"] * 4, rng)
    tgt = table("b", ["anger", "sadness", "fear"] * 4, rng)
    default = pair_for(tmp_path, src, tgt)
    assert default.key == PairKey("a", "b") and default.classes == ("anger", "fear", "sadness")
    two = pair_for(tmp_path, src, tgt, ("sadness", "anger"))
    assert two.classes == ("anger", "sadness") and two.key == PairKey("a", "b", ("anger", "sadness"))
    assert (tmp_path / "pairs" / "a__b~anger+sadness" / "IS10" / "pair.npz").is_file()
    # the default pair is untouched, and each class set is found again whatever its order
    assert load_pair(tmp_path, "a", "b", "IS10").meta == default.meta
    assert pair_for(tmp_path, src, tgt, ("anger", "sadness")).meta == two.meta
    assert load_pair(tmp_path, "a", "b", "IS10", classes=("sadness", "anger")).meta == two.meta
    # the default set named explicitly, in any order, is the default pair
    assert pair_for(tmp_path, src, tgt, ("sadness", "fear", "anger")).meta == default.meta
    assert stored_key(tmp_path, "a", "b", "IS10", ("fear", "sadness", "anger")) == PairKey("a", "b")


def test_the_default_pair_is_rebuilt_when_the_default_set_changes_and_says_so(rng, tmp_path):
    from sercross.experiments.resolve import pair_for

    src = table("a", ["anger", "sadness", "fear"] * 4, rng)
    tgt = table("b", ["anger", "sadness"] * 6, rng)
    replaced = []
    first = pair_for(tmp_path, src, tgt, on_replace=lambda old, new: replaced.append((old.classes, new.classes)))
    assert first.classes == ("anger", "sadness") and replaced == []
    more = table("b", ["anger", "sadness", "fear"] * 4, rng)
    more.meta = {"fingerprint": "b2"}
    pair_for(tmp_path, src, more, on_replace=lambda old, new: replaced.append((old.classes, new.classes)))
    assert replaced == [(("anger", "sadness"), ("anger", "fear", "sadness"))]


def test_a_chosen_class_set_an_older_sercross_stored_as_the_default_moves_aside_with_its_runs(rng, tmp_path):
    from sercross.experiments.resolve import pair_for

    src = table("a", ["anger", "sadness", "fear"] * 4, rng)
    tgt = table("b", ["anger", "sadness", "fear"] * 4, rng)
    old = build_pair(src, tgt, ("anger", "sadness"))
    old.meta.pop("class_set")  # as sercross wrote it before class sets were part of a pair's identity
    saved = pair_dir(tmp_path, "a__b", "IS10")
    old.meta["fingerprint"] = None
    from sercross.infra.cache import atomic_write_json, atomic_write_npz

    atomic_write_npz(saved / "pair.npz", Xs=old.Xs, ys=old.ys, Xt=old.Xt, yt=old.yt,
                     source_files=np.array(old.source_files), target_files=np.array(old.target_files),
                     source_speakers=np.array(old.source_speakers))
    from sercross.infra.system import sha1_file

    atomic_write_json(saved / "meta.json", dict(old.meta, fingerprint=sha1_file(saved / "pair.npz")))
    run = tmp_path / "runs" / "a__b" / "only_cls" / "paper-seed0"
    atomic_write_json(run / "config.json", {"pair_fingerprint": sha1_file(saved / "pair.npz")})
    other = tmp_path / "runs" / "a__b" / "only_cls" / "paper-seed1"
    atomic_write_json(other / "config.json", {"pair_fingerprint": "of another pair"})
    notes = []
    default = pair_for(tmp_path, src, tgt, on_note=notes.append)
    assert default.classes == ("anger", "sadness", "fear") or set(default.classes) == {"anger", "sadness", "fear"}
    assert len(notes) == 1 and "a__b~anger+sadness" in notes[0]
    moved = tmp_path / "runs" / "a__b~anger+sadness" / "only_cls" / "paper-seed0" / "config.json"
    assert moved.is_file() and not run.exists() and (other / "config.json").is_file()
    kept = load_pair(tmp_path, "a", "b", "IS10", classes=("anger", "sadness"))
    assert kept.key == PairKey("a", "b", ("anger", "sadness")) and np.array_equal(kept.Xs, old.Xs)
