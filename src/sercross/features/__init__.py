"""openSMILE functionals per utterance: parallel, incremental extraction into the cache, and loading tables."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "DEFAULT_FEATURE_SET": "extract", "FEATURE_SETS": "extract", "FeatureTable": "extract",
    "check_feature_set": "extract", "extract_corpus": "extract", "load_features": "extract",
    "write_derived_table": "extract",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
