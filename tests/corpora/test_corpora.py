import re
from pathlib import Path

import pytest

from sercross.corpora.manifests import CANONICAL_EMOTIONS, available_manifests, load_manifest
from sercross.corpora.roots import configured_root, resolve_root
from sercross.corpora.scanning import glob_regex, scan, walk_files
from sercross.infra.errors import SercrossError


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
        # a rules manifest labels by its rules; a csv one (the generic "csv") by its table
        assert m.name == n and (m.rules or m.kind == "csv") and m.emotions


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
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", tmp_path / "none.toml")
    with pytest.raises(SercrossError, match="no root folder"):
        resolve_root(m)
    monkeypatch.setenv(m.env_var, str(tmp_path))
    assert resolve_root(m) == tmp_path
    with pytest.raises(SercrossError, match="does not exist"):
        resolve_root(m, tmp_path / "missing")
    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(SercrossError, match="is a file, not a folder"):
        resolve_root(m, tmp_path / "a.wav")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[roots]\ncasia = "{tmp_path}"\n')
    monkeypatch.delenv(m.env_var)
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", cfg)
    assert resolve_root(m) == tmp_path


def test_unknown_corpus(tmp_path):
    with pytest.raises(SercrossError, match="unknown corpus 'nope'") as e:
        load_manifest("nope")
    assert "berlin" in e.value.hint
    with pytest.raises(SercrossError, match="manifest file .*missing.toml not found"):
        load_manifest(tmp_path / "missing.toml")


@pytest.mark.real
def test_real_emodb_and_casia_counts(emodb_root, casia_root):
    b = scan(load_manifest("berlin"), emodb_root)
    assert len(b.utterances) == 535 and not b.skipped
    assert len({u.speaker for u in b.utterances}) == 10
    c = scan(load_manifest("casia"), casia_root)
    assert len(c.utterances) == 1200 and len({u.speaker for u in c.utterances}) == 4


# --- globs and the folder walk ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("wav/*.wav", "wav/03a01Wa.wav", True),
        ("wav/*.wav", "wav/sub/x.wav", False),
        ("*/*/*.wav", "spk/angry/201.wav", True),
        ("*/*/*.wav", "spk/angry/201.lab", False),
        ("**/*.wav", "a.wav", True),
        ("**/*.wav", "a/b/c/d.wav", True),
        ("**/*avi", "subject 16/surprise/sentence 3/s16_su_3avi", True),
        ("**/*avi", "x/clip.avi", True),
        ("s?/[ab]*.wav", "s1/a1.wav", True),
        ("s?/[!ab]*.wav", "s1/a1.wav", False),
        ("audio+/(x).wav", "audio+/(x).wav", True),
    ],
)
def test_glob_regex(pattern, path, matches):
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_glob_regex_ignore_case():
    assert glob_regex("**/*.avi", ignore_case=True).fullmatch("A/B.AVI")
    assert not glob_regex("**/*.avi").fullmatch("A/B.AVI")


def test_walk_depth_symlink_loop_and_order(tmp_path):
    touch(tmp_path, "b.wav", "a/x.wav", "a/deep/y.wav")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    files, bad = walk_files(tmp_path)
    assert files == ["b.wav", "a/x.wav", "a/deep/y.wav"] and bad == []  # each folder once, despite the loop
    assert sorted(walk_files(tmp_path, max_depth=2)[0]) == ["a/x.wav", "b.wav"]
    assert walk_files(tmp_path, max_depth=1)[0] == ["b.wav"]


def test_macos_junk_is_left_out_with_its_reason(tmp_path):
    touch(tmp_path, "wangzhe/angry/201.wav", "wangzhe/angry/._201.wav")
    idx = scan(load_manifest("casia"), tmp_path)
    assert [u.file for u in idx.utterances] == ["wangzhe/angry/201.wav"]
    assert "macOS" in idx.skipped[0].reason


# --- errors that say what is wrong -----------------------------------------------------------


