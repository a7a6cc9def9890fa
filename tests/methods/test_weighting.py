import pytest
import torch

from sercross.methods.config import TERM_NAMES
from sercross.methods.registry import METHODS, get_method
from sercross.methods.training import ADAPTATION, term_mask
from sercross.methods.weighting import WEIGHTINGS, WeightInputs

ALPHA5 = torch.tensor([0.1, 0.1, 5.0, 1.0, 0.1])


def weights(method: str, losses, alpha=ALPHA5, active=None, running=None, adapt_weight=1.0):
    spec = get_method(method)
    n = len(losses)
    active = torch.tensor(spec.active[:n]) if active is None else active
    x = WeightInputs(losses, alpha, active, running, adapt_weight, ADAPTATION[:n],
                     term_mask(spec.normalized_terms)[:n])
    return WEIGHTINGS[spec.weighting](x)


def test_every_method_names_a_registered_strategy():
    assert {m.weighting for m in METHODS.values()} <= set(WEIGHTINGS)


def test_strategies_by_hand():
    losses = torch.tensor([10.0, 8.0, 1.0, 0.5, 0.5])
    all_on = torch.tensor([True] * 5)
    assert torch.allclose(weights("tlmlda", losses, active=all_on), ALPHA5 * losses / losses.sum())
    assert torch.allclose(weights("tlmlda_w", losses, active=all_on), losses / losses.sum())
    assert torch.allclose(weights("tlmlda_alpha", losses, active=all_on), ALPHA5)
    w = weights("tlmlda_m", losses)
    # the inactive term leaves the sum too: w_MMD = alpha_MMD L_MMD / (L_S + L_T + L_y + L_MMD)
    assert w[4] == 0 and torch.isclose(w[3], ALPHA5[3] * 0.5 / (10 + 8 + 1 + 0.5))
    assert weights("only_cls", losses).tolist() == [0, 0, 1, 0, 0]


def test_lambda_scales_only_the_adaptation_terms():
    losses = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.7, 0.1])
    w = weights("dan", losses, alpha=torch.ones(8), adapt_weight=0.25)
    assert w.tolist() == [0, 0, 1, 0.25, 0, 0, 0, 0]
    w = weights("coral", losses, alpha=torch.ones(8), adapt_weight=3.0)
    assert w.tolist() == [0, 0, 1, 0, 0, 3.0, 0, 0]


def test_normalized_weighting_divides_only_the_terms_the_method_names():
    losses = torch.tensor([150.0, 160.0, 1.5, 0.05, 0.2, 0.0, 0.0, 0.01])
    running = torch.tensor([100.0, 200.0, 2.0, 0.1, 0.4, 1.0, 1.0, 0.02])
    alpha = torch.tensor([0.55, 0.55, 4.0, 1.0, 0.55, 1.0, 1.0, 1.0])
    w = weights("tlmlda_plus", losses, alpha=alpha, running=running)
    assert torch.allclose(w[:3], alpha[:3] / running[:3])
    assert torch.allclose(w[3:5], alpha[3:5]) and float(w[7]) == 1.0  # distances and diversity: fixed
    assert float(w[5]) == float(w[6]) == 0.0  # CORAL and ADV are not TLMLDA+ terms
    # another set of divided terms is a field of the method definition
    spec = get_method("tlmlda_plus")
    x = WeightInputs(losses, alpha, torch.tensor(spec.active), running, 1.0, ADAPTATION,
                     term_mask(TERM_NAMES))
    assert torch.allclose(WEIGHTINGS["normalized"](x)[3], alpha[3] / running[3])


@pytest.mark.parametrize("name", sorted(WEIGHTINGS))
def test_inactive_terms_get_no_weight(name):
    losses = torch.tensor([2.0, 1.0, 1.5, 0.3, 0.2, 0.1, 0.6, 0.05])
    active = torch.tensor([True, False, True, False, True, False, True, False])
    x = WeightInputs(losses, torch.full((8,), 0.5), active, losses * 2, 0.7, ADAPTATION, term_mask(("L_S", "L_y")))
    w = WEIGHTINGS[name](x)
    assert (w[~active] == 0).all() and (w[active] > 0).all()
