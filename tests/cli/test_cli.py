"""The whole CLI chain on tiny synthetic corpora, through Typer's CliRunner (no shell)."""

import json

import pytest
from typer.testing import CliRunner

from sercross.cli import app
from sercross.corpora.demo import DemoConfig, synthesize_corpora

runner = CliRunner()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return synthesize_corpora(tmp_path_factory.mktemp("corpora"), DemoConfig(speakers=2, utterances=2))


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def test_chain_extract_pair_train_evaluate(corpora, tmp_path):
    cache = tmp_path / "cache"
    for name, root in corpora.items():
        r = invoke("--cache", cache, "extract", name, "--root", root, "--jobs", 1)
        assert r.exit_code == 0, r.output
        assert (cache / "features" / name / "IS10" / "features.npy").is_file()
    r = invoke("--cache", cache, "pair", "--source", "demo_a", "--target", "demo-b")
    assert r.exit_code == 0, r.output
    assert "anger, fear, happiness, neutral, sadness" in r.output
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--preset", "demo", "--epochs", 2,
               "--seed", 3)
    assert r.exit_code == 0, r.output
    run = cache / "runs" / "demo_a__demo_b" / "tlmlda" / "demo_e2-seed3"
    for f in ("config.json", "model.pt", "history.csv", "metrics.json", "predictions.csv"):
        assert (run / f).is_file(), f
    assert "WAR" in r.output
    assert "peak memory" in r.output and "reverse-validation UAR" in r.output
    first = json.loads((run / "metrics.json").read_text())
    assert first["n"] == 20 and sum(map(sum, first["confusion"])) == 20
    assert len((run / "history.csv").read_text().splitlines()) == 3
    r = invoke("--cache", cache, "evaluate", "-s", "demo_a", "-t", "demo_b", "--preset", "demo", "--epochs", 2,
               "--seed", 3)  # the same options as train find the run
    assert r.exit_code == 0, r.output
    again = json.loads((run / "metrics.json").read_text())
    assert again["war"] == first["war"] and again["confusion"] == first["confusion"]
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "pca_svm", "--preset", "demo")
    assert r.exit_code == 0, r.output
    assert (cache / "runs" / "demo_a__demo_b" / "pca_svm" / "demo-seed0" / "metrics.json").is_file()
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "tlmlda_plus", "--preset", "demo",
               "--epochs", 2)
    assert r.exit_code == 0, r.output
    assert "speaker normalisation over 2 source and 2 target speaker(s)" in r.output and "warning" not in r.output
    plus = cache / "runs" / "demo_a__demo_b" / "tlmlda_plus" / "demo_e2-seed0"
    assert invoke("--cache", cache, "evaluate", plus).exit_code == 0
    # Another class set replaces the pair, and a finished run of the old classes is never reused for it.
    svm = cache / "runs" / "demo_a__demo_b" / "pca_svm" / "demo-seed0"
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "pca_svm", "--preset", "demo",
               "--classes", "anger,fear,sadness")
    assert r.exit_code == 0, r.output
    assert "had classes anger, fear, happiness, neutral, sadness" in r.output and "training again" in r.output
    assert json.loads((svm / "metrics.json").read_text())["n"] == 12
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "pca_svm", "--preset", "demo",
               "--classes", "anger,fear,sadness")
    assert "already finished" in r.output and "had classes" not in r.output
    r = invoke("--cache", cache, "evaluate", plus)
    assert r.exit_code == 2 and "another version of pair" in r.output
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "pca_svm", "--preset", "demo")
    assert r.exit_code == 0 and "training again" in r.output
    assert json.loads((svm / "metrics.json").read_text())["n"] == 20


def test_user_errors_are_one_line_with_hint_and_exit_2(tmp_path):
    r = invoke("--cache", tmp_path, "extract", "nope", "--root", tmp_path)
    assert r.exit_code == 2
    assert "unknown corpus 'nope'" in r.output and "hint:" in r.output and "Traceback" not in r.output
    r = invoke("--cache", tmp_path, "extract", "berlin", "--root", tmp_path / "missing")
    assert r.exit_code == 2 and "does not exist" in r.output
    r = invoke("--cache", tmp_path, "train", "-s", "demo_a", "-t", "demo_b", "--method", "magic")
    assert r.exit_code == 2 and "unknown method 'magic'" in r.output
    r = invoke("--cache", tmp_path, "evaluate", tmp_path)
    assert r.exit_code == 2 and "no finished run" in r.output
    r = invoke("--cache", tmp_path, "train", "-s", "berlin", "-t", "nonexistent")
    assert r.exit_code == 2 and "unknown corpus 'nonexistent'" in r.output  # before berlin's missing features
    r = invoke("--cache", tmp_path, "train", "-s", "demo_a", "-t", "demo_b", "--lr", "0")
    assert r.exit_code == 2 and "--lr 0 would not train" in r.output


def test_train_says_which_command_to_run_when_features_are_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("SERCROSS_ROOT_DEMO_A", raising=False)
    monkeypatch.setattr("sercross.corpora.manifests.USER_CONFIG", tmp_path / "none.toml")
    r = invoke("--cache", tmp_path, "train", "-s", "demo_a", "-t", "demo_b")
    assert r.exit_code == 2
    assert "sercross extract demo_a --root PATH" in r.output


def test_help_explains_every_command():
    r = invoke("--help")
    assert r.exit_code == 0
    for cmd in ("extract", "pair", "train", "evaluate", "demo"):
        assert cmd in r.output
        sub = invoke(cmd, "--help")
        assert sub.exit_code == 0 and "--" in sub.output


def test_verbose_shows_the_traceback(tmp_path):
    r = invoke("--verbose", "--cache", tmp_path, "extract", "nope", "--root", tmp_path)
    assert r.exit_code != 0 and r.exc_info is not None
    assert type(r.exception).__name__ == "SercrossError"


def test_ctrl_c_during_training_keeps_the_previous_run(corpora, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    for name, root in corpora.items():
        assert invoke("--cache", cache, "extract", name, "--root", root, "--jobs", 1).exit_code == 0
    args = ("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--preset", "demo", "--epochs", 1)
    assert invoke(*args).exit_code == 0
    run = cache / "runs" / "demo_a__demo_b" / "tlmlda" / "demo_e1-seed0"
    before = {f: (run / f).read_bytes() for f in ("config.json", "model.pt", "metrics.json", "history.csv")}

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr("sercross.methods.estimator.NetworkEstimator.fit", interrupted)
    r = invoke(*args, "--force")
    assert r.exit_code == 130 and "interrupted" in r.output
    assert {f: (run / f).read_bytes() for f in before} == before
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    monkeypatch.undo()
    assert invoke("--cache", cache, "evaluate", run).exit_code == 0
