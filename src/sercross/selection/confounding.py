"""How much a corpus's speakers and emotions are confounded: the case where speaker normalisation fails.

Standardising features within each speaker removes what is constant for a speaker. When every speaker of a corpus
shows all emotions (acted corpora), that is the voice; when each speaker shows one or two emotions (natural
speech recorded in one situation per speaker), it is the emotion itself, and a speaker-normalised model is at
chance. The statistic is the normalised mutual information between speaker and class: 0 when every speaker shows
every class equally often, 1 when the speaker determines the class.

- On the **source** the classes are its labels (source labels may be used for any decision).
- On the **target** no label may be read: the classes are the majority vote of the candidates that do *not*
  normalise per speaker, an estimate. Cross-corpus predictions lean per speaker even on acted corpora (a voice
  read as "angry" throughout), so the target value is higher than the true one; the threshold a rule uses was
  chosen on development pairs with and without confounding (bench/selection.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def speaker_class_nmi(speakers: Sequence[str], classes: Sequence[int]) -> float | None:
    """Normalised mutual information (arithmetic mean normalisation) between speaker and class; None when there is
    no speaker information (fewer than two speakers) or a single class."""
    from sklearn.metrics import normalized_mutual_info_score

    speakers, classes = np.asarray(speakers), np.asarray(classes)
    if len(set(speakers.tolist())) < 2 or len(set(classes.tolist())) < 2:
        return None
    return float(normalized_mutual_info_score(speakers, classes))


def majority_vote(predictions: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per utterance, the class most candidates predict (ties: the lowest class index)."""
    votes = np.stack([np.asarray(p, int) for p in predictions.values()])
    counts = np.zeros((int(votes.max()) + 1, votes.shape[1]), int)
    for row in votes:
        counts[row, np.arange(votes.shape[1])] += 1
    return counts.argmax(axis=0)


def speaker_confounding(source_speakers: Sequence[str], source_labels: Sequence[int],
                        target_speakers: Sequence[str] | None,
                        target_votes: np.ndarray | None) -> dict[str, float | None]:
    """``{"source": …, "target": …, "max": …}``: speaker–class NMI of the source (its labels) and of the target
    (the vote of corpus-normalised candidates), and the larger of the two (None where unknown)."""
    src = speaker_class_nmi(source_speakers, source_labels)
    tgt = None
    if target_speakers is not None and target_votes is not None:
        tgt = speaker_class_nmi(target_speakers, target_votes)
    known = [v for v in (src, tgt) if v is not None]
    return {"source": src, "target": tgt, "max": max(known) if known else None}
