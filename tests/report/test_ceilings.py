"""The in-corpus ceilings section of a benchmark's report, from runs and references made up here."""

import pytest
from test_document import run  # the made-up runs of the report tests (tests/report is on sys.path)

from sercross.report.ceilings import ceiling_blocks, read_ceilings
from sercross.report.document import _protocol
from sercross.report.render import Table


def test_each_method_gets_its_gap_to_the_better_ceiling(tmp_path):
    runs = [run("tlmlda", 0, 0.40, 0.4), run("tlmlda", 1, 0.50, 0.5), run("only_cls", 0, 0.30, 0.3)]
    name = runs[0].key.name
    (tmp_path / "in_corpus.csv").write_text(
        "scheme,target,method,seed,war,uar,status,error,run_dir\n"
        f"{name},b,only_cls,0,0.6,0.6,done,,x\n{name},b,only_cls,1,0.7,0.7,done,,x\n"
        f"{name},b,pca_svm,0,0.55,0.55,done,,x\n{name},b,pca_svm,1,,,failed,boom,\n")
    refs = read_ceilings(tmp_path)
    assert len(refs) == 3  # the failed reference is left out
    blocks = ceiling_blocks(runs, refs)
    table = next(b for b in blocks if isinstance(b, Table))
    rows = {r[1]: r for r in table.rows}
    assert rows["tlmlda"][2:] == ["45.00 ± 7.07", "65.00 ± 7.07", "55.00", "-20.00"]
    assert rows["only_cls"][5] == "-35.00"


def test_no_references_no_section(tmp_path):
    assert ceiling_blocks([run("tlmlda", 0, 0.4, 0.4)], read_ceilings(tmp_path)) == []


@pytest.mark.parametrize("source, target_set, words", [
    ("a", "shared", ["one source", "Target set shared"]),
    ("a+c+d", "all", ["several sources, the union of a, c, d", "Target set all"]),
])
def test_every_scheme_section_says_its_protocol(source, target_set, words):
    r = run("tlmlda", 0, 0.4, 0.4, source=source)
    r.config["target_set"] = target_set
    assert all(w in _protocol(r) for w in words)