def test_a_root_one_level_too_high_gets_the_subfolder_named(tmp_path):
    touch(tmp_path, "emodb/wav/03a01Wa.wav", "emodb/wav/16b10Tb.wav")
    with pytest.raises(SercrossError, match="found no files for corpus 'berlin'") as e:
        scan(load_manifest("berlin"), tmp_path)
    assert str(tmp_path / "emodb") in e.value.hint and "2 files" in e.value.hint


def test_a_root_of_another_corpus_names_that_corpus(tmp_path):
    touch(tmp_path, "Actor_01/03-01-05-01-01-01-01.wav", "Actor_01/03-01-04-01-01-01-01.wav")
    with pytest.raises(SercrossError) as e:
        scan(load_manifest("tess"), tmp_path)
    assert "found 2 files but none with a known label for corpus 'tess'" in e.value.message
    assert "'ravdess'" in e.value.hint and "sercross corpora check ravdess" in e.value.hint


def test_an_empty_root_says_so(tmp_path):
    with pytest.raises(SercrossError, match="the folder is empty"):
        scan(load_manifest("ravdess"), tmp_path)


def test_strict_false_returns_an_empty_index(tmp_path):
    idx = scan(load_manifest("ravdess"), tmp_path, strict=False)
    assert idx.utterances == [] and idx.included == 0


# --- roots ------------------------------------------------------------------------------------


def test_empty_env_var_counts_as_unset(tmp_path, monkeypatch):
    m = load_manifest("tess")
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", tmp_path / "none.toml")
    monkeypatch.setenv(m.env_var, "")
    assert configured_root(m) == (None, None)
    with pytest.raises(SercrossError, match="no root folder"):
        resolve_root(m)


def test_config_file_accepts_aliases_and_reports_its_source(tmp_path, monkeypatch):
    m = load_manifest("crema-d")
    monkeypatch.delenv(m.env_var, raising=False)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[roots]\ncremad = "{tmp_path}"\n')
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", cfg)
    assert configured_root(m) == (str(tmp_path), str(cfg))
    assert resolve_root(m) == tmp_path
    monkeypatch.setenv(m.env_var, str(tmp_path / "elsewhere"))
    assert configured_root(m) == (str(tmp_path / "elsewhere"), "SERCROSS_ROOT_CREMA_D")
    with pytest.raises(SercrossError, match="SERCROSS_ROOT_CREMA_D"):
        resolve_root(m)
    cfg.write_text("roots = [")
    monkeypatch.delenv(m.env_var)
    with pytest.raises(SercrossError, match="cannot read"):
        configured_root(m)


# --- manifest validation ----------------------------------------------------------------------


def write_manifest(tmp_path, text: str):
    p = tmp_path / "m.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nkind = "magic"', "unknown kind"),
        ('name = "x"\ninclude = ["*.wav"]\nemotions = {}', "lacks rules"),
        ('name = "x"\ninclude = ["*.wav"]\nrules = ["(.*"]\n[emotions]', "bad rule"),
        ('name = "x"\ninclude = ["*.wav"]\nrules = ["(?P<e>.*)"]\n[emotions]', "no (?P<emotion>"),
        ('name = "x"\ninclude = ["*.wav"]\nrules = ["(?P<emotion>.*)"]\n[emotions]\na = "rage"', "non-canonical"),
        ('name = "x"\ninclude = ["*.wav"]\nrules = ["(?P<emotion>.*)"]\n[[exclude]]\nreason = "r"\n[emotions]',
         "needs a pattern"),
        ('name = "x"\ninclude = ["*.wav"]\nrules = ["(?P<emotion>.*)"]\n[emotions]\n[expected.emotions]\njoy = 3',
         "non-canonical"),
        ('name = "x"\nkind = "csv"\n[csv_columns]\nmood = "m"', "not mood"),
        ('name = "x"\nrules = [', "cannot read manifest"),
    ],
)
def test_bad_manifests_are_clear_errors(tmp_path, text, message):
    with pytest.raises(SercrossError, match=re.escape(message)):
        load_manifest(write_manifest(tmp_path, text))


