"""Infrastructure every stage uses: the cache and its atomic writes, the executors, terminal output, errors.

Executors: :mod:`.executor` picks one, :mod:`.processes` (local worker processes) and :mod:`.cluster` (Dask)
implement :mod:`.tasks`' interface.
"""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "atomic_write_bytes": "cache", "atomic_write_csv": "cache", "atomic_write_json": "cache",
    "atomic_write_npz": "cache", "atomic_write_text": "cache", "atomic_write_with": "cache", "check_meta": "cache",
    "ensure_writable_dir": "cache", "features_dir": "cache", "file_lock": "cache", "manifests_dir": "cache",
    "pair_dir": "cache",
    "read_csv": "cache", "read_json": "cache", "remove_stale_temps": "cache", "resolve_cache": "cache",
    "run_dir": "cache", "scheme_name": "cache",
    "SercrossError": "errors", "did_you_mean": "errors",
    "map_chunks": "executor", "open_executor": "executor", "resolve_scheduler": "executor",
    "LocalExecutor": "processes",
    "Executor": "tasks", "TaskFailed": "tasks", "WorkerDied": "tasks",
    "sha1_bytes": "system", "sha1_file": "system", "usable_cpus": "system", "library_versions": "system",
    "blas_backends": "system",
    "TOMLDecodeError": "toml", "toml_dumps": "toml", "toml_loads": "toml",
    "confusion_table": "ui", "consoles": "ui", "hms": "ui", "metrics_table": "ui", "progress_bar": "ui",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
