"""Table-labelled corpora under their own names: extract --name, a manifest given by path known by name afterwards,
a name never taken over silently, and `corpora list` showing what each holds."""

import shutil

import pytest
from typer.testing import CliRunner

from sercross.cli import app
from sercross.corpora.demo import DemoConfig, synthesize_corpora

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return synthesize_corpora(tmp_path_factory.mktemp("corpora"), DemoConfig(speakers=2, utterances=1))


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def table_corpus(demo, folder, emotions=("anger", "fear", "sadness")):
    """A corpus labelled by labels.csv (the csv manifest's layout), made of demo_b's recordings."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,emotion,speaker"]
    for wav in sorted(demo["demo_b"].glob("*/*/*.wav")):
        speaker, emotion = wav.parent.parent.name, wav.parent.name
        if emotion in emotions:
            shutil.copy(wav, folder / wav.name)
            rows.append(f"{wav.name},{'angry' if emotion == 'anger' else emotion},{speaker}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.slow  # extracts three small corpora
def test_table_labelled_corpora_keep_their_own_names(demo, tmp_path):
    cache = tmp_path / "cache"
    a = table_corpus(demo, tmp_path / "urdu")
    b = table_corpus(demo, tmp_path / "other", ("anger", "neutral", "sadness"))
    r = invoke("--cache", cache, "extract", "csv", "--root", a, "--name", "urdu", "--jobs", 1)
    assert r.exit_code == 0, r.output
    assert (cache / "features" / "urdu" / "IS10" / "meta.json").is_file() and "known by name" in r.output
    # the name is never taken over by another root, unless asked for
    r = invoke("--cache", cache, "extract", "csv", "--root", b, "--name", "urdu")
    assert r.exit_code == 2 and "extracted from" in r.output and "--name" in r.output
    r = invoke("--cache", cache, "extract", "csv", "--root", b, "--jobs", 1)  # the generic name, another root
    assert r.exit_code == 0, r.output
    r = invoke("--cache", cache, "extract", "csv", "--root", a)
    assert r.exit_code == 2 and "not from" in " ".join(r.output.split())
    r = invoke("--cache", cache, "extract", "csv", "--root", b, "--name", "casia")
    assert r.exit_code == 2 and "name of a known corpus" in r.output

    # a manifest given by its path is known by its name afterwards
    manifest = tmp_path / "mine.toml"
    manifest.write_text((cache / "manifests" / "urdu.toml").read_text().replace('name = "urdu"', 'name = "mine"'))
    r = invoke("--cache", cache, "extract", manifest, "--root", a, "--jobs", 1)
    assert r.exit_code == 0, r.output
    r = invoke("--cache", cache, "extract", "demo_b", "--root", demo["demo_b"], "--jobs", 1)
    assert r.exit_code == 0, r.output
    r = invoke("--cache", cache, "pair", "--source", "demo_b", "--target", "mine", "--classes", "sadness,Angry")
    assert r.exit_code == 0, r.output
    assert "pair demo_b→mine (anger+sadness)" in " ".join(r.output.split())
    r = invoke("--cache", cache, "pair", "--source", "urdu", "--target", "demo_b")
    assert r.exit_code == 0 and "classes anger, fear, sadness" in r.output

    r = invoke("--cache", cache, "corpora", "list")
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "urdu" in text and "mine" in text and "named in this cache" in text
    assert "anger (2), fear (2), sadness (2)" in text  # a csv corpus's own classes, with its file count
    assert "anger (2), neutral (2), sadness (2)" in text
    # a corpus the cache knows is also refused when misspelt, with the closest name
    r = invoke("--cache", cache, "pair", "--source", "urdo", "--target", "demo_b")
    assert r.exit_code == 2 and "did you mean 'urdu'" in r.output
