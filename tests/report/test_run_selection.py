"""Which runs a report covers: a run folder, a scheme's runs in the cache, or the runs a benchmark listed."""

import pytest

from sercross.infra.errors import SercrossError
from sercross.report.selection import select_benchmark, select_run, select_scheme

pytestmark = pytest.mark.slow  # every test here reads the trained runs of the `demo` fixture


def test_a_scheme_is_every_finished_run_of_it_sorted(demo):
    cache, _, runs = demo
    sel = select_scheme(cache, "demo_a", "demo-b")  # an alias of demo_b
    assert sel.name == "demo_a__demo_b" and sel.kind == "scheme" and not sel.skipped
    assert [(r.method, r.seed) for r in sel.runs] == [
        ("tlmlda", 0), ("tlmlda_m", 0), ("only_cls", 0), ("pca_svm", 0), ("pca_svm", 1)]  # the registry's order
    assert select_scheme(cache, "demo_a", "demo_b", preset="demo").name == "demo_a__demo_b-demo"


def test_a_run_folder_knows_its_own_cache(demo, tmp_path):
    cache, _, runs = demo
    sel = select_run(runs["pca_svm"], tmp_path / "elsewhere")  # the run's own cache is found from its path
    assert sel.single and sel.runs[0].cache == cache.resolve()
    assert sel.name == "demo_a__demo_b-pca_svm-demo-seed0" and sel.description.startswith("one run")


def test_benchmark_selection_follows_run_dir_of_results_csv(demo, tiny_benchmark):
    cache, _, _ = demo
    sel = select_benchmark(cache, tiny_benchmark)
    assert [r.seed for r in sel.runs] == [0, 1] and len(sel.skipped) == 2
    assert "no run folder" in sel.skipped[0][1]
    assert "trained again since" in sel.skipped[1][1] and "0.0123" in sel.skipped[1][1]
    with pytest.raises(SercrossError, match="no run with preset 'paper'"):
        select_benchmark(cache, tiny_benchmark, preset="paper")
    with pytest.raises(SercrossError, match="no benchmark 'nope'") as exc:
        select_benchmark(cache, "nope")
    assert "tiny" in exc.value.hint


def test_unfinished_run_folders_are_left_out_of_a_scheme(demo):
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
