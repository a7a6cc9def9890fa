import errno
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sercross.features.store as store
import sercross.features.table as table
import sercross.features.workers as workers
import sercross.infra.cache as cache_mod
from sercross import CACHE_VERSION
from sercross.corpora import DemoConfig, load_manifest
from sercross.corpora.demo import synthesize_corpus
from sercross.experiments.pairs import build_pair
from sercross.features import extract_corpus, load_features
from sercross.infra.cache import features_dir, file_lock
from sercross.infra.errors import SercrossError


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


def test_a_corpus_of_only_bad_files_names_each_file_and_its_reason(tmp_path):
    root = tmp_path / "corpus" / "a01"
    (root / "anger").mkdir(parents=True)
    (root / "fear").mkdir()
    (root / "anger" / "a01_anger_01.wav").write_text("not audio")
    (root / "fear" / "a01_fear_01.wav").write_bytes(b"")
    with pytest.raises(SercrossError) as info:
        extract_corpus(load_manifest("demo_a"), tmp_path / "corpus", tmp_path / "cache", jobs=1)
    message = info.value.message
    assert "all 2 were skipped" in message
    assert "a01/anger/a01_anger_01.wav: " in message and "a01/fear/a01_fear_01.wav: " in message
    assert str(tmp_path) not in message.split("skipped.", 1)[1]  # each reason follows its file's name, once
    assert "--verbose" not in str(info.value) and "corpora check demo_a" in info.value.hint


@pytest.mark.slow
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


# ---------------------------------------------------------------------------------------------------------------
# incremental cache and stat index


def _copy_corpus(src, dst):
    shutil.copytree(src, dst)
    return dst


def _age_files(root, seconds=60):
    """Move every file's mtime into the past (their ctime stays recent: the tests set RACY_SECONDS to 0)."""
    past = time.time_ns() - int(seconds * 1e9)
    for p in root.rglob("*.wav"):
        os.utime(p, ns=(past, past))


def test_stat_index_skips_hashing_of_unchanged_files_and_catches_changes(small_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "RACY_SECONDS", 0.0)
    root = _copy_corpus(small_corpus, tmp_path / "corpus")
    m, cache = load_manifest("demo_a"), tmp_path / "cache"
    first = extract_corpus(m, root, cache, jobs=1)
    assert first.n_hashed == 6 and first.n_extracted == 6
    again = extract_corpus(m, root, cache, jobs=1)
    assert (again.n_hashed, again.n_extracted, again.n_cached) == (0, 0, 6)

    wav = root / "a01" / "anger" / "a01_anger_01.wav"
    os.utime(wav)  # touched, same content: hashed again, found in the store, not extracted
    s = extract_corpus(m, root, cache, jobs=1)
    assert (s.n_hashed, s.n_extracted) == (1, 0)

    # same size, same mtime, other content (a tool that restores timestamps): the ctime still gives it away
    st = wav.stat()
    data = bytearray(wav.read_bytes())
    data[-200:] = bytes(200)
    wav.write_bytes(bytes(data))
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert wav.stat().st_size == st.st_size and wav.stat().st_mtime_ns == st.st_mtime_ns
    s = extract_corpus(m, root, cache, jobs=1)
    assert (s.n_hashed, s.n_extracted) == (1, 1)

    # two more files: two extracted
    for k in (7, 8):
        shutil.copy(root / "a01" / "fear" / "a01_fear_01.wav", root / "a01" / "fear" / f"a01_fear_0{k}.wav")
        data = bytearray((root / "a01" / "fear" / f"a01_fear_0{k}.wav").read_bytes())
        data[-2:] = bytes([k, k])
        (root / "a01" / "fear" / f"a01_fear_0{k}.wav").write_bytes(bytes(data))
    s = extract_corpus(m, root, cache, jobs=1)
    assert (s.n_files, s.n_extracted, s.n_cached) == (8, 2, 6)
    assert load_features(cache, "demo_a").X.shape == (8, 1582)


