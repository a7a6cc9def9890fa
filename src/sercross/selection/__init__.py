"""Label-free selection: scores of a trained run that read no target label (reverse validation and skada's
scorers), and the rules that pick one candidate per pair from them."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "ReverseValidation": "reverse", "reverse_validation": "reverse", "reverse_validation_of": "reverse",
    "SCORES": "scorers", "ScoreSettings": "scorers", "label_free_scores": "scorers",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
