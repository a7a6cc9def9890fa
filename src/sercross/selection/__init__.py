"""Label-free selection: scores of a trained run that read no target label (reverse validation and skada's
scorers), and the rules that pick one candidate per pair from them."""

from sercross._lazy import lazy_exports

# public name -> the module of this package that defines it
_EXPORTS = {
    "ReverseValidation": "reverse", "reverse_validation": "reverse", "reverse_validation_of": "reverse",
    "SCORES": "scorers", "ScoreSettings": "scorers", "label_free_scores": "scorers",
    "DEFAULT_RULE": "rules", "RULE_SCORES": "rules", "Pick": "rules", "SelectionRule": "rules",
    "apply_rule": "rules", "combine_outputs": "rules", "consensus": "rules", "speaker_normalised": "rules",
    "speaker_confounding": "confounding", "majority_vote": "confounding", "speaker_class_nmi": "confounding",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
