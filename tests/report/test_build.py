"""Whole reports on tiny real runs: a valid folder (PNG figures, report.md, offline index.html rendered from it)
holding every table, figure and note, and the `report` command."""

import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from typer.testing import CliRunner

from sercross.cli import app
from sercross.report.build import MARKER, ReportResult, build_report
from sercross.report.document import SUMMARY_HEADERS, summary_rows
from sercross.report.selection import Selection, load_run, select_benchmark, select_run, select_scheme

pytestmark = pytest.mark.slow  # every test here reads (and most draw) the trained runs of the `demo` fixture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


def check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    img = mpimg.imread(io.BytesIO(path.read_bytes()), format="png")
    assert img.ndim == 3 and min(img.shape[:2]) > 100


class _Html(HTMLParser):
    """The parts of index.html a reader sees: tables (rows of cell texts), figures, notes and run sections."""

    TRACKED = ("td", "th", "figure", "figcaption", "blockquote", "summary", "details")

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.imgs: list[str] = []
        self.refs: list[str] = []
        self.text: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.figures: list[dict] = []
        self.notes: list[str] = []
        self.summaries: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]
        if tag == "img":
            self.imgs.append(a["src"])
            if "figure" in self._open:
                self.figures[-1].update(src=a["src"], alt=a.get("alt", ""))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")
        elif tag == "figure":
            self.figures.append({"src": None, "alt": None, "caption": ""})
        elif tag == "blockquote":
            self.notes.append("")
        elif tag == "summary":
            self.summaries.append("")
        if tag in self.TRACKED:
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data):
        self.text.append(data)
        if "td" in self._open or "th" in self._open:
            self.tables[-1][-1][-1] += data
        if "figcaption" in self._open:
            self.figures[-1]["caption"] += data
        if "blockquote" in self._open:
            self.notes[-1] += data
        if "summary" in self._open:
            self.summaries[-1] += data


def words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def check_report(res: ReportResult) -> _Html:
    """A valid, self-contained report folder whose HTML holds every table, figure and note; returns its parse."""
    out = res.out_dir
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
    # every figure with its alt text and caption, every table whole, every note, every run's section
    assert [f["src"] for f in p.figures] == p.imgs
    assert all(f["alt"] and words(f["caption"]) for f in p.figures)
    assert len(p.tables) == len(re.findall(r"^\|(?:---:?\|)+$", md, flags=re.M))
    assert all(len({len(row) for row in t}) == 1 for t in p.tables)
    assert [words(n) for n in p.notes] == [words(f"Note. {n}") for n in res.notes]
    assert len(p.summaries) == md.count("<details>") == p.tags.count("details")
    return p


# --------------------------------------------------------------------------- whole reports


def test_scheme_report_writes_valid_markdown_html_and_figures(demo, tmp_path):
    cache, pair, runs = demo
    sel = select_scheme(cache, "demo_a", "demo-b")  # an alias of demo_b
    messages = []
    res = build_report(sel, tmp_path / "rep", progress=messages.append)
    p = check_report(res)
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
    # the HTML tables hold the numbers of report.md: the summary, and one row per run with its recalls
    assert p.tables[0] == [SUMMARY_HEADERS] + summary_rows(sel.runs)
    head, *rows = p.tables[1]
    assert head[:5] == ["method", "preset", "seed", "WAR %", "UAR %"] and len(rows) == 5
    assert ["tlmlda", "demo", "0", f"{war:.2f}"] == rows[0][:4] and rows[0][-1].startswith("runs/demo_a__demo_b/")
    assert [s.split(":")[0] for s in p.summaries] == [f"{r.method}, preset demo, seed {r.seed}" for r in sel.runs]
    # chance level beside every per-class recall: the metrics, the recall bars and each confusion figure
    assert "Chance level with 5 classes: 1/5 = 20.00 %" in text
    recall_captions = [f["caption"] for f in p.figures if "recall" in f["caption"].lower()]
    assert len(recall_captions) == 1 + 1 + 5 and all("1/5 = 20.00 %" in c for c in recall_captions)
    # rewritten in place: figures not produced again are removed
    stale = res.out_dir / "figures" / "old.png"
    shutil.copy(res.figures[0], stale)
    again = build_report(select_run(runs["pca_svm"], cache), res.out_dir, tsne=False)
    assert not stale.exists() and len(list(res.out_dir.glob("figures/*.png"))) == 2
    check_report(again)


