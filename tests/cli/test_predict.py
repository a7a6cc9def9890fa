"""`sercross predict`: a run applied to recordings, scaled as its target was (so its own target's recordings get
the run's own predictions), and a corpus without labels as a target."""

import csv
import json
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


def rows(path):
    return list(csv.DictReader(open(path)))


@pytest.mark.slow  # extracts and trains
@pytest.mark.parametrize("method", ["pca_svm", "only_cls_spk"])
def test_predicting_the_target_s_own_recordings_gives_the_run_s_predictions(demo, tmp_path, method):
    cache = tmp_path / "cache"
    for name, root in demo.items():
        assert invoke("--cache", cache, "extract", name, "--root", root, "--jobs", 1).exit_code == 0
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "-m", method, "-p", "demo", "--epochs", 2)
    assert r.exit_code == 0, r.output
    run = next((cache / "runs" / "demo_a__demo_b" / method).iterdir())
    out = tmp_path / "p.csv"
    r = invoke("--cache", cache, "predict", run, "--root", demo["demo_b"], "--manifest", "demo_b", "--out", out)
    assert r.exit_code == 0, r.output
    mine = {r["file"]: r for r in rows(run / "predictions.csv")}
    every = rows(out)
    assert len(every) == 12 and {r["true"] for r in every if r["file"] not in mine} == {""}  # surprise: no class
    # the very recordings of the pair (without surprise, which speaker normalisation would count in)
    same = tmp_path / "same"
    shutil.copytree(demo["demo_b"], same, ignore=shutil.ignore_patterns("surprise"))
    r = invoke("--cache", cache, "predict", run, "--root", same, "--manifest", "demo_b", "--out", out)
    assert r.exit_code == 0, r.output
    new = rows(out)
    assert len(new) == len(mine) and all(r["predicted"] == mine[r["file"]]["predicted"] for r in new)
    assert all(abs(float(r["p_anger"]) - float(mine[r["file"]]["p_anger"])) < 1e-5 for r in new)
    war = json.loads((run / "metrics.json").read_text())["war"]
    assert f"WAR {100 * war:.2f} %" in r.output  # the manifest's labels, compared after the fact


@pytest.mark.slow  # extracts and trains
def test_an_unlabelled_target_trains_and_reports_predictions(demo, tmp_path):
    cache = tmp_path / "cache"
    folder = tmp_path / "unlabelled"
    shutil.copytree(demo["demo_b"], folder)
    (folder / "labels.csv").write_text("file,speaker\n" + "".join(
        f"{p.relative_to(folder).as_posix()},{p.parent.parent.name}\n" for p in sorted(folder.glob("*/*/*.wav"))))
    assert invoke("--cache", cache, "extract", "demo_a", "--root", demo["demo_a"], "--jobs", 1).exit_code == 0
    r = invoke("--cache", cache, "extract", "csv", "--root", folder, "--name", "field", "--jobs", 1)
    assert r.exit_code == 0, r.output
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "field", "-m", "only_cls", "-p", "demo", "--epochs", 2)
    assert r.exit_code == 0, r.output
    assert "the target has no labels" in " ".join(r.output.split()) and "WAR" not in r.output
    run = cache / "runs" / "demo_a__field" / "only_cls" / "demo_e2-seed0"
    met = json.loads((run / "metrics.json").read_text())
    assert met["labelled"] is False and sum(met["predicted"].values()) == 12
    # the source's classes: demo_a has six, the default set of a pair with an unlabelled target
    assert met["classes"] == ["anger", "boredom", "fear", "happiness", "neutral", "sadness"]
    assert {r["true"] for r in rows(run / "predictions.csv")} == {""}
    r = invoke("--cache", cache, "benchmark", "--schemes", "demo_a:field", "--methods", "only_cls", "--seeds", 1,
               "--preset", "demo", "--epochs", 2, "--jobs", 1, "--name", "field")
    assert r.exit_code == 0, r.output
    assert "the target has no labels" in (cache / "benchmarks" / "field" / "tables.md").read_text()
