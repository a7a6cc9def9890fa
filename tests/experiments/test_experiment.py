"""Experiment files: reading and checking them, the runs they name (the same as flags), resuming, changing one
option, the resolved file stored with the results, and `sercross run`."""

import csv
import json
import re

import pytest
from test_benchmark import TINY, write_features
from typer.testing import CliRunner

import sercross.experiments.execute as execute
import sercross.experiments.plan as plan_mod
from sercross.experiments.experiment_file import experiment_from_doc, load_experiment
from sercross.infra import toml_loads
from sercross.infra.errors import SercrossError
from sercross.methods.config import PRESETS

STUDY = """
name = "study"
corpora = ["demo_a", "demo_b"]
classes = ["default", "anger,fear,sadness"]
preset = "tiny"
seeds = 2

[settings]
epochs = 1

[[methods]]
method = "only_cls"

[[methods]]
method = "only_cls"
label = "only_cls slow"
lr = 3e-4

[[methods]]
method = "pca_svm"
"""


@pytest.fixture(autouse=True)
def tiny(monkeypatch, tmp_path):
    monkeypatch.setitem(PRESETS, "tiny", TINY)
    for name in ("DEMO_A", "DEMO_B"):
        monkeypatch.delenv(f"SERCROSS_ROOT_{name}", raising=False)
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", tmp_path / "no-config.toml")


@pytest.fixture
def cache(tmp_path):
    c = tmp_path / "cache"
    write_features(c, "demo_a", seed=1)
    write_features(c, "demo_b", seed=2)
    return c


def study(tmp_path, text=STUDY):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def plan_of(cache, exp):
    return plan_mod.plan_grid(cache, exp.recipes(), exp.scheme_list(), False, exp.seeds, exp.class_sets,
                              exp.features)


def test_a_study_file_names_pairs_class_sets_methods_with_settings_and_seeds(tmp_path):
    exp = load_experiment(study(tmp_path))
    assert exp.name == "study" and exp.seeds == (0, 1) and exp.presets == ("tiny",)
    assert exp.scheme_list() == [("demo_a", "demo_b"), ("demo_b", "demo_a")]
    assert exp.class_sets == (None, ("anger", "fear", "sadness"))
    recipes = exp.recipes()
    assert list(recipes) == ["only_cls", "only_cls slow", "pca_svm"]
    assert recipes["only_cls"].tag == "tiny_e1" and recipes["only_cls slow"].tag == "tiny_e1_lr0.0003"
    assert recipes["pca_svm"].tag == "tiny"  # training settings mean nothing to PCA + SVM


@pytest.mark.parametrize("text, message", [
    ('nme = "x"', "unknown key 'nme': did you mean 'name'?"),
    ('methods = ["tlmda"]', "unknown method 'tlmda': did you mean 'tlmlda'?"),
    ('[[methods]]\nmethod = "dan"\nramps = true', "unknown key 'ramps' in the entry of 'dan': did you mean 'ramp'?"),
    ('[[methods]]\nmethod = "dan"\nweighting = "dynamc"', "did you mean 'dynamic'?"),
    ('[[methods]]\nmethod = "dan"\nlr = -1', "would not train"),
    ('[settings]\nepoch = 3', "[settings]: unknown setting 'epoch': did you mean 'epochs'?"),
    ('preset = "fastt"', "unknown preset 'fastt': did you mean 'fast'?"),
    ('classes = ["anger,anger"]', "names anger more than once"),
    ('classes = ["default", ["happines"]]', "unknown class 'happines': did you mean 'happiness'?"),
    ('seeds = 0', "seeds = 0"),
    ('methods = ["dan", {method = "dan", ramp = true}]', "are the same runs"),  # dan ramps already
    ('[[methods]]\nmethod = "dan"\nlabel = "dsan"', "names a registry method"),
    ('features = "IS11"', "IS11"),
])
def test_unknown_keys_and_bad_values_are_refused_with_what_is_valid(tmp_path, text, message):
    with pytest.raises(SercrossError, match=re.escape(message)):
        load_experiment(study(tmp_path, text))


def test_the_resolved_experiment_reads_back_as_the_same_experiment(tmp_path):
    exp = load_experiment(study(tmp_path))
    again = experiment_from_doc(toml_loads(exp.to_toml()))
    assert again.recipes() == exp.recipes() and again.scheme_list() == exp.scheme_list()
    assert (again.class_sets, again.seeds, again.features) == (exp.class_sets, exp.seeds, exp.features)
    assert "schemes = [\"demo_a:demo_b\", \"demo_b:demo_a\"]" in exp.to_toml()  # every default filled in


def test_overrides_set_a_key_or_a_setting_for_every_method(tmp_path):
    exp = load_experiment(study(tmp_path), {"seeds": 1, "ramp": True}, name="other")
    assert exp.name == "other" and exp.seeds == (0,)
    assert exp.recipes()["only_cls"].tag == "tiny_e1_ramp-true"
    with pytest.raises(SercrossError, match="unknown key 'seed': did you mean 'seeds'"):
        load_experiment(study(tmp_path), {"seed": 1})


def test_runs_of_a_file_and_of_flags_with_the_same_settings_are_the_same_runs(cache, tmp_path):
    exp = load_experiment(study(tmp_path, 'corpora = ["demo_a", "demo_b"]\npreset = "tiny"\nseeds = 2\n'
                                          'methods = ["only_cls", "pca_svm"]\n[settings]\nepochs = 1\n'))
    from_file = plan_of(cache, exp)
    from_flags = plan_mod.plan_benchmark(cache, [("demo_a", "demo_b"), ("demo_b", "demo_a")],
                                         methods=["only_cls", "pca_svm"], seeds=[0, 1], preset="tiny", epochs=1)
    assert [from_file.run_dir(r) for r in from_file.runs] == [from_flags.run_dir(r) for r in from_flags.runs]


