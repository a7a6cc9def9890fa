from pathlib import Path

import pytest

from sercross.corpora import available_manifests, load_manifest, resolve_root, scan
from sercross.errors import SercrossError


def touch(root: Path, *names: str) -> None:
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_shipped_manifests_load():
    names = set(available_manifests())
    assert {"berlin", "casia", "demo_a", "demo_b"} <= names
    for n in names:
        m = load_manifest(n)
        assert m.name == n and m.rules and m.emotions


def test_aliases():
    assert load_manifest("B").name == "berlin"
    assert load_manifest("emodb").name == "berlin"
    assert load_manifest("C").name == "casia"


def test_berlin_label_rule(tmp_path):
    touch(tmp_path, "wav/03a01Wa.wav", "wav/16b10Tb.wav", "wav/11a05Nc.wav", "wav/bad.wav", "wav/03a01Xa.wav",
          "notes.txt")
    idx = scan(load_manifest("berlin"), tmp_path)
    got = {(u.file, u.speaker, u.emotion) for u in idx.utterances}
    assert got == {("wav/03a01Wa.wav", "03", "anger"), ("wav/16b10Tb.wav", "16", "sadness"),
                   ("wav/11a05Nc.wav", "11", "neutral")}
    reasons = {s.file: s.reason for s in idx.skipped}
    assert "matches no label rule" in reasons["wav/bad.wav"]
    assert "unknown emotion label 'X'" in reasons["wav/03a01Xa.wav"]


def test_casia_layout_ignores_side_files(tmp_path):
    touch(tmp_path, "wangzhe/angry/201.wav", "wangzhe/angry/201.lab", "wangzhe/angry/_desktop.ini",
          "liuchanhg/Sad/202.wav", "wangzhe/surprise/203.peak")
    idx = scan(load_manifest("casia"), tmp_path)
    assert [(u.speaker, u.emotion) for u in idx.utterances] == [("liuchanhg", "sadness"), ("wangzhe", "anger")]
    assert idx.skipped == []


def test_empty_or_wrong_root_is_a_clear_error(tmp_path):
    with pytest.raises(SercrossError, match="found no files for corpus 'berlin'"):
        scan(load_manifest("berlin"), tmp_path)
    touch(tmp_path, "wangzhe/angry/201.wav")
    with pytest.raises(SercrossError, match="berlin"):
        scan(load_manifest("berlin"), tmp_path)


def test_root_resolution(tmp_path, monkeypatch):
    m = load_manifest("casia")
    monkeypatch.delenv(m.env_var, raising=False)
    monkeypatch.setattr("sercross.corpora.USER_CONFIG", tmp_path / "none.toml")
    with pytest.raises(SercrossError, match="no root folder"):
        resolve_root(m)
    monkeypatch.setenv(m.env_var, str(tmp_path))
    assert resolve_root(m) == tmp_path
    with pytest.raises(SercrossError, match="does not exist"):
        resolve_root(m, tmp_path / "missing")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[roots]\ncasia = "{tmp_path}"\n')
    monkeypatch.delenv(m.env_var)
    monkeypatch.setattr("sercross.corpora.USER_CONFIG", cfg)
    assert resolve_root(m) == tmp_path


def test_unknown_corpus():
    with pytest.raises(SercrossError, match="unknown corpus 'nope'") as e:
        load_manifest("nope")
    assert "berlin" in e.value.hint


@pytest.mark.real
def test_real_emodb_and_casia_counts(emodb_root, casia_root):
    b = scan(load_manifest("berlin"), emodb_root)
    assert len(b.utterances) == 535 and not b.skipped
    assert len({u.speaker for u in b.utterances}) == 10
    c = scan(load_manifest("casia"), casia_root)
    assert len(c.utterances) == 1200 and len({u.speaker for u in c.utterances}) == 4