def test_exclusions_come_before_rules(tmp_path):
    p = write_manifest(tmp_path, """
name = "x"
include = ["*/*.wav"]
rules = ['(?P<speaker>[^/]+)/(?P<emotion>[a-z]+)_\\d\\.wav']
[[exclude]]
pattern = 'bad/.*'
reason = "a broken session"
[emotions]
angry = "anger"
""")
    touch(tmp_path / "root", "s1/angry_1.wav", "bad/angry_2.wav")
    idx = scan(load_manifest(p), tmp_path / "root")
    assert [u.file for u in idx.utterances] == ["s1/angry_1.wav"]
    assert [(s.file, s.reason) for s in idx.skipped] == [("bad/angry_2.wav", "a broken session")]


# --- the csv kind ------------------------------------------------------------------------------


def test_csv_manifest_labels_from_the_table(tmp_path):
    touch(tmp_path, "a/1.wav", "a/2.wav", "b/3.flac", "b/4.wav", "unlisted.wav", "b/5.wav", "notes.txt")
    (tmp_path / "labels.csv").write_text(
        "File;Emotion;Speaker\n"
        "a/1.wav;angry;a\n"
        "./a/2.wav;Neutral;a\n"
        "b\\3.flac;sadness;b\n"
        "b/4.wav;grumpy;b\n"
        "missing.wav;fear;b\n"
        "a/1.wav;happy;a\n"
        f"{tmp_path / 'b' / '5.wav'};surprised;\n"
        "\n"
    )
    m = load_manifest("csv")
    assert m.kind == "csv" and set(m.classes) == set(CANONICAL_EMOTIONS)
    idx = scan(m, tmp_path)
    assert [(u.file, u.speaker, u.emotion, u.native) for u in idx.utterances] == [
        ("a/1.wav", "a", "anger", "angry"),
        ("a/2.wav", "a", "neutral", "Neutral"),
        ("b/3.flac", "b", "sadness", "sadness"),
        ("b/5.wav", "", "surprise", "surprised"),
    ]
    reasons = {s.file: s.reason for s in idx.skipped}
    assert "unknown emotion label 'grumpy' (labels.csv line 5)" == reasons["b/4.wav"]
    assert "not found under the root" in reasons["missing.wav"]
    assert "listed twice in labels.csv (lines 2 and 7)" == reasons["a/1.wav"]
    assert reasons["unlisted.wav"] == "not listed in labels.csv"
    assert "notes.txt" not in reasons and "labels.csv" not in reasons


def test_csv_manifest_column_mapping_and_errors(tmp_path):
    touch(tmp_path, "x.wav")
    m = load_manifest("csv")
    with pytest.raises(SercrossError, match="does not exist") as e:
        scan(m, tmp_path)
    assert "file, emotion" in e.value.hint
    (tmp_path / "labels.csv").write_text("path\tmood\nx.wav\tanger\n")
    with pytest.raises(SercrossError, match="no emotion column"):
        scan(m, tmp_path)
    own = write_manifest(tmp_path, 'name = "mine"\nkind = "csv"\ncsv = "labels.csv"\n[csv_columns]\nemotion = "mood"\n')
    idx = scan(load_manifest(own), tmp_path)
    assert [(u.file, u.emotion, u.speaker) for u in idx.utterances] == [("x.wav", "anger", "")]
    (tmp_path / "labels.csv").write_text("file,emotion\nx.wav,rage\n")
    with pytest.raises(SercrossError, match="none with a known label"):
        scan(m, tmp_path)


def test_few_labels_but_many_for_another_corpus_names_it():
    from sercross.corpora.scanning import different_corpus_hint, label_paths

    files = [f"{spk}/{emo}/{k}.wav" for spk in ("wangzhe", "liuchanhg") for emo in ("angry", "fear", "happy",
             "neutral", "sad", "surprise") for k in range(201, 211)]
    demo = load_manifest("demo_a")  # canonical folder names: it labels only CASIA's fear and neutral folders
    labelled = len(label_paths(demo, files)[0])
    assert labelled == 40
    hint = different_corpus_hint(demo, Path("/data/x"), labelled, files)
    assert "'casia'" in hint and "120 of them (this one: 40)" in hint
    assert different_corpus_hint(load_manifest("casia"), Path("/data/x"), 120, files) is None