def test_missing_figure2_panels_are_omitted_with_a_note(demo, tmp_path):
    cache, _, runs = demo
    sel = Selection("x", "x", "x", [load_run(runs["tlmlda"])])
    res = build_report(sel, tmp_path / "rep")
    p = check_report(res)
    assert any("only_cls, tlmlda_m omitted" in n and "--method only_cls" in n for n in res.notes)
    assert "only_cls, tlmlda_m omitted" in res.html.read_text()
    assert any("sercross train --source demo_a --target demo_b --method only_cls" in n for n in p.notes)


def test_a_report_without_per_run_figures_keeps_the_summary_figures(demo, tmp_path):
    _, _, runs = demo
    sel = Selection("x", "x", "x", [load_run(runs["tlmlda"]), load_run(runs["only_cls"])])
    full = {Path(s).name for s in check_report(build_report(sel, tmp_path / "full", tsne=False)).imgs}
    res = build_report(sel, tmp_path / "lean", tsne=False, run_figures=False)
    lean = {Path(s).name for s in check_report(res).imgs}
    assert lean < full and not any("seed" in n for n in lean)  # per-run figures are the seed-named ones
    assert any("--no-run-figures" in n for n in res.notes)


def test_runs_of_another_pair_version_get_no_tsne_panel(demo, tmp_path):
    _, _, runs = demo
    run = load_run(runs["only_cls"])
    run.config["pair_fingerprint"] = "an older pair"
    res = build_report(Selection("x", "x", "x", [run, load_run(runs["tlmlda"])]), tmp_path / "rep")
    check_report(res)
    assert any("no t-SNE panel for only_cls" in n and "changed since" in n for n in res.notes)
    assert not any("only_cls, tlmlda_m omitted" in n for n in res.notes)  # it has a run: not "omitted"
    assert any("tlmlda_m omitted" in n for n in res.notes)


def test_single_run_reports(demo, tmp_path):
    cache, _, runs = demo
    sel = select_run(runs["pca_svm"], tmp_path / "elsewhere")  # the run's own cache is found from its path
    assert sel.runs[0].cache == cache.resolve()
    res = build_report(sel, tmp_path / "svm")
    p = check_report(res)
    assert len(p.imgs) == 2  # recall bars and confusion; no t-SNE, no curves
    assert any("no run of only_cls, tlmlda_m, tlmlda" in n for n in res.notes)
    res = build_report(select_run(runs["tlmlda_m"], cache), tmp_path / "m")
    names = {Path(s).name for s in check_report(res).imgs}
    assert {n.split("__")[2] for n in names} == {"recall", "tsne", "confusion", "curves"}
    assert any("one-run report" in n and "sercross report --source demo_a --target demo_b" in n for n in res.notes)


def test_benchmark_report_lists_the_run_folders_it_left_out(demo, tiny_benchmark, tmp_path):
    cache, _, _ = demo
    sel = select_benchmark(cache, tiny_benchmark)
    res = build_report(sel, tmp_path / "bench", tsne=False)
    p = check_report(res)
    md = res.markdown.read_text()
    assert "Run folders left out" in md
    assert "sample standard deviation (ddof = 1) over seeds" in md
    assert "full protocol" in md  # a benchmark report points to its tables.md
    left_out = next(t for t in p.tables if t[0] == ["folder", "reason"])
    assert [row[0] for row in left_out[1:]] == [folder for folder, _ in sel.skipped]
    assert [words(row[1]) for row in left_out[1:]] == [words(why) for _, why in sel.skipped]


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
