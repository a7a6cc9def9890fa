import dataclasses

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sercross.infra.errors import SercrossError
from sercross.methods.config import LOSS_NAMES, TrainConfig, scheduled_lr
from sercross.methods.estimator import NetworkEstimator
from sercross.methods.registry import METHODS, get_method

SMALL = TrainConfig(epochs=3, lr=1e-3, batch_size=16, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1)


def toy(rng, n=40, d=20, classes=3, shift=0.3):
    ys = rng.integers(0, classes, n)
    centers = rng.random((classes, d))
    Xs = np.clip(centers[ys] + rng.normal(scale=0.1, size=(n, d)), 0, 1).astype(np.float32)
    yt = rng.integers(0, classes, n)
    Xt = np.clip(centers[yt] + shift + rng.normal(scale=0.1, size=(n, d)), 0, 1).astype(np.float32)
    return Xs, ys, Xt, yt


def fit(method="tlmlda", config=SMALL, rng=None, **kw):
    Xs, ys, Xt, _ = toy(rng)
    return NetworkEstimator(get_method(method), config, random_state=kw.pop("random_state", 0), **kw).fit(
        Xs, ys, Xt, 3)


@pytest.mark.parametrize("method", [m for m, s in METHODS.items() if s.kind == "network"])
def test_every_network_method_trains_and_records_history(method, rng):
    Xs, ys, Xt, _ = toy(rng)
    est = NetworkEstimator(get_method(method), SMALL, alpha=(1, 1, 3, 1, 1), random_state=0).fit(Xs, ys, Xt, 3)
    assert len(est.history_) == 3
    row = est.history_[-1]
    for n in LOSS_NAMES:
        assert np.isfinite(row[f"loss_{n}"]) and np.isfinite(row[f"weight_{n}"])
    active = get_method(method).terms
    for n, on in zip(LOSS_NAMES, active):
        assert (row[f"weight_{n}"] > 0) == on
    assert est.predict(Xt).shape == (len(Xt),)
    assert est.transform(Xt).shape == (len(Xt), 6)


def test_follows_scikit_learn_conventions(rng):
    Xs, ys, Xt, _ = toy(rng)
    est = NetworkEstimator(get_method("only_cls"), SMALL, random_state=5)
    params = est.get_params()
    assert params == {"method": get_method("only_cls"), "config": SMALL, "alpha": (1.0,) * 5, "random_state": 5}
    assert not [k for k in vars(est) if k.endswith("_")]  # __init__ only stores
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    assert est.fit(Xs, ys, Xt, 3) is est
    assert est.classes_.tolist() == [0, 1, 2] and est.n_features_in_ == Xs.shape[1] and est.n_classes_ == 3
    assert not hasattr(twin, "model_")  # a clone is unfitted
    np.testing.assert_array_equal(twin.fit(Xs, ys, Xt, 3).predict_proba(Xt), est.predict_proba(Xt))
    est.set_params(random_state=6)
    assert est.random_state == 6
    assert est.score(Xt, est.predict(Xt)) == 1.0  # ClassifierMixin's accuracy


def test_leaves_torch_global_state_as_it_found_it(rng):
    Xs, ys, Xt, _ = toy(rng)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = NetworkEstimator(get_method("tlmlda"), dataclasses.replace(SMALL, threads=threads + 1), random_state=0)
    a.fit(Xs, ys, Xt, 3).predict(Xt)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)
    # and what the global generator holds does not change the trained model
    torch.manual_seed(999)
    b = NetworkEstimator(get_method("tlmlda"), dataclasses.replace(SMALL, threads=threads + 1), random_state=0)
    b.fit(Xs, ys, Xt, 3)
    for (k, x), (_, y) in zip(a.model_.state_dict().items(), b.model_.state_dict().items()):
        assert torch.equal(x, y), k


def test_a_variant_is_a_spec_of_its_own_without_touching_the_registry(rng):
    before = dict(METHODS)
    variant = dataclasses.replace(METHODS["tlmlda_plus"], name="my_variant", terms=(True, True, True, False, True))
    est = NetworkEstimator(variant, SMALL, alpha=(1, 1, 3, 1, 1), random_state=0)
    row = est.fit(*toy(rng)[:3], 3).history_[-1]
    assert row["weight_MMD"] == 0 and row["weight_LMMD"] > 0
    assert METHODS == before and "my_variant" not in METHODS