def test_duplicate_audio_is_extracted_once_and_progress_counts_distinct_files(small_corpus, tmp_path):
    root = _copy_corpus(small_corpus, tmp_path / "corpus")
    shutil.copy(root / "a01" / "fear" / "a01_fear_01.wav", root / "a01" / "fear" / "a01_fear_02.wav")
    starts, progress = [], []
    s = extract_corpus(load_manifest("demo_a"), root, tmp_path / "cache", jobs=1,
                       on_start=lambda todo, total: starts.append((todo, total)), on_progress=progress.append)
    assert starts == [(6, 6)] and sum(progress) == 6
    # the summary counts as the bar does (contents), and names the files that share one
    assert (s.n_files, s.n_extracted, s.n_cached, s.n_rows) == (7, 6, 0, 7)
    assert s.duplicates == [("a01/fear/a01_fear_01.wav", "a01/fear/a01_fear_02.wav")] and s.n_duplicate_files == 2
    again = extract_corpus(load_manifest("demo_a"), root, tmp_path / "cache", jobs=1)
    assert (again.n_extracted, again.n_cached, again.duplicates) == (0, 6, s.duplicates)
    t = load_features(tmp_path / "cache", "demo_a")
    rows = [i for i, u in enumerate(t.utterances) if u.emotion == "fear"]
    assert len(rows) == 2 and np.array_equal(t.X[rows[0]], t.X[rows[1]])


def test_recently_modified_files_are_not_trusted_from_the_stat_index(small_corpus, tmp_path):
    # With the default RACY_SECONDS, files written a moment ago are hashed again on every run until they age.
    root = _copy_corpus(small_corpus, tmp_path / "corpus")
    m, cache = load_manifest("demo_a"), tmp_path / "cache"
    extract_corpus(m, root, cache, jobs=1)
    assert extract_corpus(m, root, cache, jobs=1).n_hashed == 6


def test_stat_index_of_another_version_or_garbage_is_ignored(small_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "RACY_SECONDS", 0.0)
    m, cache = load_manifest("demo_a"), tmp_path / "cache"
    extract_corpus(m, small_corpus, cache, jobs=1)
    X = load_features(cache, "demo_a").X
    index = features_dir(cache, "demo_a", "IS10") / store.STAT_INDEX
    data = json.loads(index.read_text())
    assert len(data["entries"]) == 6
    bogus = "0" * 40  # a key that would point at nothing: it must not be looked up at all
    for version in (CACHE_VERSION + 1, CACHE_VERSION):
        stale = dict(data, cache_version=version, entries={k: v[:4] + [bogus] for k, v in data["entries"].items()})
        if version == CACHE_VERSION:
            stale["opensmile_version"] = "0.0.1"
        index.write_text(json.dumps(stale))
        s = extract_corpus(m, small_corpus, cache, jobs=1)
        assert (s.n_hashed, s.n_extracted) == (6, 0)
    index.write_text("{not json")
    assert extract_corpus(m, small_corpus, cache, jobs=1).n_extracted == 0
    assert np.array_equal(load_features(cache, "demo_a").X, X)


# ---------------------------------------------------------------------------------------------------------------
# feature sets, versions, NaN


def test_feature_sets_live_side_by_side_and_never_mix(small_corpus, tmp_path):
    m, cache = load_manifest("demo_a"), tmp_path / "cache"
    extract_corpus(m, small_corpus, cache, jobs=1)
    s = extract_corpus(m, small_corpus, cache, feature_set="eGeMAPSv02", jobs=1)
    assert s.n_extracted == 6 and s.n_cached == 0  # IS10 values are never taken for eGeMAPS
    is10, egemaps = load_features(cache, "demo_a"), load_features(cache, "demo_a", "eGeMAPSv02")
    assert is10.X.shape == (6, 1582) and egemaps.X.shape == (6, 88) and len(egemaps.columns) == 88
    stored = {fs: {p.name for p in (features_dir(cache, "demo_a", fs) / "files").rglob("*.npy")}
              for fs in ("IS10", "eGeMAPSv02")}
    assert len(stored["IS10"]) == len(stored["eGeMAPSv02"]) == 6 and not stored["IS10"] & stored["eGeMAPSv02"]
    # an IS10 table dropped into the eGeMAPS folder is refused
    for name in ("features.npy", "index.csv", "meta.json"):
        shutil.copy(features_dir(cache, "demo_a", "IS10") / name, features_dir(cache, "demo_a", "eGeMAPSv02") / name)
    with pytest.raises(SercrossError, match="feature_set='IS10', expected 'eGeMAPSv02'") as exc:
        load_features(cache, "demo_a", "eGeMAPSv02")
    assert "sercross extract demo_a" in exc.value.hint


