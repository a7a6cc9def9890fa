"""What report.md says, from runs made up here (no training): summary rows, run tables, chance level."""

from pathlib import Path

import numpy as np

from sercross.report.document import SUMMARY_HEADERS, chance, run_table, summary_rows
from sercross.report.figure_data import figure2_groups, recall_summary
from sercross.report.selection import Run

CLASSES = ["anger", "fear", "neutral"]


def run(method: str, seed: int, war: float, uar: float, recall=(0.5, 0.25, None), source="a", preset="p") -> Run:
    cfg = {"source": source, "target": "b", "method": method, "preset": preset, "seed": seed, "classes": CLASSES,
           "model_file": "model.pt" if method != "pca_svm" else "model.pkl", "train": {"epochs": 3},
           "train_seconds": 1.25}
    metrics = {"war": war, "uar": uar, "n": 12, "classes": CLASSES,
               "per_class_recall": dict(zip(CLASSES, recall))}
    cache = Path("/cache")
    return Run(cache / "runs" / f"{source}__b" / method / f"{preset}-seed{seed}", cfg, metrics, cache)


def test_summary_rows_give_mean_and_sample_sd_over_seeds_in_percent():
    runs = [run("pca_svm", 1, 0.40, 0.30), run("tlmlda", 0, 0.5, 0.25), run("pca_svm", 0, 0.20, 0.35),
            run("tlmlda", 1, 0.7, float("nan")), run("only_cls", 0, 0.1, 0.2, source="0")]
    rows = summary_rows(runs)
    assert len(SUMMARY_HEADERS) == len(rows[0])
    sd = 100 * np.std([0.5, 0.7], ddof=1)
    cls = ["anger, fear, neutral", "33.33"]  # every row says its classes and their chance level
    assert rows == [
        ["0→b", *cls, "only_cls", "p", "1", "0", "10.00", "20.00"],
        ["a→b", *cls, "tlmlda", "p", "2", "0, 1", f"60.00 ± {sd:.2f}", "25.00"],  # a NaN UAR is left out, not zero
        ["a→b", *cls, "pca_svm", "p", "2", "0, 1", f"30.00 ± {100 * np.std([0.2, 0.4], ddof=1):.2f}",
         "32.50 ± 3.54"],
    ]


def test_runs_of_two_class_sets_of_one_scheme_are_summarised_apart():
    three = run("tlmlda", 0, 0.5, 0.25)
    two = run("tlmlda", 0, 0.6, 0.6)
    two.config = dict(two.config, classes=["anger", "fear"], class_set="chosen")
    two.metrics = dict(two.metrics, classes=["anger", "fear"])
    rows = summary_rows([three, two])
    assert [r[1:3] for r in rows] == [["anger, fear, neutral", "33.33"], ["anger, fear", "50.00"]]


def test_run_table_has_a_recall_column_per_class_and_n_a_for_an_absent_class():
    t = run_table([run("tlmlda", 0, 0.5, 0.375), run("pca_svm", 0, 0.25, 0.2)])
    assert t.headers[5:8] == ["recall anger %", "recall fear %", "recall neutral %"]
    assert t.rows[0][:8] == ["tlmlda", "p", "0", "50.00", "37.50", "50.00", "25.00", "n/a"]
    assert t.rows[0][8:] == ["12", "3", "1.2", "`runs/a__b/tlmlda/p-seed0`"] and t.rows[1][9] == "–"
    assert t.numeric == frozenset(range(2, 11))  # everything but names and the folder is right-aligned


def test_chance_level_is_one_over_the_number_of_classes():
    assert chance(CLASSES) == "1/3 = 33.33 %" and chance(["a", "b", "c", "d", "e"]) == "1/5 = 20.00 %"


def test_recall_summary_and_figure2_groups_of_made_up_runs():
    runs = [run("tlmlda", 0, 0.5, 0.4, (0.5, 0.25, 0.0)), run("tlmlda", 1, 0.5, 0.2, (0.7, 0.35, 0.2)),
            run("only_cls", 1, 0.3, 0.3, (0.1, 0.2, 0.3)), run("pca_svm", 0, 0.3, 0.3)]
    s = recall_summary(runs)
    assert s.methods == ["tlmlda", "only_cls", "pca_svm"] and s.n_seeds == [2, 1, 1]
    assert np.allclose(s.mean[0], [0.6, 0.3, 0.1]) and np.allclose(s.sd[0], np.std([[0.5, 0.25, 0.0],
                                                                                    [0.7, 0.35, 0.2]], 0, ddof=1))
    assert np.isnan(s.mean[2, 2]) and np.isclose(s.uar[0], 0.3)
    (preset, seed, found), = figure2_groups(runs)  # seed 1 has two of the paper's three methods
    assert (preset, seed, list(found)) == ("p", 1, ["only_cls", "tlmlda"])
