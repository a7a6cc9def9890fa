"""openSMILE functionals per utterance: parallel, incremental extraction into the cache, and loading tables."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "ExtractSummary": "extract", "extract_corpus": "extract",
    "DEFAULT_FEATURE_SET": "feature_sets", "FEATURE_SETS": "feature_sets", "check_feature_set": "feature_sets",
    "FeatureTable": "table", "load_features": "table", "write_derived_table": "table",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
