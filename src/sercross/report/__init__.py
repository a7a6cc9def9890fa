"""Reports of finished runs: figures, report.md and a self-contained index.html rendered from it.

Modules: ``selection`` (which runs), ``figure_data`` (the numbers behind each figure), ``plots`` (drawing),
``document`` (what report.md says, as blocks), ``render`` (Markdown and HTML), ``build`` (the folder).
"""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "SUMMARY_HEADERS": "document", "build_report": "build", "default_out_dir": "build", "select_benchmark": "selection",
    "select_run": "selection", "select_scheme": "selection", "summary_rows": "document",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