def test_any_feature_set_dimension_flows_into_a_pair(tmp_path):
    roots = {n: synthesize_corpus(n, tmp_path, DemoConfig(speakers=1, utterances=1)) for n in ("demo_a", "demo_b")}
    for name, root in roots.items():
        extract_corpus(load_manifest(name), root, tmp_path / "cache", feature_set="eGeMAPSv02", jobs=1)
    a, b = (load_features(tmp_path / "cache", n, "eGeMAPSv02") for n in roots)
    p = build_pair(a, b)
    assert p.Xs.shape[1] == p.Xt.shape[1] == 88 and p.feature_set == "eGeMAPSv02"
    assert p.Xs.min() >= 0 and p.Xs.max() <= 1


def test_unknown_feature_set_is_refused(small_corpus, tmp_path):
    with pytest.raises(SercrossError, match="unknown feature set") as exc:
        extract_corpus(load_manifest("demo_a"), small_corpus, tmp_path, feature_set="IS99", jobs=1)
    assert "eGeMAPSv02" in exc.value.hint


def test_table_of_another_cache_version_is_refused_with_a_hint_and_rebuilt(small_corpus, tmp_path):
    m = load_manifest("demo_a")
    extract_corpus(m, small_corpus, tmp_path, jobs=1)
    meta_path = features_dir(tmp_path, "demo_a", "IS10") / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(dict(meta, cache_version=0)))
    with pytest.raises(SercrossError, match="cache layout v0") as exc:
        load_features(tmp_path, "demo_a")
    assert "sercross extract demo_a" in exc.value.hint
    s = extract_corpus(m, small_corpus, tmp_path, jobs=1)
    assert s.n_extracted == 0 and load_features(tmp_path, "demo_a").meta["cache_version"] == CACHE_VERSION


def test_nonfinite_values_leave_the_file_out_with_a_reason_and_are_not_extracted_again(
    small_corpus, tmp_path, monkeypatch
):
    real = workers.make_smile
    poisoned = "a01_sadness_01.wav"

    class NaNOnOneFile:
        def __init__(self, feature_set):
            self.smile = real(feature_set)
            self.feature_names = self.smile.feature_names

        def process_signal(self, signal, sr):
            df = self.smile.process_signal(signal, sr)
            if np.array_equal(signal, poisoned_signal):
                df.iloc[0, [3, 10]] = [np.nan, np.inf]
            return df

    from sercross.corpora.audio import load_audio

    poisoned_signal = load_audio(small_corpus / "a01" / "sadness" / poisoned)
    monkeypatch.setattr(workers, "make_smile", NaNOnOneFile)
    m, cache = load_manifest("demo_a"), tmp_path / "cache"
    s = extract_corpus(m, small_corpus, cache, jobs=1)
    assert s.n_nonfinite == 1 and s.n_rows == 5 and s.n_extracted == 6
    reasons = {k.file: k.reason for k in s.skipped}
    assert list(reasons) == [f"a01/sadness/{poisoned}"]
    assert "2 of 1582 values non-finite (NaN/inf); file left out" in reasons[f"a01/sadness/{poisoned}"]
    t = load_features(cache, "demo_a")
    assert t.X.shape == (5, 1582) and np.isfinite(t.X).all() and "sadness" not in t.emotions
    assert t.meta["skipped"][0]["file"] == f"a01/sadness/{poisoned}"
    # the verdict is kept with openSMILE's raw output: a re-run reports it without extracting anything
    again = extract_corpus(m, small_corpus, cache, jobs=1)
    assert (again.n_extracted, again.n_cached, again.n_nonfinite) == (0, 6, 1)


# ---------------------------------------------------------------------------------------------------------------
# faults: interruption, concurrency, unwritable cache


