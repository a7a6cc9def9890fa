"""The whole CLI chain on tiny synthetic corpora, through Typer's CliRunner (no shell)."""

import errno
import json
import re

import pytest
import typer
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


@pytest.mark.slow
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
    # (two epochs learn nothing, which train warns about; the speaker information is complete, which it does not)
    assert "speaker normalisation over 2 source and 2 target speaker(s)" in r.output
    assert "no speaker information" not in r.output
    plus = cache / "runs" / "demo_a__demo_b" / "tlmlda_plus" / "demo_e2-seed0"
    assert invoke("--cache", cache, "evaluate", plus).exit_code == 0
    # Another class set (named in any order and case, or by a corpus's own labels) gets its own pair and runs;
    # the default pair and its runs stay as they were.
    svm = cache / "runs" / "demo_a__demo_b" / "pca_svm" / "demo-seed0"
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "pca_svm", "--preset", "demo",
               "--classes", "Sadness,anger,FEAR")
    assert r.exit_code == 0, r.output
    three = cache / "runs" / "demo_a__demo_b~anger+fear+sadness" / "pca_svm" / "demo-seed0"
    assert json.loads((three / "metrics.json").read_text())["n"] == 12 and "training again" not in r.output
    assert "demo_a→demo_b (anger+fear+sadness)" in r.output and "chance 33.33 %" in r.output
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "pca_svm", "--preset", "demo",
               "--classes", "anger,fear,sadness")
    assert "already finished" in r.output
    assert invoke("--cache", cache, "evaluate", plus).exit_code == 0
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "--method", "pca_svm", "--preset", "demo")
    assert r.exit_code == 0 and "already finished" in r.output
    assert json.loads((svm / "metrics.json").read_text())["n"] == 20
    r = invoke("--cache", cache, "evaluate", "-s", "demo_a", "-t", "demo_b", "-m", "pca_svm", "-p", "demo",
               "--classes", "fear,sadness,anger")
    assert r.exit_code == 0 and str(three) in " ".join(r.output.split())
    # A run that is not there: the hint is the command that trains it, or those that find the runs that are.
    r = invoke("--cache", cache, "evaluate", "-s", "demo_a", "-t", "demo_b", "-m", "tlmlda_plus")
    assert r.exit_code == 2 and "sercross evaluate --source demo_a --target demo_b --method tlmlda_plus --preset " \
        "demo --epochs 2 --seed 0" in " ".join(r.output.split())
    r = invoke("--cache", cache, "evaluate", "-s", "demo_a", "-t", "demo_b", "-m", "dann", "--classes", "anger,fear")
    assert r.exit_code == 2 and "sercross train --source demo_a --target demo_b --classes anger,fear --method dann " \
        "--preset paper --seed 0" in " ".join(r.output.split())


def test_commands_on_the_demo_corpora_find_the_cache_the_demo_wrote(tmp_path, monkeypatch):
    from sercross.cli.common import remember_demo_cache

    monkeypatch.delenv("SERCROSS_CACHE", raising=False)
    monkeypatch.setattr("sercross.infra.cache.DEFAULT_CACHE", tmp_path / "default")
    demo_cache = tmp_path / "demo-output" / "cache"
    r = invoke("evaluate", "-s", "demo_a", "-t", "demo_b")
    assert r.exit_code == 2 and str(tmp_path / "default") in " ".join(r.output.split())
    demo_cache.mkdir(parents=True)
    remember_demo_cache(demo_cache)  # what `sercross demo` does at its end, when no cache was given
    for args in (("evaluate", "-s", "demo-a", "-t", "Demo_B"), ("report", "-s", "demo_a", "-t", "demo_b")):
        r = invoke(*args)
        assert r.exit_code == 2 and "using the cache `sercross demo` wrote" in r.output, r.output
        assert str(demo_cache) in " ".join(r.output.split()), r.output
    r = invoke("--cache", tmp_path / "other", "evaluate", "-s", "demo_a", "-t", "demo_b")
    assert "using the cache" not in r.output  # a cache given is the cache used
    r = invoke("evaluate", "-s", "berlin", "-t", "demo_b")
    assert "using the cache" not in r.output  # only commands on the demo corpora alone
    (tmp_path / "default" / "features" / "demo_a").mkdir(parents=True)
    r = invoke("evaluate", "-s", "demo_a", "-t", "demo_b")
    assert "using the cache" not in r.output  # the default cache has the demo corpora itself


