"""Experiments on the cache: pairs of corpora, runs, benchmark grids and their tables."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "Reporter": "benchmark", "benchmark_dir": "benchmark", "benchmark_meta": "benchmark",
    "collect_results": "benchmark", "parse_methods": "benchmark", "parse_schemes": "benchmark",
    "parse_seeds": "benchmark", "plan_benchmark": "benchmark", "run_benchmark": "benchmark",
    "write_results_csv": "benchmark",
    "Pair": "pairs", "load_pair": "pairs",
    "corpus_name": "resolve", "features_or_extract": "resolve", "pair_for": "resolve",
    "evaluate_run": "runs", "load_estimator": "runs", "read_run_config": "runs", "run_inputs": "runs",
    "run_state": "runs", "train_run": "runs",
    "build_tables": "tables", "rich_table": "tables", "write_tables": "tables",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
