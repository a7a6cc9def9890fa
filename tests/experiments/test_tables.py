"""Benchmark tables: layout, the paper's numbers kept apart, differences, oracle apart, formats."""

import csv
import json

import pytest
from rich.console import Console

from sercross.experiments.paper import PAPER_TABLE3, PAPER_TABLE4, paper_rows_consistency
from sercross.experiments.render import format_cell, render_markdown, rich_table, write_tables
from sercross.experiments.schemes import PAPER_SCHEMES
from sercross.experiments.tables import build_tables, table_methods

SCHEMES = [f"{s}→{t}" for s, t in PAPER_SCHEMES]


def meta(methods, seeds=(0, 1, 2), schemes=SCHEMES):
    return {
        "name": "t", "preset": "paper", "tag": "paper", "feature_set": "IS10", "seeds": list(seeds),
        "methods": list(methods), "config": {"epochs": 500, "lr": 1e-5, "batch_size": 100},
        "schemes": [{"name": s, "source": s.split("→")[0], "target": s.split("→")[1], "classes": ["anger", "fear"],
                     "n_source": 10, "n_target": 12} for s in schemes],
        "skipped": [{"scheme": "ravdess→casia", "reason": "unknown corpus 'ravdess'"}],
    }


def rows_for(method, scheme, values, oracle=None, failed_seeds=()):
    out = []
    for seed, v in enumerate(values):
        status = "failed" if seed in failed_seeds else "trained"
        out.append({"method": method, "scheme": scheme, "seed": seed, "war": None if status == "failed" else v,
                    "uar": None if status == "failed" else v / 2, "status": status, "error": "boom" * (status ==
                    "failed"), "run_dir": f"/runs/{method}/{seed}", "oracle_war": oracle})
    return out


@pytest.fixture
def doc():
    rows = []
    for i, s in enumerate(SCHEMES):
        rows += rows_for("tlmlda", s, [0.40 + i / 100, 0.42 + i / 100, 0.44 + i / 100], oracle=0.97)
        rows += rows_for("pca_svm", s, [0.30, 0.30, 0.30])
        if s != "casia→berlin":
            rows += rows_for("tlmlda_m", s, [0.35, 0.35, 0.35], oracle=0.97, failed_seeds=(2,) if i == 0 else ())
    rows += rows_for("only_cls", SCHEMES[0], [0.25])
    return build_tables(rows, meta(["tlmlda", "tlmlda_m", "only_cls", "pca_svm"]))


def test_paper_numbers_are_transcribed_consistently():
    assert PAPER_TABLE3["TLMLDA"] == PAPER_TABLE4["TLMLDA"]
    assert all(len(v) == 7 for t in (PAPER_TABLE3, PAPER_TABLE4) for v in t.values())
    notes = paper_rows_consistency()
    assert len(notes) == 1 and "TLMLDA_w" in notes[0] and "38.47" in notes[0]


def test_layout_groups_like_tables_3_and_4():
    assert table_methods(["pca_svm", "tlmlda", "tlmlda_w", "only_cls"]) == {
        "table3": ["tlmlda_w", "tlmlda"], "table4": ["pca_svm", "only_cls", "tlmlda"]}
    assert table_methods(["pca_svm"]) == {"table4": ["pca_svm"]}


def test_cells_differences_and_paper_kept_apart(doc):
    war3 = doc["tables"]["war"]["table3"]
    assert war3["methods"] == ["tlmlda_m", "tlmlda"]
    eb = war3["cells"]["tlmlda"]["enterface→berlin"]
    assert eb["mean"] == pytest.approx(42.0) and eb["std"] == pytest.approx(2.0) and eb["n"] == 3
    assert [c["scheme"] for c in doc["columns"]] == SCHEMES + ["Average"]
    # ours − published, per scheme and for the Average over the six schemes
    d = doc["difference"]["table3"]["rows"]["tlmlda"]["cells"]
    assert d["enterface→berlin"] == pytest.approx(42.0 - 58.93)
    ours_avg = sum(42.0 + i for i in range(6)) / 6
    assert d["Average"] == pytest.approx(ours_avg - 44.72)
    assert doc["difference"]["table4"]["rows"]["pca_svm"]["cells"]["casia→berlin"] == pytest.approx(30 - 43.38)
    # tlmlda_m lacks C→B: no Average difference; only_cls is not in the paper: no difference row
    assert doc["difference"]["table3"]["rows"]["tlmlda_m"]["cells"]["Average"] is None
    assert "only_cls" not in doc["difference"]["table4"]["rows"]
    # the published table has the paper's rows, ours only our methods
    assert set(doc["paper"]["tables"]["table4"]["rows"]) >= {"DoSL [14]", "JDAR [18]", "DBN + BP [28]"}
    assert "DoSL [14]" not in doc["tables"]["war"]["table4"]["cells"]


def test_missing_failed_and_single_seed_cells_are_marked(doc):
    cells = doc["tables"]["war"]["table3"]["cells"]["tlmlda_m"]
    assert format_cell(cells["enterface→berlin"], "enterface→berlin") == "35.00 ± 0.00 (2/3)"
    assert format_cell(cells["casia→berlin"], "casia→berlin") == "—"
    assert format_cell(cells["Average"], "Average").endswith("[5 schemes]")
    only = doc["tables"]["war"]["table4"]["cells"]["only_cls"]
    assert format_cell(only["enterface→berlin"], "enterface→berlin") == "25.00 (1/3)"
    failed = {"mean": None, "std": None, "n": 0, "expected": 3, "failed": 3}
    assert format_cell(failed) == "failed"
    assert any(f["status"] == "failed" and f["method"] == "tlmlda_m" for f in doc["failures"])


