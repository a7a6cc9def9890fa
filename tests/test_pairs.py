import numpy as np
import pytest

from sercross.corpora import Utterance
from sercross.errors import SercrossError
from sercross.features import FeatureTable
from sercross.pairs import build_pair, default_classes, load_pair, minmax_scale, save_pair


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
    with pytest.raises(SercrossError, match="same corpus"):
        build_pair(src, src)


def test_features_of_different_opensmile_versions_are_not_mixed(rng):
    a = table("a", ["anger", "sadness"] * 3, rng)
    b = table("b", ["anger", "sadness"] * 3, rng)
    a.meta["opensmile_version"], b.meta["opensmile_version"] = "2.6.0", "2.5.1"
    with pytest.raises(SercrossError, match="different opensmile versions"):
        build_pair(a, b)