def test_only_network_method_definitions_are_accepted(rng):
    Xs, ys, Xt, _ = toy(rng)
    with pytest.raises(SercrossError, match="MethodSpec"):
        NetworkEstimator("tlmlda", SMALL).fit(Xs, ys, Xt, 3)
    with pytest.raises(SercrossError, match="not a network method"):
        NetworkEstimator(get_method("pca_svm"), SMALL).fit(Xs, ys, Xt, 3)


def test_same_seed_same_numbers_and_other_seed_differs(rng):
    Xs, ys, Xt, _ = toy(rng)
    tlmlda = get_method("tlmlda")
    a = NetworkEstimator(tlmlda, SMALL, random_state=1).fit(Xs, ys, Xt, 3).predict_proba(Xt)
    b = NetworkEstimator(tlmlda, SMALL, random_state=1).fit(Xs, ys, Xt, 3).predict_proba(Xt)
    c = NetworkEstimator(tlmlda, SMALL, random_state=2).fit(Xs, ys, Xt, 3).predict_proba(Xt)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_monitoring_the_target_during_training_changes_nothing(rng):
    Xs, ys, Xt, yt = toy(rng)
    spec = get_method("tlmlda_plus")
    watched = NetworkEstimator(spec, SMALL, random_state=0)
    seen = []
    watched.fit(Xs, ys, Xt, 3, on_epoch=lambda e, row: seen.append((watched.predict(Xt) == yt).mean()))
    plain = NetworkEstimator(spec, SMALL, random_state=0).fit(Xs, ys, Xt, 3)
    assert len(seen) == 3
    for (k, x), (_, y) in zip(watched.model_.state_dict().items(), plain.model_.state_dict().items()):
        assert torch.equal(x, y), k


@pytest.mark.slow
def test_learns_a_separable_problem(rng):
    Xs, ys, Xt, yt = toy(rng, n=120, shift=0.0)
    cfg = dataclasses.replace(SMALL, epochs=60, lr=1e-2, noise_std=0.1, dropout=0.1)
    est = NetworkEstimator(get_method("only_cls"), cfg, random_state=0).fit(Xs, ys, Xt, 3)
    assert (est.predict(Xt) == yt).mean() > 0.8


def test_per_epoch_weight_update(rng):
    h = fit(config=dataclasses.replace(SMALL, weight_update="epoch"), rng=rng).history_
    losses = torch.tensor([h[0][f"loss_{n}"] for n in LOSS_NAMES])
    # the weights of epoch 2 come from epoch 1's mean losses
    expected = torch.ones(5) * losses / losses.sum()
    got = torch.tensor([h[1][f"weight_{n}"] for n in LOSS_NAMES])
    assert torch.allclose(got, expected, rtol=1e-4)


def test_bce_reconstruction_trains_otherwise_than_sse(rng):
    sse = fit(rng=np.random.default_rng(0)).history_[-1]
    bce = fit(config=dataclasses.replace(SMALL, recon_loss="bce"), rng=np.random.default_rng(0)).history_[-1]
    assert np.isfinite(bce["loss_L_S"]) and bce["loss_L_S"] != sse["loss_L_S"]


@pytest.mark.parametrize("bn_mode", ["joint", "separate"])
def test_bn_mode_decides_whether_the_stacked_batch_shares_statistics(bn_mode, rng, monkeypatch):
    from sercross.methods.network import TLMLDANet

    calls = []
    forward = TLMLDANet.forward

    def spy(self, x, reconstruct=True, n_first=None):
        if self.training:
            calls.append((len(x), n_first))
        return forward(self, x, reconstruct, n_first)

    monkeypatch.setattr(TLMLDANet, "forward", spy)
    fit(config=dataclasses.replace(SMALL, bn_mode=bn_mode, epochs=1), rng=rng)
    assert calls and all(n_first == (None if bn_mode == "joint" else 16) for _, n_first in calls)
    assert all(size == 32 for size, _ in calls)  # source and target in one pass


def test_target_labels_cannot_reach_fit():
    import inspect

    params = inspect.signature(NetworkEstimator.fit).parameters
    assert list(params)[:4] == ["self", "Xs", "ys", "Xt"]
    assert not any("yt" in p or "target_label" in p for p in params)