SRC = Path(__file__).resolve().parents[2] / "src"
_EXTRACT = """
import os, sys, time
from pathlib import Path
import sercross.features.workers as W
from sercross.corpora import load_manifest
from sercross.features import extract_corpus
corpus, root, cache = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
jobs, slow, crash = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
real = W.extract_one
def _patched(smile, path):  # workers are forked, so they see this too
    if crash and path.endswith(crash):
        os._exit(3)  # like a segfault in openSMILE, or the OOM killer
    time.sleep(slow)  # make each file take a while
    return real(smile, path)
W.extract_one = _patched
extract_corpus(load_manifest(corpus), root, cache, jobs=jobs)
"""


def _spawn(root, cache, jobs=2, slow=0.0, crash="", **kw):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-c", _EXTRACT, "demo_a", str(root), str(cache), str(jobs), str(slow), crash],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw,
    )


def _stored(cache):
    return len(list((features_dir(cache, "demo_a", "IS10") / "files").glob("*/*.npy")))


def _wait_for(cond, proc, timeout=90.0):
    deadline = time.monotonic() + timeout
    while not cond() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.fixture(scope="module")
def corpus12(tmp_path_factory):
    """12 files: enough for the worker pool; and the matrix of an uninterrupted serial run."""
    root = synthesize_corpus("demo_a", tmp_path_factory.mktemp("c12"), DemoConfig(speakers=1, utterances=2))
    cache = tmp_path_factory.mktemp("ref")
    extract_corpus(load_manifest("demo_a"), root, cache, jobs=1)
    return root, load_features(cache, "demo_a")


def _same_table(cache, ref):
    t = load_features(cache, "demo_a")
    return np.array_equal(t.X, ref.X) and t.utterances == ref.utterances and t.columns == ref.columns


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(corpus12, tmp_path):
    root, ref = corpus12
    cache, rng, kills = tmp_path / "cache", random.Random(20240611), 0
    for _ in range(3):
        target = min(11, _stored(cache) + rng.randint(0, 4))
        p = _spawn(root, cache, jobs=2)
        _wait_for(lambda target=target: _stored(cache) >= target, p)
        time.sleep(rng.uniform(0, 0.05))  # land anywhere: between files, mid-chunk, mid-write
        if p.poll() is None:
            p.kill()  # SIGKILL to the parent alone; its workers notice and exit on their own
            kills += 1
        p.communicate()
    assert kills >= 1
    s = extract_corpus(load_manifest("demo_a"), root, cache, jobs=1)
    assert s.n_cached == 12 - s.n_extracted and s.n_cached >= 1
    assert _same_table(cache, ref)


