"""What can be trained on a pair: configurations and method definitions, the network, its loss terms and
weighting strategies, the estimator that trains every network method, PCA + SVM, shallow skada methods, and
the target metrics."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "ADDED_TRAIN_FIELDS": "config", "DEFAULT_ALPHA": "config", "LOSS_NAMES": "config", "PRESETS": "config",
    "TERM_NAMES": "config", "TrainConfig": "config", "alpha_for": "config", "get_preset": "config",
    "preset_tag": "config", "PRECISIONS": "config",
    "PRECISION_CHOICES": "precision", "native_bf16": "precision", "resolve_precision": "precision",
    "ADDED_SPEC_KEYS": "registry", "INPUT_NORMS": "registry", "METHODS": "registry", "MethodSpec": "registry",
    "PAPER_METHODS": "registry", "get_method": "registry",
    "NetworkEstimator": "estimator",
    "TERMS": "terms",
    "WEIGHTINGS": "weighting",
    "score": "metrics", "war": "metrics",
    "TLMLDANet": "network",
    "PAPER_CS": "pca_svm", "PCASVM": "pca_svm", "PCA_VARIANCE": "pca_svm",
    "ShallowEstimator": "shallow", "ShallowSettings": "shallow",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
