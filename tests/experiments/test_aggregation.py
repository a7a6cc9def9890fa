"""Aggregation over seeds and schemes, checked by hand: sample std (ddof = 1), the Average, failed and partial cells."""

import math

import pytest

from sercross.experiments.aggregation import aggregate


def row(method, scheme, seed, war, uar=None, status="trained"):
    return {"method": method, "scheme": scheme, "seed": seed, "war": war, "uar": uar, "status": status}


def test_aggregation_by_hand():
    rows = [
        row("m", "s1", 0, 0.5), row("m", "s1", 1, 0.6), row("m", "s1", 2, 0.7),
        row("m", "s2", 0, 0.4), row("m", "s2", 1, 0.4), row("m", "s2", 2, 0.7),
        row("one", "s1", 0, 0.3), row("one", "s1", 1, None, status="failed"),
        row("one", "s2", 0, 0.5), row("one", "s2", 1, 0.7),
        row("m", "s1", 9, 0.0),  # a seed outside the grid is ignored
    ]
    agg = aggregate(rows, "war", ["s1", "s2"], ["m", "one", "none"], [0, 1, 2])
    c = agg["m"]["s1"]
    assert c.mean == pytest.approx(60.0) and c.std == pytest.approx(10.0) and c.n == 3 and c.expected == 3
    c = agg["m"]["s2"]
    assert c.mean == pytest.approx(50.0) and c.std == pytest.approx(math.sqrt(300))
    avg = agg["m"]["Average"]  # per-seed averages 45, 50, 70
    assert avg.mean == pytest.approx(55.0) and avg.std == pytest.approx(math.sqrt(175)) and avg.n == 3
    one = agg["one"]
    assert one["s1"].mean == pytest.approx(30.0) and math.isnan(one["s1"].std) and one["s1"].n == 1
    assert one["s1"].failed == 1 and one["s2"].std == pytest.approx(math.sqrt(200))
    # Average: mean of scheme means (30, 60); std over seeds present in both schemes (only seed 0) -> nan
    assert one["Average"].mean == pytest.approx(45.0) and math.isnan(one["Average"].std)
    assert agg["none"]["s1"].mean is None and agg["none"]["Average"].mean is None
    partial = aggregate([row("m", "s1", 0, 0.5), row("m", "s1", 1, 0.7)], "war", ["s1", "s2"], ["m"], [0, 1])
    assert partial["m"]["Average"].partial_schemes == 1 and partial["m"]["Average"].mean == pytest.approx(60.0)
