"""Reports on tiny real runs: figure data from the right arrays, valid PNG / HTML, selection, and the CLI."""

import csv
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from typer.testing import CliRunner

from sercross.cli import app
from sercross.corpora.demo import DemoConfig, synthesize_corpora
from sercross.corpora.manifests import load_manifest
from sercross.experiments.resolve import pair_for
from sercross.experiments.runs import load_estimator, train_run
from sercross.features import extract_corpus, load_features
from sercross.infra.cache import read_csv
from sercross.infra.errors import SercrossError
from sercross.methods.config import LOSS_NAMES, get_preset
from sercross.methods.metrics import confusion, per_class_recall
from sercross.report.build import (
    MARKER,
    Selection,
    build_report,
    confusion_counts,
    embed,
    figure2_groups,
    load_run,
    mean_confusion,
    recall_summary,
    row_normalise,
    select_benchmark,
    select_run,
    select_scheme,
    training_curves,
    tsne_inputs,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """demo_a → demo_b (20 + 20 utterances), 2-epoch runs of only_cls, tlmlda_m, tlmlda (seed 0) and pca_svm
    (seeds 0 and 1)."""
    tmp = tmp_path_factory.mktemp("report")
    roots = synthesize_corpora(tmp / "corpora", DemoConfig(speakers=2, utterances=2))
    cache = tmp / "cache"
    tables = []
    for name, root in roots.items():
        extract_corpus(load_manifest(name), root, cache, jobs=1)
        tables.append(load_features(cache, name, "IS10"))
    pair = pair_for(cache, tables[0], tables[1])
    cfg = get_preset("demo", epochs=2, threads=1)
    runs = {m: train_run(cache, pair, m, "demo", cfg, 0) for m in ("only_cls", "tlmlda_m", "tlmlda", "pca_svm")}
    runs["pca_svm_1"] = train_run(cache, pair, "pca_svm", "demo", cfg, 1)
    return cache, pair, runs


def check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    img = mpimg.imread(io.BytesIO(path.read_bytes()), format="png")
    assert img.ndim == 3 and min(img.shape[:2]) > 100


class _Html(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.imgs: list[str] = []
        self.refs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a["src"])
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]

    def handle_data(self, data):
        self.text.append(data)


def check_report(out: Path) -> _Html:
    """Valid, self-contained report folder; returns the parsed HTML."""
    md, page = (out / "report.md").read_text(), (out / "index.html").read_text()
    p = _Html()
    p.feed(page)
    p.close()
    assert p.tags[:2] == ["html", "head"] and "style" in p.tags and "script" not in p.tags and "link" not in p.tags
    assert all("://" not in r and not r.startswith("/") for r in p.refs)  # nothing fetched, relative paths only
    assert p.imgs and len(set(p.imgs)) == len(p.imgs)
    for src in p.imgs:
        assert (out / src).is_file(), src
        check_png(out / src)
        assert f"]({src})" in md  # the Markdown shows the same figures
    assert sorted(str(f.relative_to(out)) for f in (out / "figures").glob("*.png")) == sorted(p.imgs)
    return p


# --------------------------------------------------------------------------- figure data


def test_tsne_inputs_are_the_stored_models_learned_features(demo):
    cache, pair, runs = demo
    run = load_run(runs["tlmlda"])
    inp = tsne_inputs(run)
    assert inp.source.shape == (len(pair.ys), 256) and inp.target.shape == (len(pair.yt), 256)
    est = load_estimator(runs["tlmlda"])
    assert np.array_equal(inp.source, est.transform(pair.Xs)) and np.array_equal(inp.target, est.transform(pair.Xt))
    assert np.array_equal(inp.yt, pair.yt) and inp.classes == pair.classes
    other = tsne_inputs(load_run(runs["only_cls"]), pair)
    assert not np.allclose(other.source, inp.source)  # each panel its own model
    sxy, txy = embed(inp.source, inp.target)
    assert sxy.shape == (len(pair.ys), 2) and txy.shape == (len(pair.yt), 2)
    again = embed(inp.source, inp.target)
    assert np.array_equal(again[0], sxy)  # fixed random_state
    with pytest.raises(SercrossError, match="no learned 256-d features"):
        tsne_inputs(load_run(runs["pca_svm"]))