def test_without_a_terminal_progress_is_a_line_per_tenth_of_the_work_and_at_least_every_minute():
    from sercross.cli.common import PlainLog

    now = [0.0]
    log = PlainLog(500, clock=lambda: now[0])
    assert [e for e in range(1, 501) if log.due(e)] == list(range(50, 501, 50))
    log = PlainLog(500, clock=lambda: now[0])
    due = []
    for e in range(1, 40):
        now[0] += 7.0  # slow epochs: a line after each minute
        if log.due(e):
            due.append(e)
    assert due == [9, 18, 27, 36]
    log = PlainLog(3, clock=lambda: now[0])
    assert [e for e in range(1, 4) if log.due(e)] == [1, 2, 3]
    log = PlainLog(1439, clock=lambda: now[0])  # files extracted in chunks: a line when a tenth is passed
    assert [n for n in range(0, 1440, 40) if log.due(n)] == [160, 320, 440, 600, 720, 880, 1040, 1160, 1320]
    assert log.due(1439)


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
    assert r.exit_code == 2 and "lr = 0 would not train" in r.output


def test_misspelt_names_get_the_closest_name_and_other_cases_are_accepted(tmp_path):
    cases = [
        (("train", "-s", "berlinn", "-t", "casia"), "unknown corpus 'berlinn': did you mean 'berlin'?"),
        (("extract", "casiaa"), "unknown corpus 'casiaa': did you mean 'casia'?"),
        (("report", "-s", "berlin", "-t", "casai"), "unknown corpus 'casai': did you mean 'casia'?"),
        (("corpora", "check", "ravdes"), "unknown corpus 'ravdes': did you mean 'ravdess'?"),
        (("benchmark", "--schemes", "B:casiaa"), "unknown corpus 'casiaa': did you mean 'casia'?"),
        (("train", "-s", "B", "-t", "C", "-m", "tlmda"), "unknown method 'tlmda': did you mean 'tlmlda'?"),
        (("benchmark", "--methods", "paper,tlmda"), "unknown method 'tlmda': did you mean 'tlmlda'?"),
        (("train", "-s", "B", "-t", "C", "-f", "IS11"), "unknown feature set 'IS11': did you mean 'IS10'?"),
        (("evaluate", "-s", "B", "-t", "C", "-p", "papr"), "unknown preset 'papr': did you mean 'paper'?"),
        (("train", "-s", "B", "-t", "C", "--precision", "bf61"), "unknown precision 'bf61': did you mean 'bf16'?"),
        (("pair", "-s", "B", "-t", "C", "--classes", "anger,happines"),
         "unknown class 'happines': did you mean 'happiness'?"),
        (("pair", "-s", "B", "-t", "ravdess", "--classes", "anger,happy"),
         "unknown class 'happy': did you mean 'happiness'?"),
        (("pair", "-s", "B", "-t", "C", "--classes", "anger,Anger,fear"), "--classes names anger more than once"),
        (("pair", "-s", "B", "-t", "C", "--classes", ","), "--classes ',' names no class"),
    ]
    for args, message in cases:
        r = invoke("--cache", tmp_path, *args)
        assert r.exit_code == 2 and message in " ".join(r.output.split()), (args, r.output)
        assert "hint:" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "features").exists()  # refused before any work
    # Click checks options in the order given, so both notes come before the refusal of the target.
    r = invoke("--cache", tmp_path, "train", "--features", "is10", "-m", "Only_Cls", "-p", "Fast", "-s", "B", "-t", "x")
    assert "--features is10: using IS10" in r.output and "--method Only_Cls: using only_cls" in r.output
    assert "--preset Fast: using fast" in r.output and "unknown corpus 'x'" in r.output
    r = invoke("--cache", tmp_path, "pair", "-s", "demo_a", "-t", "demo_b", "--features", "is10")
    assert r.exit_code == 2 and "has no IS10 features" in r.output  # the canonical name is used from there on