def test_bad_inputs_are_reported(rng):
    Xs, ys, Xt, _ = toy(rng)
    bad = Xs.copy()
    bad[0, 0] = np.nan
    tlmlda = get_method("tlmlda")
    with pytest.raises(SercrossError, match="NaN"):
        NetworkEstimator(tlmlda, SMALL).fit(bad, ys, Xt, 3)
    with pytest.raises(SercrossError, match="single class"):
        NetworkEstimator(tlmlda, SMALL).fit(Xs, np.zeros_like(ys), Xt, 3)
    with pytest.raises(SercrossError, match="diverged"):
        NetworkEstimator(tlmlda, dataclasses.replace(SMALL, lr=1e30, noise_std=1e30)).fit(Xs, ys, Xt, 3)


def test_tiny_corpora_smaller_than_a_batch(rng):
    Xs, ys, Xt, _ = toy(rng, n=5)
    ys[:2] = [0, 1]
    est = NetworkEstimator(get_method("tlmlda"), dataclasses.replace(SMALL, batch_size=100)).fit(Xs, ys, Xt, 3)
    assert len(est.history_) == 3


def test_gradient_shares_are_recorded_and_do_not_change_training(rng):
    Xs, ys, Xt, _ = toy(rng)
    on = dataclasses.replace(SMALL, grad_share_every=2)
    off = dataclasses.replace(SMALL, grad_share_every=0)
    tlmlda = get_method("tlmlda")
    a = NetworkEstimator(tlmlda, on).fit(Xs, ys, Xt, 3)
    b = NetworkEstimator(tlmlda, off).fit(Xs, ys, Xt, 3)
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    measured = [r for r in a.history_ if r["grad_share_L_y"] is not None]
    assert [r["epoch"] for r in measured] == [2, 3]
    for r in measured:
        assert np.isclose(sum(r[f"grad_share_{n}"] for n in LOSS_NAMES), 1.0)
    only = NetworkEstimator(get_method("only_cls"), on).fit(Xs, ys, Xt, 3).history_[-1]
    assert only["grad_share_L_y"] == 1.0 and only["grad_share_MMD"] == 0.0


def test_domain_adaptation_baselines_and_ours_record_their_terms(rng):
    Xs, ys, Xt, _ = toy(rng)
    for method, term in (("coral", "CORAL"), ("dann", "ADV"), ("dan", "MMD"), ("dsan", "LMMD")):
        h = NetworkEstimator(get_method(method), SMALL).fit(Xs, ys, Xt, 3).history_
        assert h[-1][f"loss_{term}"] > 0 and h[-1]["weight_L_S"] == 0.0
    assert "loss_CORAL" not in NetworkEstimator(get_method("tlmlda"), SMALL).fit(Xs, ys, Xt, 3).history_[-1]


def test_dann_discriminator_width_is_part_of_the_method(rng, monkeypatch):
    from sercross.methods import training

    widths = []
    real = training.DomainDiscriminator
    monkeypatch.setattr(training, "DomainDiscriminator",
                        lambda n_in, hidden: widths.append(hidden) or real(n_in, hidden))
    narrow = dataclasses.replace(get_method("dann"), discriminator_width=7)
    NetworkEstimator(narrow, dataclasses.replace(SMALL, epochs=1)).fit(*toy(rng)[:3], 3)
    assert widths == [7]
    assert narrow.fingerprint["discriminator_width"] == 7
    assert get_method("dann").fingerprint["discriminator_width"] == 128


def test_normalized_weighting_keeps_every_term_alive(rng):
    row = fit("tlmlda_plus", alpha=(1, 1, 3, 1, 1), rng=rng).history_[-1]
    # w_i L_i stays close to alpha_i (times the ramp for adaptation terms): no term vanishes
    assert 0.5 < row["effective_L_S"] < 2 and 1.5 < row["effective_L_y"] < 6
    assert row["effective_MMD"] > 0.1 and row["effective_LMMD"] > 0.1


def test_adabn_uses_target_statistics(rng):
    Xs, ys, Xt, _ = toy(rng, shift=0.5)
    est = NetworkEstimator(get_method("tlmlda"), dataclasses.replace(SMALL, adabn=True)).fit(Xs, ys, Xt, 3)
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
    only = get_method("only_cls")
    a = NetworkEstimator(only, cos).fit(Xs, ys, Xt, 3)
    b = NetworkEstimator(only, dataclasses.replace(cos, lr_schedule="constant")).fit(Xs, ys, Xt, 3)
    assert not np.allclose(a.predict_proba(Xt), b.predict_proba(Xt))
