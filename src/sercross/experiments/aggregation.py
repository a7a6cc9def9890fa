"""Aggregation of a benchmark's result rows: per method and scheme, the mean and the *sample* standard deviation
(ddof = 1) over seeds, in percent, and the Average over schemes; rendering is in :mod:`sercross.experiments.tables`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sercross.methods import get_method


@dataclass
class Cell:
    """Mean and sample standard deviation (ddof = 1) over seeds of one method on one scheme, in percent."""

    mean: float | None
    std: float | None  # nan with a single seed
    n: int  # seeds with a result
    expected: int  # seeds asked for
    values: dict[int, float]  # seed -> value
    failed: int = 0
    partial_schemes: int | None = None  # Average only: schemes with a result, when fewer than all

    def to_dict(self) -> dict:
        def num(v):
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 6)

        d = {"mean": num(self.mean), "std": num(self.std), "n": self.n, "expected": self.expected,
             "values": {str(k): num(v) for k, v in self.values.items()}, "failed": self.failed}
        if self.partial_schemes is not None:
            d["schemes_with_results"] = self.partial_schemes
        return d


def _stats(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if len(arr) > 1 else float("nan"))


def aggregate(
    rows: Sequence[dict],
    metric: str,
    schemes: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    scale: float = 100.0,
) -> dict[str, dict[str, Cell]]:
    """``{method: {scheme: Cell, ..., "Average": Cell}}`` of ``metric`` (a column of the result rows).

    A scheme cell: mean and sample std (ddof = 1) over the seeds with a result. The Average cell: the mean
    of the scheme means (as the paper averages its six schemes), ± the sample std over seeds of the
    per-seed average across schemes, counting only seeds that have a result on every scheme with results.
    Rows whose value is None (failed or missing runs) count in ``failed`` / are left out.
    """
    by_key: dict[tuple[str, str], dict[int, float]] = {}
    failed: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["method"], r["scheme"])
        v = r.get(metric)
        if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
            if r.get("status") == "failed":
                failed[key] = failed.get(key, 0) + 1
            continue
        if int(r["seed"]) in seeds:
            by_key.setdefault(key, {})[int(r["seed"])] = scale * float(v)
    out: dict[str, dict[str, Cell]] = {}
    for m in methods:
        cells: dict[str, Cell] = {}
        for s in schemes:
            vals = dict(sorted(by_key.get((m, s), {}).items()))
            mean, std = _stats(list(vals.values()))
            cells[s] = Cell(mean, std, len(vals), len(seeds), vals, failed.get((m, s), 0))
        cells["Average"] = _average(cells, schemes, seeds)
        out[m] = cells
    return out


def aggregate_oracle(rows, schemes, methods, seeds, base: dict[str, str] | None = None) -> dict[str, dict[str, Cell]]:
    """Like :func:`aggregate` on the best-epoch target WAR (oracle); network methods only (``base``: a variant's
    registry method)."""
    base = base or {}
    net = [m for m in methods if get_method(base.get(m, m)).kind == "network"]
    return aggregate(rows, "oracle_war", schemes, net, seeds)


def _average(cells: dict[str, Cell], schemes: Sequence[str], seeds: Sequence[int]) -> Cell:
    """The Average cell of one method: see :func:`aggregate`."""
    failed = sum(c.failed for c in cells.values())
    with_results = [s for s in schemes if cells[s].n > 0]
    if not with_results:
        return Cell(None, None, 0, len(seeds), {}, failed)
    mean = float(np.mean([cells[s].mean for s in with_results]))
    common = [k for k in seeds if all(k in cells[s].values for s in with_results)]
    per_seed = {k: float(np.mean([cells[s].values[k] for s in with_results])) for k in common}
    _, std = _stats(list(per_seed.values()))
    std = std if std is not None else float("nan")
    avg = Cell(mean, std, len(per_seed), len(seeds), per_seed, failed)
    if len(with_results) < len(schemes):
        avg.partial_schemes = len(with_results)
    return avg