def test_train_says_which_command_to_run_when_features_are_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("SERCROSS_ROOT_DEMO_A", raising=False)
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", tmp_path / "none.toml")
    r = invoke("--cache", tmp_path, "train", "-s", "demo_a", "-t", "demo_b")
    assert r.exit_code == 2
    assert "sercross extract demo_a --root PATH" in r.output and "`sercross demo` synthesizes" in r.output


@pytest.mark.parametrize("native, chosen", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_says_what_it_chose_and_why(native, chosen, tmp_path, monkeypatch):
    from sercross.methods import precision

    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: ("amx_bf16",) if native else ())
    monkeypatch.setattr(precision, "torch_bf16_matmul", lambda: True)
    monkeypatch.delenv("SERCROSS_ROOT_DEMO_A", raising=False)
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", tmp_path / "none.toml")
    r = invoke("--cache", tmp_path, "train", "-s", "demo_a", "-t", "demo_b", "--precision", "auto")
    assert f"precision {chosen} (auto: " in " ".join(r.output.split())
    assert ("natively (amx_bf16)" in r.output) == native
    r = invoke("--cache", tmp_path, "benchmark", "--schemes", "demo_a:demo_b", "--precision", "AUTO")
    assert f"precision {chosen} (auto: " in " ".join(r.output.split())


def _commands(group, prefix=()):
    """(path, click command) of every command of the app, groups included."""
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_and_every_option_has_help():
    root = typer.main.get_command(app)
    commands = list(_commands(root))
    assert {" ".join(path) for path, _ in commands} >= {"extract", "pair", "train", "evaluate", "demo", "benchmark",
                                                       "report", "corpora", "corpora list", "corpora check"}
    for path, cmd in [((), root), *commands]:
        assert (cmd.help or "").strip(), f"{path} has no help"
        # Typer keeps a paragraph's line breaks, which then fall mid-sentence on the terminal
        assert all("\n" not in para for para in cmd.help.split("\n\n")), f"{path}: a paragraph breaks lines"
        for param in cmd.params:
            assert (param.help or "").strip(), f"{' '.join(path)} {param.name} has no help"


@pytest.mark.parametrize("columns", ["80", "120"])
def test_help_is_whole_at_terminal_widths(columns):
    root = typer.main.get_command(app)
    for path, cmd in [((), root), *_commands(root)]:
        r = runner.invoke(app, [*path, "--help"], env={"COLUMNS": columns})
        assert r.exit_code == 0, r.output
        assert not re.search(r"\w…", r.output), f"{path}: help text cut:\n{r.output}"  # rich's cut of a long word
        assert "<bool>" not in r.output, f"{path}: a flag is shown as taking a value"
        for param in cmd.params:
            for opt in param.opts if param.param_type_name == "option" else []:
                assert opt in r.output, f"{path}: {opt} missing from its help"


def test_each_command_is_summed_up_in_one_line_of_the_command_list():
    r = runner.invoke(app, ["--help"], env={"COLUMNS": "220"})
    lines = r.output.splitlines()
    for path, cmd in _commands(typer.main.get_command(app)):
        if len(path) == 1:
            summary = cmd.help.split("\n\n")[0]
            assert any(summary in line for line in lines), f"{path}: {summary!r} is not on one line"


def test_global_flags_and_the_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.output.startswith("sercross ")
    r = invoke("--help")
    assert "--verbose" in r.output and "SERCROSS_CACHE" in r.output


def test_verbose_shows_the_traceback(tmp_path):
    r = invoke("--verbose", "--cache", tmp_path, "extract", "nope", "--root", tmp_path)
    assert r.exit_code != 0 and r.exc_info is not None
    assert type(r.exception).__name__ == "SercrossError"


@pytest.mark.slow
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


