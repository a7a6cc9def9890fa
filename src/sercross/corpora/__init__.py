"""Corpora: manifests of official layouts, finding and labelling files, reading audio, checking a download, the
synthetic demo corpora."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "TARGET_SR": "audio", "load_audio": "audio",
    "check_corpus": "check",
    "DemoConfig": "demo", "synthesize_corpora": "demo",
    "CANONICAL_EMOTIONS": "manifests", "CorpusIndex": "manifests", "Manifest": "manifests", "Skipped": "manifests",
    "Utterance": "manifests", "available_manifests": "manifests", "load_manifest": "manifests",
    "unlabelled_manifest": "manifests",
    "manifest_dirs": "manifests",
    "CachedFeatures": "registered", "cached_features": "registered", "check_root": "registered",
    "register": "registered", "registered_manifests": "registered",
    "USER_CONFIG": "roots", "configured_root": "roots", "resolve_root": "roots",
    "scan": "scanning",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
