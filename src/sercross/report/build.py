"""Assembly: write a report folder for a selection of runs.

A report is a self-contained folder (default ``<cache>/reports/<name>/``)::

    report.md  index.html  figures/*.png  .sercross-report

report.md is rendered once from the blocks of :mod:`.document`; index.html is that Markdown as HTML
(:mod:`.render`). The marker file lets a report folder be rewritten in place and protects any other folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sercross import __version__
from sercross.experiments import Pair
from sercross.infra import SercrossError, atomic_write_bytes, atomic_write_json, atomic_write_text
from sercross.report.document import report_blocks
from sercross.report.figure_data import run_pair
from sercross.report.render import Figure, Note, html_page, to_markdown
from sercross.report.selection import Run, Selection

MARKER = ".sercross-report"

Progress = Callable[[str], None]


@dataclass
class ReportResult:
    out_dir: Path
    markdown: Path
    html: Path
    figures: list[Path]
    notes: list[str]
    runs: list[Run]


class FigureWriter:
    """Writes the figures of one report folder as PNG files and collects its notes, in document order."""

    def __init__(self, out: Path, progress: Progress | None = None):
        self.out = out
        self.figures: list[Path] = []
        self.notes: list[str] = []
        self.progress = progress or (lambda msg: None)
        self._pairs: dict[tuple, Pair | SercrossError] = {}

    def figure(self, fig, name: str, alt: str, caption: str) -> Figure:
        """Write ``fig`` as figures/<name>.png (or <name>-2.png … when the name is taken) and free it."""
        from sercross.report.plots import png_bytes

        rel, k = f"figures/{name}.png", 1
        while self.out / rel in self.figures:  # e.g. one scheme paired twice with other classes
            k += 1
            rel = f"figures/{name}-{k}.png"
        atomic_write_bytes(self.out / rel, png_bytes(fig))
        fig.clear()
        self.figures.append(self.out / rel)
        return Figure(rel, alt, caption)

    def note(self, text: str) -> Note:
        self.notes.append(text)
        return Note(text)

    def pair(self, run: Run) -> Pair:
        """The run's pair, loaded once per report (the error too, when it changed since the run)."""
        key = (str(run.cache), run.source, run.target, run.config["feature_set"], run.config.get("pair_fingerprint"))
        if key not in self._pairs:
            try:
                self._pairs[key] = run_pair(run)
            except SercrossError as exc:
                self._pairs[key] = exc
        got = self._pairs[key]
        if isinstance(got, SercrossError):
            raise got
        return got


def prepare_out_dir(out: Path) -> None:
    """Refuse to write into a non-empty folder that is not a sercross report (we clean figures/ there)."""
    if out.exists() and not out.is_dir():
        raise SercrossError(f"{out} exists and is not a folder", hint="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SercrossError(
            f"{out} is not empty and holds no sercross report",
            hint="choose an empty or new folder with --out (a report folder is rewritten in place)",
        )


def build_report(selection: Selection, out: Path, tsne: bool = True, progress: Progress | None = None,
                 run_figures: bool = True) -> ReportResult:
    """Write the report folder: figures/*.png, report.md, index.html (``run_figures``: each run's own figures)."""
    out = Path(out)
    prepare_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / MARKER, {"sercross_version": __version__, "selection": selection.description})
    w = FigureWriter(out, progress)
    markdown = to_markdown(report_blocks(selection, w, tsne=tsne, run_figures=run_figures))
    atomic_write_text(out / "report.md", markdown)
    atomic_write_text(out / "index.html", html_page(f"sercross report: {selection.title}", markdown))
    keep = {p.name for p in w.figures}
    for old in (out / "figures").glob("*.png"):
        if old.name not in keep:
            old.unlink()
    return ReportResult(out, out / "report.md", out / "index.html", w.figures, w.notes, selection.runs)


def default_out_dir(cache: Path, selection: Selection) -> Path:
    return cache / "reports" / selection.name
