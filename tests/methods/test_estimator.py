import dataclasses

import numpy as np
import pytest
import torch

from sercross.infra.errors import SercrossError
from sercross.methods.config import LOSS_NAMES, METHODS, TrainConfig, get_method
from sercross.methods.estimator import TLMLDA, combine_weights, scheduled_lr

SMALL = TrainConfig(epochs=3, lr=1e-3, batch_size=16, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1)


def toy(rng, n=40, d=20, classes=3, shift=0.3):
    ys = rng.integers(0, classes, n)
    centers = rng.random((classes, d))
    Xs = np.clip(centers[ys] + rng.normal(scale=0.1, size=(n, d)), 0, 1).astype(np.float32)
    yt = rng.integers(0, classes, n)
    Xt = np.clip(centers[yt] + shift + rng.normal(scale=0.1, size=(n, d)), 0, 1).astype(np.float32)
    return Xs, ys, Xt, yt


def test_combine_weights_per_method():
    losses = torch.tensor([10.0, 8.0, 1.0, 0.5, 0.5])
    alpha = torch.tensor([0.1, 0.1, 5.0, 1.0, 0.1])
    all_on = torch.tensor([True] * 5)
    w = combine_weights(get_method("tlmlda"), alpha, losses, all_on)
    assert torch.allclose(w, alpha * losses / losses.sum())
    assert torch.allclose(combine_weights(get_method("tlmlda_w"), alpha, losses, all_on), losses / losses.sum())
    assert torch.allclose(combine_weights(get_method("tlmlda_alpha"), alpha, losses, all_on), alpha)
    m_only = torch.tensor(get_method("tlmlda_m").terms)
    w = combine_weights(get_method("tlmlda_m"), alpha, losses, m_only)
    assert w[4] == 0 and torch.isclose(w[3], alpha[3] * 0.5 / (10 + 8 + 1 + 0.5))
    only = combine_weights(get_method("only_cls"), alpha, losses, torch.tensor(get_method("only_cls").terms))
    assert only.tolist() == [0, 0, 1, 0, 0]


@pytest.mark.parametrize("method", [m for m, s in METHODS.items() if s.kind == "network"])
def test_every_network_method_trains_and_records_history(method, rng):
    Xs, ys, Xt, _ = toy(rng)
    est = TLMLDA(method=method, config=SMALL, alpha=(1, 1, 3, 1, 1), random_state=0).fit(Xs, ys, Xt, 3)
    assert len(est.history_) == 3
    row = est.history_[-1]
    for n in LOSS_NAMES:
        assert np.isfinite(row[f"loss_{n}"]) and np.isfinite(row[f"weight_{n}"])
    active = get_method(method).terms
    for n, on in zip(LOSS_NAMES, active):
        assert (row[f"weight_{n}"] > 0) == on
    assert est.predict(Xt).shape == (len(Xt),)
    assert est.transform(Xt).shape == (len(Xt), 6)


def test_same_seed_same_numbers_and_other_seed_differs(rng):
    Xs, ys, Xt, _ = toy(rng)
    a = TLMLDA(config=SMALL, random_state=1).fit(Xs, ys, Xt, 3).predict_proba(Xt)
    b = TLMLDA(config=SMALL, random_state=1).fit(Xs, ys, Xt, 3).predict_proba(Xt)
    c = TLMLDA(config=SMALL, random_state=2).fit(Xs, ys, Xt, 3).predict_proba(Xt)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_learns_a_separable_problem(rng):
    Xs, ys, Xt, yt = toy(rng, n=120, shift=0.0)
    cfg = dataclasses.replace(SMALL, epochs=60, lr=1e-2, noise_std=0.1, dropout=0.1)
    est = TLMLDA(method="only_cls", config=cfg, random_state=0).fit(Xs, ys, Xt, 3)
    assert (est.predict(Xt) == yt).mean() > 0.8


def test_per_epoch_weight_update(rng):
    Xs, ys, Xt, _ = toy(rng)
    cfg = dataclasses.replace(SMALL, weight_update="epoch")
    est = TLMLDA(config=cfg, random_state=0).fit(Xs, ys, Xt, 3)
    h = est.history_
    losses = torch.tensor([h[0][f"loss_{n}"] for n in LOSS_NAMES])
    # the weights of epoch 2 come from epoch 1's mean losses
    expected = torch.ones(5) * losses / losses.sum()
    got = torch.tensor([h[1][f"weight_{n}"] for n in LOSS_NAMES])
    assert torch.allclose(got, expected, rtol=1e-4)


def test_target_labels_cannot_reach_fit(rng):
    import inspect

    params = inspect.signature(TLMLDA.fit).parameters
    assert list(params)[:4] == ["self", "Xs", "ys", "Xt"]
    assert not any("yt" in p or "target_label" in p for p in params)


def test_bad_inputs_are_reported(rng):
    Xs, ys, Xt, _ = toy(rng)
    bad = Xs.copy()
    bad[0, 0] = np.nan
    with pytest.raises(SercrossError, match="NaN"):
        TLMLDA(config=SMALL).fit(bad, ys, Xt, 3)
    with pytest.raises(SercrossError, match="single class"):
        TLMLDA(config=SMALL).fit(Xs, np.zeros_like(ys), Xt, 3)
    with pytest.raises(SercrossError, match="diverged"):
        TLMLDA(config=dataclasses.replace(SMALL, lr=1e30, noise_std=1e30)).fit(Xs, ys, Xt, 3)


