"""Rich output shared by the CLI commands: consoles, progress bars and tables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # A log file or a pipe: rich would assume 80 columns and break paths and bars mid-word; lines stay whole
        # (tables still fit in 160 columns).
        console = Console(stderr=stderr, width=160, soft_wrap=True)
    return console


def consoles() -> tuple[Console, Console]:
    """(stdout for results, stderr for progress and messages)."""
    return _console(False), _console(True)


def hms(seconds: float) -> str:
    """``h:mm:ss``, as audio durations are given everywhere in the CLI."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@contextmanager
def progress_bar(console: Console, description: str, unit: str = "files") -> Iterator[Progress]:
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


def metrics_table(metrics: dict, title: str) -> Table:
    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("WAR (accuracy)", f"{100 * metrics['war']:.2f} %")
    t.add_row("UAR (mean recall)", f"{100 * metrics['uar']:.2f} %")
    t.add_row("target utterances", str(metrics["n"]))
    for c, r in metrics["per_class_recall"].items():
        t.add_row(f"recall {c}", "n/a" if r is None else f"{100 * r:.2f} %")
    return t


def confusion_table(metrics: dict) -> Table:
    classes = metrics["classes"]
    t = Table(title="confusion on the target (rows: true, columns: predicted)", header_style="bold")
    t.add_column("true \\ pred")
    for c in classes:
        t.add_column(c[:9], justify="right")
    for c, row in zip(classes, metrics["confusion"]):
        t.add_row(c, *(str(v) for v in row))
    return t
