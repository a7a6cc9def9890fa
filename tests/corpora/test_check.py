"""Corpus checks on small generated trees with real audio (WAV via soundfile, eNTERFACE-style .avi via PyAV),
the `sercross corpora` commands, and the real EmoDB / CASIA copies when present."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from sercross.cli import app
from sercross.corpora.check import HTML_PAGE, LFS_POINTER, Mismatch, cached_features, check_corpus, count_mismatches
from sercross.corpora.manifests import Utterance, load_manifest

HAS_AV = importlib.util.find_spec("av") is not None
needs_av = pytest.mark.skipif(not HAS_AV, reason="PyAV (av) not installed: pip install 'sercross[video]'")
runner = CliRunner()


def tone(seconds: float, sr: int, freq: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def wav(root: Path, rel: str, seconds=0.2, sr=16000, freq=220.0, channels=1) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    sf.write(p, tone(seconds, sr, freq, channels), sr, subtype="PCM_16")
    return p


def avi(root: Path, rel: str, seconds=0.3, sr=48000, freq=300.0) -> Path:
    """A clip like eNTERFACE's: an AVI container holding 16-bit stereo PCM (no picture, to stay small)."""
    import av

    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    pcm = (tone(seconds, sr, freq, 2) * 32767).astype(np.int16).reshape(1, -1)  # interleaved
    with av.open(str(p), mode="w", format="avi") as container:
        stream = container.add_stream("pcm_s16le", rate=sr, layout="stereo")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = sr, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return p


def ravdess_tree(root: Path) -> Path:
    """Two actors, eight emotions each, one take per emotion; one stereo file, one at 44.1 kHz."""
    for a in (1, 2):
        for e in range(1, 9):
            wav(root, f"Actor_{a:02d}/03-01-{e:02d}-01-01-01-{a:02d}.wav", freq=100.0 * e + a)
    wav(root, "Actor_01/03-01-03-02-01-01-01.wav", freq=555.0, channels=2)
    wav(root, "Actor_02/03-01-03-02-01-01-02.wav", freq=666.0, sr=44100, seconds=0.4)
    return root


# --- check_corpus --------------------------------------------------------------------------------


def test_counts_durations_and_formats(tmp_path):
    report = check_corpus(load_manifest("ravdess"), ravdess_tree(tmp_path))
    assert report.usable and report.n_labelled == report.n_readable == 18
    assert report.included == 18 and report.skipped == [] and report.unreadable == [] and report.duplicates == []
    assert report.emotion_counts == {"anger": 2, "calm": 2, "disgust": 2, "fear": 2, "happiness": 4, "neutral": 2,
                                     "sadness": 2, "surprise": 2}
    assert report.native_names["happiness"] == ["03"]
    assert report.speaker_counts == {"01": 9, "02": 9}
    assert report.sample_rates == {16000: 17, 44100: 1} and report.channels == {1: 17, 2: 1}
    assert report.total_seconds == pytest.approx(17 * 0.2 + 0.4, abs=1e-3)
    assert Mismatch("files", 18, 1440) in report.mismatches
    assert Mismatch("speaker 01", 9, 60) in report.mismatches
    assert any("several sample rates" in w for w in report.warnings)
    assert report.suggestion is None
    data = report.to_dict()
    json.dumps(data)
    assert data["labelled"] == 18 and data["usable"] is True


def test_unreadable_files_get_their_reasons(tmp_path):
    root = ravdess_tree(tmp_path)
    bad = {
        "Actor_03/03-01-01-01-01-01-03.wav": b"",
        "Actor_03/03-01-02-01-01-01-03.wav": b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 72862\n",
        "Actor_03/03-01-03-01-01-01-03.wav": b"<!DOCTYPE html><html><body>quota exceeded</body></html>",
        "Actor_03/03-01-04-01-01-01-03.wav": b"these are my notes, not audio",
    }
    for rel, data in bad.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    short = "Actor_03/03-01-05-01-01-01-03.wav"  # 25 ms: readable, but extraction would skip it
    sf.write(root / short, np.full(400, 0.1, np.float32), 16000)
    report = check_corpus(load_manifest("ravdess"), root)
    reasons = {s.file: s.reason for s in report.unreadable}
    assert reasons.pop(short) == "too short: 0.025 s < 0.1 s"
    assert reasons.keys() == bad.keys()
    rel = list(bad)
    assert reasons[rel[0]] == "file is empty (0 bytes)"
    assert reasons[rel[1]] == LFS_POINTER and reasons[rel[2]] == HTML_PAGE
    assert "cannot be decoded as audio" in reasons[rel[3]] and str(root) not in reasons[rel[3]]
    assert report.n_labelled == 23 and report.n_readable == 18 and report.usable
    assert report.speaker_counts["03"] == 5  # counted as labelled: the download has them, unreadable or not
    assert any("5 labelled files cannot be read or are too short" in w for w in report.warnings)