def test_tiny_corpora_smaller_than_a_batch(rng):
    Xs, ys, Xt, _ = toy(rng, n=5)
    ys[:2] = [0, 1]
    est = TLMLDA(config=dataclasses.replace(SMALL, batch_size=100), random_state=0).fit(Xs, ys, Xt, 3)
    assert len(est.history_) == 3


def test_gradient_shares_are_recorded_and_do_not_change_training(rng):
    Xs, ys, Xt, _ = toy(rng)
    on = dataclasses.replace(SMALL, grad_share_every=2)
    off = dataclasses.replace(SMALL, grad_share_every=0)
    a = TLMLDA(config=on, random_state=0).fit(Xs, ys, Xt, 3)
    b = TLMLDA(config=off, random_state=0).fit(Xs, ys, Xt, 3)
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    measured = [r for r in a.history_ if r["grad_share_L_y"] is not None]
    assert [r["epoch"] for r in measured] == [2, 3]
    for r in measured:
        assert np.isclose(sum(r[f"grad_share_{n}"] for n in LOSS_NAMES), 1.0)
    only = TLMLDA(method="only_cls", config=on, random_state=0).fit(Xs, ys, Xt, 3).history_[-1]
    assert only["grad_share_L_y"] == 1.0 and only["grad_share_MMD"] == 0.0


def test_domain_adaptation_baselines_and_ours_record_their_terms(rng):
    Xs, ys, Xt, _ = toy(rng)
    for method, term in (("coral", "CORAL"), ("dann", "ADV"), ("dan", "MMD"), ("dsan", "LMMD")):
        h = TLMLDA(method=method, config=SMALL, random_state=0).fit(Xs, ys, Xt, 3).history_
        assert h[-1][f"loss_{term}"] > 0 and h[-1]["weight_L_S"] == 0.0
    assert "loss_CORAL" not in TLMLDA(config=SMALL).fit(Xs, ys, Xt, 3).history_[-1]


def test_normalized_weighting_keeps_every_term_alive(rng):
    Xs, ys, Xt, _ = toy(rng)
    row = TLMLDA(method="tlmlda_plus", config=SMALL, alpha=(1, 1, 3, 1, 1), random_state=0).fit(
        Xs, ys, Xt, 3).history_[-1]
    # w_i L_i stays close to alpha_i (times the ramp for adaptation terms): no term vanishes
    assert 0.5 < row["effective_L_S"] < 2 and 1.5 < row["effective_L_y"] < 6
    assert row["effective_MMD"] > 0.1 and row["effective_LMMD"] > 0.1


def test_adabn_uses_target_statistics(rng):
    Xs, ys, Xt, _ = toy(rng, shift=0.5)
    est = TLMLDA(config=dataclasses.replace(SMALL, adabn=True), random_state=0).fit(Xs, ys, Xt, 3)
    bn = est.model_.encoder[0][1]
    with torch.no_grad():
        pre = est.model_.encoder[0][0](torch.from_numpy(Xt))
    assert torch.allclose(bn.running_mean, pre.mean(0), atol=1e-4)


def test_ramp_and_coral_by_hand():
    from sercross.methods.losses import coral, ramp

    assert ramp(0.0) == 0.0 and 0.99 < ramp(1.0) < 1.0
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    y = torch.zeros(2, 2)
    # cov(x) = [[2, 0], [0, 0]]; distance to 0 is 4; / (4 * 2^2)
    assert torch.isclose(coral(x, y), torch.tensor(0.25))


def test_cosine_schedule_decays_the_learning_rate_to_zero(rng):
    cos = dataclasses.replace(SMALL, lr=1e-2, lr_schedule="cosine")
    assert scheduled_lr(cos, 0.0) == pytest.approx(1e-2)
    assert scheduled_lr(cos, 0.5) == pytest.approx(5e-3)
    assert scheduled_lr(cos, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert scheduled_lr(dataclasses.replace(cos, lr_schedule="constant"), 0.7) == 1e-2
    Xs, ys, Xt, _ = toy(rng)
    a = TLMLDA(method="only_cls", config=cos, random_state=0).fit(Xs, ys, Xt, 3)
    b = TLMLDA(method="only_cls", config=dataclasses.replace(cos, lr_schedule="constant"), random_state=0)
    b.fit(Xs, ys, Xt, 3)
    assert not np.allclose(a.predict_proba(Xt), b.predict_proba(Xt))
    with pytest.raises(SercrossError, match="schedule"):
        TLMLDA(config=dataclasses.replace(SMALL, lr_schedule="step"), random_state=0).fit(Xs, ys, Xt, 3)


def test_normalized_weighting_divides_only_reconstruction_and_classification():
    spec = get_method("tlmlda_plus")
    losses = torch.tensor([150.0, 160.0, 1.5, 0.05, 0.2, 0.0, 0.0, 0.01])
    running = torch.tensor([100.0, 200.0, 2.0, 0.1, 0.4, 1.0, 1.0, 0.02])
    alpha = torch.tensor([0.55, 0.55, 4.0, 1.0, 0.55, 1.0, 1.0, 1.0])
    w = combine_weights(spec, alpha, losses, torch.tensor(spec.active), running=running)
    assert torch.allclose(w[:3], alpha[:3] / running[:3])
    assert torch.allclose(w[3:5], alpha[3:5]) and float(w[7]) == 1.0  # distances and diversity: fixed
    assert float(w[5]) == float(w[6]) == 0.0  # CORAL and ADV are not TLMLDA+ terms