def test_confusion_data_matches_the_models_predictions_on_the_target(demo):
    cache, pair, runs = demo
    for key in ("tlmlda", "pca_svm"):
        run = load_run(runs[key])
        cm = confusion_counts(run)
        pred = load_estimator(runs[key]).predict(pair.Xt)
        assert np.array_equal(cm, confusion(pair.yt, pred, len(pair.classes)))
        assert cm.sum() == len(pair.yt)
        rec = row_normalise(cm)
        assert np.allclose(rec.sum(axis=1), 1.0)
        assert np.allclose(np.diag(rec), per_class_recall(cm))
    cms = [confusion_counts(load_run(runs[k])) for k in ("pca_svm", "pca_svm_1")]
    avg = mean_confusion(cms)
    assert np.isclose(avg.sum(), len(pair.yt)) and np.allclose(avg, (cms[0] + cms[1]) / 2)
    assert np.allclose(row_normalise(avg).sum(axis=1), 1.0)


def test_row_normalise_and_mean_confusion_edge_cases():
    rec = row_normalise(np.array([[2, 2], [0, 0]]))
    assert np.allclose(rec[0], [0.5, 0.5]) and np.isnan(rec[1]).all()
    with pytest.raises(ValueError):
        mean_confusion([np.zeros((2, 2)), np.zeros((3, 3))])


def test_recall_summary_is_the_mean_over_seeds_per_method(demo):
    _, pair, runs = demo
    rs = [load_run(runs[k]) for k in ("tlmlda", "pca_svm", "pca_svm_1")]
    s = recall_summary(rs)
    assert s.methods == ["tlmlda", "pca_svm"] and s.n_seeds == [1, 2] and s.classes == pair.classes
    per_seed = [per_class_recall(confusion_counts(r)) for r in rs[1:]]
    assert np.allclose(s.mean[1], np.mean(per_seed, axis=0))
    assert np.isclose(s.uar[1], np.mean([r.metrics["uar"] for r in rs[1:]]))
    assert np.isnan(s.sd[0]).all()


def test_training_curves_read_history_csv(demo):
    _, _, runs = demo
    c = training_curves(load_run(runs["tlmlda"]))
    hist = read_csv(runs["tlmlda"] / "history.csv")
    assert list(c.epoch) == [1.0, 2.0] and set(c.loss) == set(LOSS_NAMES) and not c.inactive
    assert np.allclose(c.loss["MMD"], [float(r["loss_MMD"]) for r in hist])
    assert np.allclose(c.effective["L_y"], [float(r["effective_L_y"]) for r in hist])
    assert np.allclose(c.target_war_monitor, [float(r["target_war_monitor"]) for r in hist])
    only = training_curves(load_run(runs["only_cls"]))
    assert list(only.loss) == ["L_y"] and only.inactive == ("L_S", "L_T", "MMD", "LMMD") and only.weighting == "unit"
    assert training_curves(load_run(runs["tlmlda_m"])).inactive == ("LMMD",)
    assert training_curves(load_run(runs["pca_svm"])) is None


def test_figure2_groups_take_one_seed_and_preset_per_figure(demo):
    _, _, runs = demo
    all_runs = [load_run(p) for p in runs.values()]
    (preset, seed, found), = figure2_groups(all_runs)
    assert (preset, seed) == ("demo", 0) and list(found) == ["only_cls", "tlmlda_m", "tlmlda"]
    (_, _, part), = figure2_groups([r for r in all_runs if r.method != "tlmlda_m"])
    assert list(part) == ["only_cls", "tlmlda"]
    assert figure2_groups([r for r in all_runs if r.method == "pca_svm"]) == []


# --------------------------------------------------------------------------- whole reports


