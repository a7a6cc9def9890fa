"""Reports of finished runs: figures, report.md and a self-contained index.html."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "SUMMARY_HEADERS": "build", "build_report": "build", "default_out_dir": "build", "select_benchmark": "build",
    "select_run": "build", "select_scheme": "build", "summary_rows": "build",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