def test_markdown_states_the_protocol_and_keeps_oracle_and_paper_apart(doc):
    md = render_markdown(doc)
    for words in ("the last", "min-max", "leave-one-speaker-out", "Seeds**: 3 (0, 1, 2)", "ddof = 1",
                  "Published, not ours", "Tao", "ours − paper", "Oracle", "not the protocol", "Skipped schemes",
                  "ravdess→casia", "Failed or missing", "38.51"):
        assert words in md, words
    main, oracle = md.split("## Oracle")
    assert "97.00" not in main and "97.00" in oracle  # oracle values never in the main tables
    paper_at = main.index("Published, not ours")
    assert main.index("| tlmlda |") < paper_at  # ours first, the paper's beside it
    assert "| E→B | B→E | E→C | C→E | B→C | C→B | Average |" in md
    assert "−16.93" in md  # 42.00 − 58.93
    assert "(L_S, L_T, L_y, MMD, LMMD)" in md and "AdaBN" not in md
    assert "± 0.00: every seed gave the same result in that cell (pca_svm, tlmlda_m; pca_svm's" in md  # tlmlda_m: 0.35


def test_a_partial_grid_labels_the_papers_average_and_adabn_oracle_rows():
    two = ["berlin→casia", "casia→berlin"]
    rows = []
    for s in two:
        rows += rows_for("tlmlda_plus", s, [0.40, 0.42], oracle=0.5)
        rows += rows_for("tlmlda_plus_no_adabn", s, [0.40, 0.41], oracle=0.5)
    ours = render_markdown(build_tables(rows, meta(["tlmlda_plus", "tlmlda_plus_no_adabn"], seeds=(0, 1),
                                                   schemes=two)))
    assert "### WAR: TLMLDA+ (ours, not in the paper) and its ablations" in ours
    assert "Published, not ours" not in ours and "38.51" not in ours  # no paper row to compare with
    for s in two:
        rows += rows_for("tlmlda", s, [0.30, 0.31], oracle=0.5)
    md = render_markdown(build_tables(rows, meta(["tlmlda_plus", "tlmlda_plus_no_adabn", "tlmlda"], seeds=(0, 1),
                                                 schemes=two)))
    assert "| Algorithm (paper) | B→C | C→B | Average (paper: all 6 schemes) |" in md
    oracle = md.split("## Oracle")[1]
    assert "before the AdaBN step that ends the training of tlmlda_plus:" in oracle  # not of _no_adabn
    demo = [*rows_for("tlmlda", "demo_a→demo_b", [0.5, 0.6], oracle=0.7)]
    md = render_markdown(build_tables(demo, meta(["tlmlda"], seeds=(0, 1), schemes=["demo_a→demo_b"])))
    assert "Published, not ours" not in md and "38.51" not in md  # no paper table, no note about it


def test_files_are_written(doc, tmp_path):
    paths = write_tables(tmp_path, doc)
    assert json.loads(paths["json"].read_text())["unit"] == "percent"
    rows = list(csv.DictReader(open(paths["csv"])))
    assert rows[0].keys() == {"table", "metric", "method", "scheme", "label", "mean", "std", "n", "expected", "cell"}
    tables = {r["table"] for r in rows}
    assert tables == {"ours_table3", "ours_table4", "oracle", "paper_table3", "paper_table4", "diff_table3",
                      "diff_table4", "chance"}
    eb = [r for r in rows if r["table"] == "ours_table3" and r["metric"] == "uar" and r["method"] == "tlmlda"
          and r["scheme"] == "enterface→berlin"]
    assert len(eb) == 1 and float(eb[0]["mean"]) == pytest.approx(21.0)


def test_rich_table_has_every_method_once(doc):
    console = Console(record=True, width=200)
    console.print(rich_table(doc, "war"))
    text = console.export_text()
    assert text.count("tlmlda ") == 1 and "pca_svm" in text and "E→B" in text


def test_collapsed_runs_are_named_in_the_notes():
    rows = rows_for("dsan", "berlin→casia", [0.2, 0.2, 0.3])
    for r, k in zip(rows, (1, 1, 4)):
        r["predicted_classes"] = k
    rows += [{**r, "method": "tlmlda", "predicted_classes": "5"} for r in rows_for("tlmlda", "berlin→casia", [0.4] * 3)]
    notes = build_tables(rows, meta(["dsan", "tlmlda"], schemes=["berlin→casia"]))["notes"]
    collapsed = [n for n in notes if "collapsed" in n]
    assert collapsed == ["dsan on B→C: 2 of 3 seeds predict one class for the whole target (collapsed; its WAR is "
                         "then that class's share of the target)"]


def test_a_wide_grid_is_split_into_tables_that_fit_and_lose_no_cell(doc):
    from sercross.experiments.render import rich_tables

    n = len(doc["columns"])
    assert len(rich_tables(doc, "war", 1000)) == 1
    narrow = rich_tables(doc, "war", 60)
    assert len(narrow) > 1 and sum(len(t.columns) - 1 for t in narrow) == n  # each column once, method in each
    for t in narrow:
        console = Console(record=True, width=60)
        console.print(t)
        assert "…" not in console.export_text()  # nothing cut to an ellipsis
