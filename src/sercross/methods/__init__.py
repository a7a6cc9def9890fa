"""What can be trained on a pair: configurations and method definitions, the network, its losses, the estimator
that trains every network method, PCA + SVM, label-free scores and target metrics."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "DEFAULT_ALPHA": "config", "LOSS_NAMES": "config", "METHODS": "config", "PAPER_METHODS": "config",
    "TERM_NAMES": "config", "TrainConfig": "config", "alpha_for": "config", "get_method": "config",
    "PRESETS": "config", "get_preset": "config", "preset_tag": "config",
    "TLMLDA": "estimator",
    "score": "metrics", "war": "metrics",
    "TLMLDANet": "network",
    "PAPER_CS": "pca_svm", "PCASVM": "pca_svm", "PCA_VARIANCE": "pca_svm",
    "reverse_validation_of": "selection",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