@pytest.mark.slow  # trains 12 tiny runs
def test_a_study_resumes_and_a_changed_option_trains_only_its_runs(cache, tmp_path):
    exp = load_experiment(study(tmp_path))
    plan = plan_of(cache, exp)
    # 2 pairs x 2 class sets x 3 methods x 2 seeds = 24 rows; pca_svm trains once per pair for both seeds
    assert len(plan.runs) == 24 and len(plan.todo) == 20
    assert not execute.run_benchmark(plan, jobs=1).failures
    assert plan_of(cache, exp).todo == []
    changed = load_experiment(study(tmp_path, STUDY.replace("lr = 3e-4", "lr = 1e-4")))
    todo = plan_of(cache, changed).todo
    assert {r.method for r in todo} == {"only_cls slow"} and len(todo) == 8
    assert "tiny_e1_lr0.0001" in str(plan_of(cache, changed).run_dir(todo[0]))


@pytest.mark.slow  # trains through the CLI
def test_sercross_run_writes_results_tables_and_the_resolved_experiment(cache, tmp_path):
    from sercross.cli import app

    path = study(tmp_path, STUDY.replace("seeds = 2", "seeds = 1").replace('classes = ["default", '
                                                                           '"anger,fear,sadness"]', ""))
    r = CliRunner().invoke(app, ["--cache", str(cache), "run", str(path), "--jobs", "1"])
    assert r.exit_code == 0, r.output
    bdir = cache / "benchmarks" / "study"
    rows = list(csv.DictReader(open(bdir / "results.csv")))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"trained"}
    assert {r["classes"] for r in rows} == {"anger+fear+happiness+neutral+sadness"} and rows[0]["chance"] == "0.2"
    doc = json.loads((bdir / "tables.json").read_text())
    assert "only_cls slow" in doc["tables"]["war"]["table4"]["methods"]
    again = CliRunner().invoke(app, ["--cache", str(cache), "run", str(bdir / "experiment.toml"), "--jobs", "1"])
    assert again.exit_code == 0 and "0 trained" in again.output  # the stored experiment runs again as is
    r = CliRunner().invoke(app, ["--cache", str(cache), "benchmark", "--config", str(path), "--seeds", "3"])
    assert r.exit_code == 2 and "--seeds cannot be given with it" in r.output


def test_precision_bf16_in_a_file_by_set_or_by_the_flag_is_the_same_run(cache, tmp_path, monkeypatch):
    import sercross.cli.benchmark_cmds as bench_cmds
    from sercross.cli import app
    from sercross.cli.recipe_flags import RecipeFlags

    asked = []  # the experiments the commands would run (captured instead of training)
    monkeypatch.setattr(bench_cmds, "_run_experiment", lambda s, exp, jobs, scheduler, *_: asked.append(exp))
    base = ('corpora = ["demo_a", "demo_b"]\npreset = "tiny"\nseeds = 1\nmethods = ["only_cls"]\n'
            '[settings]\nepochs = 1\n')
    plain, bf16 = study(tmp_path, base), tmp_path / "bf16.toml"
    bf16.write_text(base + 'precision = "bf16"\n')
    grid = ["--schemes", "demo_a:demo_b,demo_b:demo_a", "--methods", "only_cls", "--seeds", "1", "--preset", "tiny",
            "--epochs", "1"]
    for args in (["run", str(bf16)], ["run", str(plain), "--set", "precision=bf16"],
                 ["benchmark", "--config", str(bf16)], ["benchmark", *grid, "--precision", "bf16"],
                 ["benchmark", *grid, "--set", "precision=bf16"], ["run", str(plain)],
                 ["benchmark", *grid, "--precision", "fp32"]):
        r = CliRunner().invoke(app, ["--cache", str(cache), *args])
        assert r.exit_code == 0, r.output
    dirs = [[plan.run_dir(r) for r in plan.runs] for plan in (plan_of(cache, exp) for exp in asked)]
    assert [d.parent.parent.name for d in dirs[0]] == ["demo_a__demo_b", "demo_b__demo_a"]
    assert all(d.name == "tiny_e1_bf16-seed0" for d in dirs[0]) and dirs[:5] == [dirs[0]] * 5
    # fp32 (the default) names nothing: the folders of fp32 runs are those runs had before precision was a setting
    assert all(d.name == "tiny_e1-seed0" for d in dirs[5]) and dirs[6] == dirs[5]
    recipes = [exp.recipes()["only_cls"] for exp in asked]
    assert recipes[:5] == [recipes[0]] * 5 and recipes[0].spec.configure(recipes[0].config).precision == "bf16"
    assert recipes[5].spec.configure(recipes[5].config).precision == "fp32"
    # train and evaluate build their run from the same flags
    flag = RecipeFlags("tiny", epochs=1, precision="bf16").recipe("only_cls", "IS10")
    assert flag == RecipeFlags("tiny", epochs=1, sets=("precision=bf16",)).recipe("only_cls", "IS10") == recipes[0]


def test_in_corpus_is_a_key_of_experiment_files():
    from sercross.infra import toml_loads

    exp = experiment_from_doc({"name": "x", "in_corpus": True})
    assert exp.in_corpus and toml_loads(exp.to_toml())["in_corpus"] is True
    assert "in_corpus" not in toml_loads(experiment_from_doc({"name": "plain"}).to_toml())  # files as before
    with pytest.raises(SercrossError, match="in_corpus = 'yes' is not true or false"):
        experiment_from_doc({"name": "x", "in_corpus": "yes"})
