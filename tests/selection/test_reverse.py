import numpy as np
import pytest

from sercross.infra.errors import SercrossError
from sercross.selection.reverse import reverse_validation


def _clusters(rng, n_per, centres, spread=0.3):
    X = np.concatenate([c + spread * rng.standard_normal((n_per, len(c))) for c in centres])
    y = np.repeat(np.arange(len(centres)), n_per)
    return X, y


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 3
    Xs, ys = _clusters(rng, 40, centres)
    Xt, yt = _clusters(rng, 30, centres + 0.2)
    return Xs, ys, Xt, yt


def test_aligned_target_with_right_predictions_scores_high(data):
    Xs, ys, Xt, yt = data
    assert reverse_validation(Xs, ys, Xt, yt, 3) > 0.95


def test_predictions_that_swap_classes_score_low(data):
    Xs, ys, Xt, yt = data
    swapped = (yt + 1) % 3
    assert reverse_validation(Xs, ys, Xt, swapped, 3) < 0.1


def test_a_target_predicted_as_one_class_scores_chance(data):
    Xs, ys, Xt, _ = data
    assert reverse_validation(Xs, ys, Xt, np.zeros(len(Xt), int), 3) == pytest.approx(1 / 3)


def test_target_labels_are_not_an_input():
    import inspect

    params = inspect.signature(reverse_validation).parameters
    assert list(params) == ["source_features", "source_labels", "target_features", "target_pseudo_labels",
                            "n_classes", "settings"]


def test_the_scorer_settings_decide_the_score(rng):
    from sercross.selection.reverse import ReverseValidation

    Xs = rng.normal(size=(60, 4))
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = rng.normal(size=(60, 4))
    pseudo = (Xt[:, 0] + 0.8 * rng.normal(size=60) > 0.3).astype(int)  # unbalanced
    default = reverse_validation(Xs, ys, Xt, pseudo, 2)
    assert default == reverse_validation(Xs, ys, Xt, pseudo, 2, ReverseValidation(C=1.0, max_iter=2000))
    # a very strong penalty makes every coefficient vanish: one class for every source sample
    assert reverse_validation(Xs, ys, Xt, pseudo, 2, ReverseValidation(C=1e-9)) == pytest.approx(0.5)
    with pytest.raises(SercrossError, match="ReverseValidation.C"):
        ReverseValidation(C=0)
