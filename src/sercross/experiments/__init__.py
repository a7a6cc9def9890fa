"""Experiments on the cache: pairs of corpora, runs, benchmark grids and their tables.

A benchmark flows through its modules in order: :mod:`.plan` (schemes -> pairs -> the grid of runs, finished ones
found), :mod:`.execute` (the unfinished runs trained locally or on a Dask cluster), :mod:`.collect` (one row per
run, results.csv), :mod:`.aggregation` (mean ± std over seeds), :mod:`.tables` (the tables document, with the
paper's numbers from :mod:`.paper`) and :mod:`.render` (Markdown, CSV, JSON, rich).
"""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "Cell": "aggregation", "aggregate": "aggregation",
    "AUTO": "auto", "AutoResult": "auto", "select_all": "auto", "select_for_pair": "auto", "trained_methods": "auto",
    "benchmark_dir": "collect", "benchmark_meta": "collect", "collect_results": "collect",
    "complete_scores": "collect", "write_benchmark": "collect", "write_results_csv": "collect",
    "Outcome": "execute", "Reporter": "execute", "default_jobs": "execute", "run_benchmark": "execute",
    "pair_options": "commands", "recipe_command": "commands", "report_command": "commands", "run_command": "commands",
    "run_key": "commands", "run_recipe": "commands",
    "native_labels": "classes", "resolve_classes": "classes", "split_names": "classes",
    "Experiment": "experiment", "MethodEntry": "experiment", "experiment_from_doc": "experiment_file",
    "experiment_from_flags": "experiment", "load_experiment": "experiment_file", "method_groups": "experiment",
    "PairKey": "keys", "TARGET_SETS": "keys",
    "INCORPUS_METHODS": "incorpus", "REFERENCE_METHODS": "incorpus", "incorpus_scheme": "incorpus",
    "reference_rows": "incorpus",
    "join_sources": "sources", "loco_schemes": "sources", "split_sources": "sources",
    "Prediction": "predict", "predict_folder": "predict",
    "Pair": "pairs", "default_classes": "pairs", "load_pair": "pairs", "pair_command": "pairs", "stored_key": "pairs",
    "MIN_SHARED_CLASSES": "plan", "Plan": "plan", "RunSpec": "plan", "plan_benchmark": "plan", "plan_grid": "plan",
    "recipes_for": "plan",
    "Recipe": "recipes", "SETTINGS": "recipes", "check_setting_name": "recipes", "setting_text": "recipes",
    "render_markdown": "render", "rich_table": "render", "rich_tables": "render", "write_tables": "render",
    "corpus_name": "resolve", "features_or_extract": "resolve", "pair_for": "resolve",
    "evaluate_run": "evaluation", "write_predictions": "evaluation",
    "load_estimator": "run_files", "read_run_config": "run_files", "run_inputs": "run_files",
    "run_scores": "label_free", "run_state": "run_status", "train_run": "runs",
    "PAPER_SCHEMES": "schemes", "scheme_key": "schemes", "scheme_label": "schemes", "split_scheme": "schemes",
    "build_tables": "tables",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