@pytest.mark.slow
def test_evaluate_in_a_read_only_cache_shows_the_stored_metrics(corpora, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    for name, root in corpora.items():
        assert invoke("--cache", cache, "extract", name, "--root", root, "--jobs", 1).exit_code == 0
    args = ("--cache", cache, "evaluate", "-s", "demo_a", "-t", "demo_b", "-m", "pca_svm", "--preset", "demo")
    assert invoke(*args[:2], "train", *args[3:]).exit_code == 0
    run = cache / "runs" / "demo_a__demo_b" / "pca_svm" / "demo-seed0"
    r = invoke(*args, "--features", "IS09")
    # the feature set is part of a run's identity (its tag), and the hint finds the run that exists
    assert r.exit_code == 2 and "tag demo_features-IS09" in r.output
    assert "sercross evaluate --source demo_a --target demo_b --method pca_svm --preset demo --seed 0" in r.output
    stored = (run / "metrics.json").read_bytes()

    def read_only(*a, **kw):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.mkstemp", read_only)  # how every write into the cache begins
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert "not recomputed or rewritten" in " ".join(r.output.split()) and "WAR" in r.output
    assert "wrote" not in r.output and (run / "metrics.json").read_bytes() == stored
    monkeypatch.undo()
    r = invoke(*args)
    assert r.exit_code == 0 and "wrote" in r.output and "not recomputed" not in r.output


@pytest.mark.slow  # extracts a small corpus
def test_extract_says_which_files_had_identical_content(tmp_path):
    import shutil

    from sercross.corpora.demo import synthesize_corpus

    root = synthesize_corpus("demo_a", tmp_path / "audio", DemoConfig(speakers=1, utterances=2))
    first = sorted((root / "a01" / "anger").glob("*.wav"))[0]
    shutil.copy(first, first.with_name("a01_anger_09.wav"))  # a copy under another valid name
    r = runner.invoke(app, ["--cache", str(tmp_path / "cache"), "extract", "demo_a", "--root", str(root), "-j", "1"])
    assert r.exit_code == 0, r.output
    assert "2 files had identical content and were extracted once" in r.output
    assert "a01/anger/a01_anger_01.wav = a01/anger/a01_anger_09.wav" in r.output


@pytest.mark.slow  # 17 candidate runs of 1 epoch on 20 utterances
def test_train_auto_trains_the_candidates_says_its_cost_and_shows_the_pick(corpora, tmp_path):
    cache = tmp_path / "cache"
    for name, root in corpora.items():
        assert invoke("--cache", cache, "extract", name, "--root", root, "--jobs", 1).exit_code == 0
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "-m", "auto", "--preset", "demo",
               "--epochs", 1)
    assert r.exit_code == 0, r.output
    assert "17 candidate runs" in r.output and "TLMLDA+ runs of compute" in r.output
    doc = json.loads((cache / "runs" / "demo_a__demo_b" / "auto" / "demo_e1-seed0" / "selection.json").read_text())
    # the default rule averages: every candidate of the pool, marked as such
    assert set(doc["members"]) == set(doc["pool"]) and doc["pick"] == f"mean of all {len(doc['pool'])}"
    assert re.search(rf"{doc['members'][0]}\s.*averaged", r.output) and doc["pick"] in r.output
    r = invoke("--cache", cache, "train", "-s", "demo_a", "-t", "demo_b", "-m", "auto", "--preset", "demo",
               "--epochs", 1)
    assert r.exit_code == 0 and "17 finished already, 0 to train" in r.output


def test_corpora_list_loads_no_numerical_or_audio_library(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import sercross

    code = ("import sys; from typer.testing import CliRunner; from sercross.cli import app; "
            f"r = CliRunner().invoke(app, ['--cache', {str(tmp_path)!r}, 'corpora', 'list']); "
            "assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('numpy', 'scipy', 'torch', 'soundfile', 'opensmile') if m in sys.modules))")
    src = str(Path(sercross.__file__).parents[1])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src},
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # `corpora list` answers at once (scipy alone takes ~1 s to import)