@pytest.mark.slow
def test_ctrl_c_stops_workers_promptly_and_keeps_finished_files(corpus12, tmp_path):
    root, ref = corpus12
    cache = tmp_path / "cache"
    p = _spawn(root, cache, jobs=2, slow=0.4, start_new_session=True,
               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for(lambda: _stored(cache) >= 2, p)
    assert p.poll() is None
    t = time.monotonic()
    os.killpg(p.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group on Ctrl-C
    _, err = p.communicate(timeout=30)
    assert p.returncode != 0 and b"KeyboardInterrupt" in err
    assert time.monotonic() - t < 2.0  # not after the remaining ~2 s of queued work
    kept = _stored(cache)
    assert 2 <= kept < 12
    s = extract_corpus(load_manifest("demo_a"), root, cache, jobs=1)
    assert (s.n_cached, s.n_extracted) == (kept, 12 - kept)
    assert _same_table(cache, ref)


@pytest.mark.slow
def test_a_worker_that_dies_is_a_clear_error_and_finished_files_are_kept(corpus12, tmp_path):
    root, ref = corpus12
    cache = tmp_path / "cache"
    p = _spawn(root, cache, jobs=2, crash="a01_happiness_02.wav")  # the 8th of 12 files
    _, err = p.communicate(timeout=120)
    assert p.returncode != 0 and b"an extraction worker process died" in err
    assert b"find it with --jobs 1" in err
    kept = _stored(cache)
    assert kept < 12
    s = extract_corpus(load_manifest("demo_a"), root, cache, jobs=1)
    assert s.n_cached == kept and _same_table(cache, ref)


@pytest.mark.slow
def test_two_concurrent_extractions_into_one_cache_both_finish_consistently(corpus12, tmp_path):
    root, ref = corpus12
    cache = tmp_path / "cache"
    procs = [_spawn(root, cache, jobs=jobs) for jobs in (2, 1)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert _same_table(cache, ref)
    assert not list(cache.rglob("*.tmp"))


@pytest.mark.slow
def test_table_is_written_under_the_lock(corpus12, tmp_path):
    root, ref = corpus12
    cache = tmp_path / "cache"
    out = features_dir(cache, "demo_a", "IS10")
    out.mkdir(parents=True)
    with file_lock(out / table.LOCK_FILE):
        p = _spawn(root, cache, jobs=1)
        _wait_for(lambda: _stored(cache) == 12, p)
        time.sleep(0.3)
        assert p.poll() is None, p.communicate()[1].decode()  # waiting for the lock, not finished
        assert not (out / "meta.json").exists() and not (out / "features.npy").exists()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    assert _same_table(cache, ref)


def test_crash_between_the_table_writes_is_refused_then_repaired(small_corpus, tmp_path, monkeypatch):
    root = _copy_corpus(small_corpus, tmp_path / "corpus")
    m, cache = load_manifest("demo_a"), tmp_path / "cache"
    extract_corpus(m, root, cache, jobs=1)
    (root / "a01" / "boredom" / "a01_boredom_01.wav").unlink()
    real = table.atomic_write_json

    def die_before_meta(path, obj):
        if Path(path).name == "meta.json":
            raise KeyboardInterrupt  # killed after features.npy and index.csv were replaced
        real(path, obj)

    monkeypatch.setattr(table, "atomic_write_json", die_before_meta)
    with pytest.raises(KeyboardInterrupt):
        extract_corpus(m, root, cache, jobs=1)
    monkeypatch.undo()
    with pytest.raises(SercrossError, match="do not match their meta.json") as exc:
        load_features(cache, "demo_a")
    assert "sercross extract demo_a" in exc.value.hint
    s = extract_corpus(m, root, cache, jobs=1)
    assert s.n_extracted == 0 and load_features(cache, "demo_a").X.shape == (5, 1582)


@pytest.mark.parametrize("err, words", [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system")])
def test_unwritable_cache_fails_before_extracting_with_the_path(small_corpus, tmp_path, monkeypatch, err, words):
    def refuse(*a, **k):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(cache_mod.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(workers, "make_smile", lambda fs: pytest.fail("extraction started"))
    with pytest.raises(SercrossError) as exc:
        extract_corpus(load_manifest("demo_a"), small_corpus, tmp_path / "cache", jobs=1)
    out = features_dir(tmp_path / "cache", "demo_a", "IS10")
    assert str(exc.value.message) == f"cannot write to {out}: {words}"
    assert "--cache" in exc.value.hint


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_cache_directory_for_real(small_corpus, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        with pytest.raises(SercrossError, match="permission denied") as exc:
            extract_corpus(load_manifest("demo_a"), small_corpus, cache, jobs=1)
        assert str(cache) in exc.value.message
    finally:
        cache.chmod(0o755)


@pytest.mark.slow
def test_full_disk_mid_run_stops_the_pool_names_the_file_and_keeps_what_was_stored(
    corpus12, tmp_path, monkeypatch
):
    root, ref = corpus12
    cache = tmp_path / "cache"
    monkeypatch.setattr(store, "RACY_SECONDS", 0.0)  # so the stat index is written: one fsync, always
    real_fsync, calls = os.fsync, [0]

    def fsync(fd):
        calls[0] += 1
        if calls[0] > 4:  # the stat index and three feature files fit, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(cache_mod.os, "fsync", fsync)
    with pytest.raises(SercrossError, match=r"no space left on the device while writing .*files/../[0-9a-f]{40}\.npy"):
        extract_corpus(load_manifest("demo_a"), root, cache, jobs=2)
    assert not multiprocessing.active_children()  # workers stopped, not left running
    monkeypatch.undo()
    assert not list(cache.rglob("*.tmp"))
    assert _stored(cache) == 3
    s = extract_corpus(load_manifest("demo_a"), root, cache, jobs=2)
    assert (s.n_cached, s.n_extracted) == (3, 9)
    assert _same_table(cache, ref)