def test_scheme_report_writes_valid_markdown_html_and_figures(demo, tmp_path):
    cache, pair, runs = demo
    sel = select_scheme(cache, "demo_a", "demo-b")  # an alias of demo_b
    assert sel.name == "demo_a__demo_b" and len(sel.runs) == 5
    messages = []
    res = build_report(sel, tmp_path / "rep", progress=messages.append)
    p = check_report(res.out_dir)
    names = {Path(s).name for s in p.imgs}
    assert "demo_a__demo_b__tsne__demo__seed0.png" in names and "demo_a__demo_b__recall__demo.png" in names
    assert "demo_a__demo_b__confusion__pca_svm__demo__mean.png" in names  # averaged over its 2 seeds
    assert sum("__confusion__" in n and "seed" in n for n in names) == 5  # one per run
    assert sum("__curves__" in n for n in names) == 3  # not for pca_svm
    md = res.markdown.read_text()
    assert "demo_a→demo_b" in md and "| tlmlda | demo | 1 | 0 |" in md and "monitoring only" in md
    war = 100 * load_run(runs["tlmlda"]).metrics["war"]
    assert f"{war:.2f}" in md
    text = "".join(p.text)
    assert "t-SNE" in text and "Summary" in text and "pca_svm trains no epochs" in text
    assert not res.notes and messages
    # rewritten in place: figures not produced again are removed
    stale = res.out_dir / "figures" / "old.png"
    shutil.copy(res.figures[0], stale)
    build_report(select_run(runs["pca_svm"], cache), res.out_dir, tsne=False)
    assert not stale.exists() and len(list(res.out_dir.glob("figures/*.png"))) == 2
    check_report(res.out_dir)


def test_missing_figure2_panels_are_omitted_with_a_note(demo, tmp_path):
    cache, _, runs = demo
    sel = Selection("x", "x", "x", [load_run(runs["tlmlda"])])
    res = build_report(sel, tmp_path / "rep")
    check_report(res.out_dir)
    assert any("only_cls, tlmlda_m omitted" in n and "--method only_cls" in n for n in res.notes)
    assert "only_cls, tlmlda_m omitted" in res.html.read_text()


def test_a_report_without_per_run_figures_keeps_the_summary_figures(demo, tmp_path):
    _, _, runs = demo
    sel = Selection("x", "x", "x", [load_run(runs["tlmlda"]), load_run(runs["only_cls"])])
    full = {Path(s).name for s in check_report(build_report(sel, tmp_path / "full", tsne=False).out_dir).imgs}
    res = build_report(sel, tmp_path / "lean", tsne=False, run_figures=False)
    lean = {Path(s).name for s in check_report(res.out_dir).imgs}
    assert lean < full and not any("seed" in n for n in lean)  # per-run figures are the seed-named ones
    assert any("--no-run-figures" in n for n in res.notes)


def test_runs_of_another_pair_version_get_no_tsne_panel(demo, tmp_path):
    _, _, runs = demo
    run = load_run(runs["only_cls"])
    run.config["pair_fingerprint"] = "an older pair"
    res = build_report(Selection("x", "x", "x", [run, load_run(runs["tlmlda"])]), tmp_path / "rep")
    check_report(res.out_dir)
    assert any("no t-SNE panel for only_cls" in n and "changed since" in n for n in res.notes)
    assert not any("only_cls, tlmlda_m omitted" in n for n in res.notes)  # it has a run: not "omitted"
    assert any("tlmlda_m omitted" in n for n in res.notes)


def test_single_run_reports(demo, tmp_path):
    cache, _, runs = demo
    sel = select_run(runs["pca_svm"], tmp_path / "elsewhere")  # the run's own cache is found from its path
    assert sel.runs[0].cache == cache.resolve()
    res = build_report(sel, tmp_path / "svm")
    p = check_report(res.out_dir)
    assert len(p.imgs) == 2  # recall bars and confusion; no t-SNE, no curves
    assert any("no run of only_cls, tlmlda_m, tlmlda" in n for n in res.notes)
    res = build_report(select_run(runs["tlmlda_m"], cache), tmp_path / "m")
    names = {Path(s).name for s in check_report(res.out_dir).imgs}
    assert {n.split("__")[2] for n in names} == {"recall", "tsne", "confusion", "curves"}
    assert any("one-run report" in n and "sercross report --source demo_a --target demo_b" in n for n in res.notes)


