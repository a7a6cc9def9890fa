import shutil

import numpy as np
import pytest
import soundfile as sf

from sercross.corpora import load_manifest
from sercross.demo import DemoConfig, synthesize_corpus
from sercross.errors import SercrossError
from sercross.features import extract_corpus, load_features


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = synthesize_corpus("demo_a", tmp_path_factory.mktemp("corpora"), DemoConfig(speakers=1, utterances=1))
    return root


def test_extracts_1582_is10_functionals_with_index_and_meta(small_corpus, tmp_path):
    s = extract_corpus(load_manifest("demo_a"), small_corpus, tmp_path, jobs=1)
    assert s.n_extracted == 6 and s.n_cached == 0 and not s.skipped
    t = load_features(tmp_path, "demo_a")
    assert t.X.shape == (6, 1582) and t.X.dtype == np.float32 and np.isfinite(t.X).all()
    assert len(t.columns) == 1582
    assert sorted(t.emotions) == sorted(["anger", "boredom", "fear", "happiness", "neutral", "sadness"])
    assert t.meta["opensmile_version"] and t.meta["feature_set"] == "IS10" and t.meta["created"]


def test_rerun_reuses_and_bad_files_are_skipped_not_fatal(small_corpus, tmp_path):
    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root)
    m = load_manifest("demo_a")
    first = extract_corpus(m, root, tmp_path / "cache", jobs=1)
    again = extract_corpus(m, root, tmp_path / "cache", jobs=1)
    assert again.n_cached == first.n_extracted and again.n_extracted == 0
    assert np.array_equal(load_features(tmp_path / "cache", "demo_a").X.shape, (6, 1582))
    # a text file named .wav and a silent file: both listed with a reason, the rest goes on
    (root / "a01" / "anger" / "a01_anger_99.wav").write_text("not audio")
    sf.write(root / "a01" / "fear" / "a01_fear_98.wav", np.zeros(16000, np.float32), 16000)
    s = extract_corpus(m, root, tmp_path / "cache", jobs=1)
    reasons = {k.file: k.reason for k in s.skipped}
    assert set(reasons) == {"a01/anger/a01_anger_99.wav", "a01/fear/a01_fear_98.wav"}
    assert "silent" in reasons["a01/fear/a01_fear_98.wav"]
    t = load_features(tmp_path / "cache", "demo_a")
    assert t.X.shape == (6, 1582) and len(t.meta["skipped"]) == 2


def test_parallel_equals_serial(tmp_path):
    m = load_manifest("demo_a")
    # 12 files: enough to take the worker-pool path
    root = synthesize_corpus("demo_a", tmp_path, DemoConfig(speakers=1, utterances=2))
    extract_corpus(m, root, tmp_path / "serial", jobs=1)
    extract_corpus(m, root, tmp_path / "parallel", jobs=2)
    serial, parallel = (load_features(tmp_path / k, "demo_a") for k in ("serial", "parallel"))
    assert serial.X.shape == (12, 1582)
    assert np.array_equal(serial.X, parallel.X)


def test_missing_features_and_tampered_cache(tmp_path, small_corpus):
    with pytest.raises(SercrossError, match="sercross extract"):
        load_features(tmp_path, "demo_a")
    extract_corpus(load_manifest("demo_a"), small_corpus, tmp_path, jobs=1)
    (tmp_path / "features" / "demo_a" / "IS10" / "index.csv").write_text("file,speaker,emotion,native\n")
    with pytest.raises(SercrossError, match="do not match their meta.json"):
        load_features(tmp_path, "demo_a")


@pytest.mark.real
def test_real_emodb_files(emodb_root, tmp_path):
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    for name in ("03a01Wa.wav", "08a01Na.wav", "16b10Tb.wav"):
        shutil.copy(emodb_root / "wav" / name, root / "wav" / name)
    extract_corpus(load_manifest("berlin"), root, tmp_path / "cache", jobs=1)
    t = load_features(tmp_path / "cache", "berlin")
    assert t.X.shape == (3, 1582) and np.isfinite(t.X).all()
    assert [u.emotion for u in t.utterances] == ["anger", "neutral", "sadness"]
    # different utterances give different functionals
    assert np.abs(t.X[0] - t.X[1]).max() > 0
