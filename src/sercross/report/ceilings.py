"""The in-corpus ceilings in a benchmark's report: each column's in-corpus references (``benchmark --in-corpus``,
its ``in_corpus.csv``) and every method's gap to the better of them, labelled with their protocol."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sercross.infra import read_csv
from sercross.report.document import mean_sd
from sercross.report.render import Block, Heading, Paragraph, Table
from sercross.report.selection import Run

CEILING_HEADERS = ["scheme", "method", "cross-corpus WAR %", "in-corpus only_cls WAR %", "in-corpus pca_svm WAR %",
                   "gap (points)"]


def read_ceilings(bdir: Path) -> list[dict]:
    """The finished rows of a benchmark's in_corpus.csv (none when it has no in-corpus references)."""
    path = Path(bdir) / "in_corpus.csv"
    if not path.is_file():
        return []
    return [r for r in read_csv(path) if r.get("status") == "done" and r.get("war") not in (None, "")]


def ceiling_blocks(runs: Sequence[Run], ceilings: Sequence[dict]) -> list[Block]:
    """A section with one row per scheme and method: its cross-corpus WAR, the column's two in-corpus references and
    the gap (cross-corpus mean − the better reference's mean); nothing when there are no references."""
    if not ceilings:
        return []
    refs: dict[tuple[str, str], list[float]] = {}
    for r in ceilings:
        refs.setdefault((r["scheme"], r["method"]), []).append(float(r["war"]))
    cross: dict[tuple[str, str], list[float]] = {}
    shown: dict[str, str] = {}
    for run in runs:
        cross.setdefault((run.key.name, run.method), []).append(run.metrics["war"])
        shown[run.key.name] = run.scheme
    rows = []
    for (name, method), wars in cross.items():
        ref = {m: refs.get((name, m)) for m in ("only_cls", "pca_svm")}
        best = max((float(np.mean(v)) for v in ref.values() if v), default=None)
        gap = "n/a" if best is None else f"{100 * (float(np.mean(wars)) - best):+.2f}"
        rows.append([shown[name], method, mean_sd(wars),
                     *(mean_sd(v) if v else "n/a" for v in ref.values()), gap])
    return [
        Heading(2, "In-corpus ceilings and cross-corpus gaps"),
        Paragraph("Protocol of the ceilings: in-corpus, speaker-independent cross-validation inside each column's "
                  "target corpus on the column's classes (leave-one-speaker-out up to 10 speakers, else "
                  "speaker-grouped 5-fold), same features, preset and seeds; WAR is the mean over folds. The gap is "
                  "the cross-corpus mean minus the better ceiling's mean, in percentage points (docs/protocol.md)."),
        Table(CEILING_HEADERS, rows, frozenset({2, 3, 4, 5})),
    ]
