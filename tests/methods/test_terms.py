import dataclasses

import numpy as np
import torch

from sercross.methods.config import RECON_LOSSES, TERM_NAMES, TrainConfig
from sercross.methods.terms import RECON, TERMS, Step, compute_terms


def test_every_term_name_has_one_function_and_every_choice_one_loss():
    assert set(TERMS) == set(TERM_NAMES)
    assert set(RECON) == set(RECON_LOSSES)


def step(rng, recon_loss="sse", n=6, m=5, d=4, c=3) -> Step:
    t = lambda *shape: torch.from_numpy(rng.random(shape)).float()  # noqa: E731
    cfg = dataclasses.replace(TrainConfig(), recon_loss=recon_loss)
    return Step(config=cfg, n_classes=c, xs=t(n, d), ys=torch.from_numpy(rng.integers(0, c, n)), fs=t(n, 2),
                logit_s=t(n, c), rec_s=t(n, d), xt=t(m, d), ft=t(m, 2), logit_t=t(m, c), rec_t=t(m, d))


def test_reconstruction_losses_by_hand(rng):
    s = step(rng)
    x, r = s.xs.numpy().astype(np.float64), s.rec_s.numpy().astype(np.float64)
    sse = ((r - x) ** 2).sum(1).mean()
    assert np.isclose(float(TERMS["L_S"].compute(s)), sse, rtol=1e-6)
    b = step(rng, "bce")
    x, r = b.xs.numpy().astype(np.float64), b.rec_s.numpy().astype(np.float64)
    # binary cross-entropy of the clean input (in [0, 1]) against the sigmoid output, summed over features
    bce = -(x * np.log(r) + (1 - x) * np.log(1 - r)).sum(1).mean()
    assert np.isclose(float(TERMS["L_S"].compute(b)), bce, rtol=1e-5)
    xt, rt = b.xt.numpy().astype(np.float64), b.rec_t.numpy().astype(np.float64)
    assert np.isclose(float(TERMS["L_T"].compute(b)), -(xt * np.log(rt) + (1 - xt) * np.log(1 - rt)).sum(1).mean(),
                      rtol=1e-5)
    m = step(rng, "bce_mean")
    x, r = m.xs.numpy().astype(np.float64), m.rec_s.numpy().astype(np.float64)
    # torch's nn.BCELoss() default, as the authors' code uses it: the mean over utterances and features
    assert np.isclose(float(TERMS["L_S"].compute(m)), -(x * np.log(r) + (1 - x) * np.log(1 - r)).mean(), rtol=1e-5)


def test_terms_that_take_no_part_are_zero_but_the_classifier_loss_is_always_there(rng):
    s = step(rng)
    only_mmd = tuple(n == "MMD" for n in TERM_NAMES)
    values = compute_terms(s, only_mmd)
    i = {n: TERM_NAMES.index(n) for n in TERM_NAMES}
    assert float(values[i["MMD"]]) > 0 and float(values[i["L_y"]]) > 0
    assert all(float(values[i[n]]) == 0.0 for n in ("L_S", "L_T", "LMMD", "CORAL", "ADV", "DIV"))


def test_shared_quantities_are_computed_once(rng):
    s = step(rng)
    assert s.kernel is s.kernel and s.target_probs is s.target_probs
    assert torch.allclose(s.target_probs.sum(1), torch.ones(5))