def test_identical_files_are_grouped_and_conflicting_labels_flagged(tmp_path):
    root = ravdess_tree(tmp_path)
    a = "Actor_01/03-01-01-01-01-01-01.wav"
    shutil.copy(root / a, root / "Actor_01/03-01-01-01-01-02-01.wav")  # same take twice: a plain duplicate
    shutil.copy(root / a, root / "Actor_01/03-01-05-01-01-02-01.wav")  # same take labelled anger
    report = check_corpus(load_manifest("ravdess"), root)
    assert report.duplicates == [[a, "Actor_01/03-01-01-01-01-02-01.wav", "Actor_01/03-01-05-01-01-02-01.wav"]]
    assert report.conflicting_duplicates == report.duplicates
    assert any("carry different emotions" in w for w in report.warnings)
    assert check_corpus(load_manifest("ravdess"), root, hashes=False).duplicates == []


def test_quick_check_reads_no_audio(tmp_path):
    root = ravdess_tree(tmp_path)
    (root / "Actor_01/03-01-01-01-01-02-01.wav").write_bytes(b"not audio at all, but named like a take")
    report = check_corpus(load_manifest("ravdess"), root, audio=False, hashes=False)
    assert report.n_labelled == 19 and report.unreadable == [] and report.durations == {}
    assert report.usable


def test_a_tree_of_another_corpus_is_unusable_and_named(tmp_path):
    report = check_corpus(load_manifest("casia"), ravdess_tree(tmp_path))
    assert not report.usable and report.n_labelled == 0
    assert "'ravdess'" in report.suggestion
    assert report.warnings[0].startswith("no file got a label")
    assert not any("counts differ" in w for w in report.warnings)


def test_a_corpus_whose_files_are_all_unreadable_is_unusable(tmp_path):
    for rel in ("Actor_01/03-01-01-01-01-01-01.wav", "Actor_01/03-01-02-01-01-01-01.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    report = check_corpus(load_manifest("ravdess"), tmp_path)
    assert report.n_labelled == 2 and not report.usable
    assert report.warnings[0] == "no labelled file can be read"


def test_count_mismatches_per_speaker_with_exceptions():
    m = load_manifest("enterface")
    utts = [Utterance(f"{s}/{k}.avi", s, "anger", "anger") for s in ("1", "23") for k in range(30 if s == "1" else 27)]
    got = count_mismatches(m, utts)
    assert not [x for x in got if x.what.startswith("speaker ")]  # 30 for subject 1, 27 for subject 23: as expected
    utts = utts[1:]
    assert Mismatch("speaker 1", 29, 30) in count_mismatches(m, utts)
    assert Mismatch("disgust", 0, 215) in count_mismatches(m, utts)


@needs_av
def test_enterface_avi_clips_are_read_through_pyav(tmp_path):
    root = tmp_path / "enterface database"
    avi(root, "subject 1/anger/sentence 1/s1_an_1.avi", freq=300)
    avi(root, "subject 11/fear/sentence 2/s12_fe_2.avi", freq=350)
    avi(root, "subject 16/surprise/sentence 3/s16_su_3avi.avi", freq=400, seconds=0.5)
    avi(root, "subject 6/sadness/s6_sa.avi", freq=450)
    (root / "subject 2/disgust/sentence 1").mkdir(parents=True)
    (root / "subject 2/disgust/sentence 1/s2_di_1.avi").write_bytes(b"\x00" * 100)  # a damaged clip
    report = check_corpus(load_manifest("enterface"), tmp_path)
    assert report.speaker_counts == {"1": 1, "2": 1, "11": 1, "16": 1}
    assert report.emotion_counts == {"anger": 1, "disgust": 1, "fear": 1, "surprise": 1}
    assert [s.file for s in report.unreadable] == ["enterface database/subject 2/disgust/sentence 1/s2_di_1.avi"]
    assert "subject 6" in report.skipped[0].reason
    assert report.sample_rates == {48000: 3} and report.channels == {2: 3}
    assert report.total_seconds == pytest.approx(1.1, abs=0.05)
    assert report.usable


def test_without_pyav_video_clips_are_unreadable_with_the_install_hint(tmp_path, monkeypatch):
    root = tmp_path
    p = root / "subject 1/anger/sentence 1/s1_an_1.avi"
    p.parent.mkdir(parents=True)
    p.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST")
    monkeypatch.setitem(sys.modules, "av", None)  # import av now fails, find_spec("av") is None
    report = check_corpus(load_manifest("enterface"), root)
    assert not report.usable
    assert "PyAV" in report.unreadable[0].reason
    assert any("pip install 'sercross[video]'" in w for w in report.warnings)


# --- the CLI -------------------------------------------------------------------------------------


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def no_roots(tmp_path, monkeypatch):
    """No root configured anywhere: no environment variables, no config file."""
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", tmp_path / "no-config.toml")
    for name in ("BERLIN", "CASIA", "RAVDESS", "TESS", "ENTERFACE", "CREMA_D", "SAVEE", "EMOVO", "CSV"):
        monkeypatch.delenv(f"SERCROSS_ROOT_{name}", raising=False)
    return tmp_path


def fake_features(cache: Path, corpus: str, root: Path) -> None:
    meta = cache / "features" / corpus / "IS10" / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"feature_set": "IS10", "root": str(root), "n_utterances": 18,
                                "created": "2026-01-01T00:00:00+00:00"}))