def test_benchmark_report_follows_run_dir_of_results_csv(demo, tmp_path):
    cache, _, runs = demo
    bdir = cache / "benchmarks" / "tiny"
    bdir.mkdir(parents=True, exist_ok=True)
    with open(bdir / "results.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["scheme", "source", "target", "method", "preset", "seed", "war", "uar", "run_dir"])
        war0, war1 = (json.loads((runs[k] / "metrics.json").read_text())["war"] for k in ("pca_svm", "pca_svm_1"))
        w.writerow(["x", "demo_a", "demo_b", "pca_svm", "demo", 0, war0, 0, str(runs["pca_svm"])])
        w.writerow(["x", "demo_a", "demo_b", "pca_svm", "demo", 1, war1, 0, str(runs["pca_svm_1"].relative_to(cache))])
        w.writerow(["x", "demo_a", "demo_b", "pca_svm", "demo", 1, war1, 0, str(runs["pca_svm_1"])])  # duplicate
        w.writerow(["x", "demo_a", "demo_b", "tlmlda", "demo", 5, "", "", ""])  # a run that did not finish
        # a folder trained again after the benchmark listed it: its numbers are no longer the benchmark's
        w.writerow(["x", "demo_a", "demo_b", "tlmlda", "demo", 0, 0.0123, 0, str(runs["tlmlda"])])
    sel = select_benchmark(cache, "tiny")
    assert [r.seed for r in sel.runs] == [0, 1] and len(sel.skipped) == 2
    assert "trained again since" in sel.skipped[1][1] and "0.0123" in sel.skipped[1][1]
    res = build_report(sel, tmp_path / "bench", tsne=False)
    check_report(res.out_dir)
    assert "Run folders left out" in res.markdown.read_text()
    assert "sample standard deviation (ddof = 1) over seeds" in res.markdown.read_text()
    assert "full protocol" in res.markdown.read_text()  # a benchmark report points to its tables.md
    with pytest.raises(SercrossError, match="no run with preset 'paper'"):
        select_benchmark(cache, "tiny", preset="paper")
    with pytest.raises(SercrossError, match="no benchmark 'nope'") as exc:
        select_benchmark(cache, "nope")
    assert "tiny" in exc.value.hint
    shutil.rmtree(bdir)


def test_unfinished_run_folders_are_left_out_of_a_scheme(demo, tmp_path):
    cache, _, _ = demo
    half = cache / "runs" / "demo_a__demo_b" / "tlmlda" / "demo-seed9"
    half.mkdir(parents=True)
    try:
        sel = select_scheme(cache, "demo_a", "demo_b")
        assert len(sel.runs) == 5 and sel.skipped[0][0] == str(half) and "no finished run" in sel.skipped[0][1]
    finally:
        half.rmdir()
    with pytest.raises(SercrossError, match="no run of demo_b→demo_a"):
        select_scheme(cache, "demo_b", "demo_a")


# --------------------------------------------------------------------------- CLI


class Result:
    def __init__(self, r):
        self.exit_code = r.exit_code
        self.output = " ".join(r.output.split())  # rich wraps long lines


def invoke(*args):
    return Result(runner.invoke(app, [str(a) for a in args]))


def test_cli_report_writes_the_folder_and_says_where(demo, tmp_path):
    cache, _, runs = demo
    r = invoke("--cache", cache, "report", "--run", runs["pca_svm"])
    assert r.exit_code == 0, r.output
    out = cache / "reports" / "demo_a__demo_b-pca_svm-demo-seed0"
    assert (out / "index.html").is_file() and (out / MARKER).is_file()
    assert "report written to" in r.output and "index.html" in r.output and "pca_svm" in r.output
    meta = json.loads((out / MARKER).read_text())
    assert meta["selection"].startswith("one run")


def test_cli_report_user_errors(demo, tmp_path):
    cache, _, runs = demo
    r = invoke("--cache", cache, "report")
    assert r.exit_code == 2 and "exactly one of" in r.output and "hint:" in r.output
    r = invoke("--cache", cache, "report", "--run", runs["tlmlda"], "-s", "demo_a", "-t", "demo_b")
    assert r.exit_code == 2 and "exactly one of" in r.output
    r = invoke("--cache", cache, "report", "-s", "demo_a")
    assert r.exit_code == 2 and "go together" in r.output
    r = invoke("--cache", cache, "report", "-s", "demo_a", "-t", "demo_b", "--preset", "paper")
    assert r.exit_code == 2 and "no run with preset 'paper'" in r.output and "demo" in r.output
    r = invoke("--cache", cache, "report", "--benchmark", "nope")
    assert r.exit_code == 2 and "no benchmark 'nope'" in r.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    r = invoke("--cache", cache, "report", "--run", runs["pca_svm"], "--out", tmp_path / "mine")
    assert r.exit_code == 2 and "not empty" in r.output and (tmp_path / "mine" / "notes.txt").is_file()
    r = invoke("--cache", cache, "report", "--run", tmp_path)
    assert r.exit_code == 2 and "no finished run" in r.output