def test_corpora_list_shows_roots_and_cache(no_roots, tmp_path, monkeypatch):
    data = tmp_path / "tess-data"
    data.mkdir()
    monkeypatch.setenv("SERCROSS_ROOT_TESS", str(data))
    monkeypatch.setenv("SERCROSS_ROOT_SAVEE", str(tmp_path / "gone"))
    cache = tmp_path / "cache"
    fake_features(cache, "ravdess", tmp_path / "rav")
    assert cached_features(cache, "ravdess")[0].root == str(tmp_path / "rav")
    r = runner.invoke(app, ["--cache", str(cache), "corpora", "list"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    for name in ("berlin", "casia", "enterface", "ravdess", "tess", "savee", "crema-d", "emovo", "csv"):
        assert name in r.output
    assert "found" in r.output and "missing" in r.output and "not set" in r.output
    assert "IS10: 18 from" in r.output and "SERCROSS_ROOT_TESS" in r.output


def test_corpora_check_reports_and_exits_0(no_roots, tmp_path):
    root = ravdess_tree(tmp_path / "rav")
    out = tmp_path / "report.json"
    r = runner.invoke(app, ["--cache", str(tmp_path), "corpora", "check", "ravdess", "--root", str(root),
                            "--json", str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for text in ("labelled", "18 (expected 1440)", "happiness", "usable: 18 labelled files, 18 readable", "16000 Hz"):
        assert text in r.output, text
    assert json.loads(out.read_text())["emotions"]["happiness"] == 4


@pytest.mark.parametrize("where", ["global", "after"])
def test_verbose_lists_every_unlabelled_file_before_or_after_the_command(no_roots, tmp_path, where):
    root = ravdess_tree(tmp_path / "rav")
    for k in range(12):  # more than the 10 listed by default
        (root / "Actor_01" / f"notes-{k:02d}.wav").write_bytes(b"")
    args = ["--cache", str(tmp_path), "corpora", "check", "ravdess", "--root", str(root), "--quick"]
    short = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert "notes-11.wav" not in short.output and "--verbose lists them" in short.output
    args = ["--verbose", *args] if where == "global" else [*args, "--verbose"]
    full = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert full.exit_code == 0, full.output
    assert "notes-11.wav" in full.output and "--verbose lists them" not in full.output


def test_corpora_check_of_the_wrong_corpus_exits_1_and_says_which(no_roots, tmp_path):
    root = ravdess_tree(tmp_path / "rav")
    r = runner.invoke(app, ["--cache", str(tmp_path), "corpora", "check", "emovo", "--root", str(root)],
                      env={"COLUMNS": "300"})
    assert r.exit_code == 1
    assert "unusable" in r.output and "sercross corpora check ravdess" in r.output


def test_corpora_check_user_errors_exit_2(no_roots, tmp_path):
    r = invoke("--cache", tmp_path, "corpora", "check", "nope", "--root", tmp_path)
    assert r.exit_code == 2 and "unknown corpus 'nope'" in r.output
    r = invoke("--cache", tmp_path, "corpora", "check", "tess", "--root", tmp_path / "missing")
    assert r.exit_code == 2 and "does not exist" in r.output
    r = invoke("--cache", tmp_path, "corpora", "check", "tess")
    assert r.exit_code == 2 and "no root folder" in r.output and "SERCROSS_ROOT_TESS" in r.output
    r = invoke("--cache", tmp_path, "corpora", "check", "csv", "--root", tmp_path)
    assert r.exit_code == 2 and "labels.csv" in r.output


def test_corpora_check_falls_back_to_the_root_the_cache_remembers(no_roots, tmp_path):
    root = ravdess_tree(tmp_path / "rav")
    fake_features(tmp_path / "cache", "ravdess", root)
    r = runner.invoke(app, ["--cache", str(tmp_path / "cache"), "corpora", "check", "ravdess", "--quick"],
                      env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert "root its cached IS10 features were extracted from" in r.output and "audio not read" in r.output


def test_corpora_help():
    r = invoke("corpora", "--help")
    assert r.exit_code == 0 and "list" in r.output and "check" in r.output
    r = invoke("corpora", "check", "--help")
    assert r.exit_code == 0 and "--root" in r.output and "--quick" in r.output


# --- real corpora --------------------------------------------------------------------------------


@pytest.mark.real
def test_real_emodb_and_casia_are_complete(emodb_root, casia_root):
    b = check_corpus(load_manifest("berlin"), emodb_root)
    assert b.usable and b.n_readable == 535 and b.mismatches == [] and b.skipped == [] and b.unreadable == []
    assert b.sample_rates == {22050: 535}  # the shared copy is resampled (see ../shared/corpora/README.md)
    assert b.total_seconds == pytest.approx(535 * 2.0, rel=1e-3)
    c = check_corpus(load_manifest("casia"), casia_root, hashes=False)
    assert c.usable and c.n_readable == 1200 and c.mismatches == [] and c.sample_rates == {16000: 1200}
    assert c.suggestion is None and b.suggestion is None
