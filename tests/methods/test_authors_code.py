"""The settings where the authors' public code differs from the paper's text, and the preset that has them all."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from sercross.methods import PRESETS, TrainConfig, get_preset
from sercross.methods.network import Dropout, TLMLDANet
from sercross.methods.registry import get_method
from sercross.methods.training import Trainer, batch_minmax

SMALL = TrainConfig(epochs=2, lr=1e-3, batch_size=10, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1)
AUTHORS = {"recon_loss": "bce_mean", "noise_std": 0.6, "noise_shared": True, "weight_update": "epoch",
           "batch_minmax": True, "adam_reset": True, "code_dropout": False, "dnn_batchnorm": True}


def test_the_authors_code_preset_is_the_paper_preset_with_each_difference():
    assert get_preset("authors-code") == dataclasses.replace(PRESETS["paper"], **AUTHORS)
    # every difference is off in the paper's preset
    paper = PRESETS["paper"]
    assert all(getattr(paper, k) != v for k, v in AUTHORS.items())


def test_batch_minmax_scales_each_feature_of_the_batch_to_the_unit_interval():
    x = torch.tensor([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [2.0, 5.0, 0.0]])
    y = batch_minmax(x)
    assert torch.equal(y[:, 0], torch.tensor([0.0, 1.0, 0.5])) and torch.equal(y[:, 2], torch.tensor([0.5, 1.0, 0.0]))
    assert torch.equal(y[:, 1], torch.zeros(3))  # a constant feature becomes 0, as MinMaxScaler makes it


def _trainer(rng, **over):
    Xs, Xt = rng.random((30, 20), dtype=np.float32) * 0.5, rng.random((30, 20), dtype=np.float32) * 0.5
    cfg = dataclasses.replace(SMALL, **over)
    return Trainer(get_method("tlmlda"), cfg, (1, 1, 3, 1, 1), 3, 0, Xs, rng.integers(0, 3, 30), Xt)


def _inputs(trainer, monkeypatch):
    seen = []
    real = trainer.model.forward
    monkeypatch.setattr(trainer.model, "forward", lambda x, **kw: (seen.append(x), real(x, **kw))[1])
    batch = trainer.forward(np.arange(10), np.arange(10, 20), 1.0)
    return seen[0], batch


@pytest.mark.parametrize("shared", [False, True])
def test_noise_is_one_vector_per_step_only_when_shared(shared, rng, monkeypatch):
    trainer = _trainer(rng, noise_shared=shared, noise_std=0.6)
    noisy, batch = _inputs(trainer, monkeypatch)
    noise = noisy - torch.cat([batch.xs, batch.xt])
    same = torch.allclose(noise, noise[:1].expand_as(noise), atol=1e-6)
    assert same == shared
    assert abs(float(noise.std()) - 0.6) < 0.15


def test_batch_minmax_scales_the_network_input_and_the_reconstruction_target(rng, monkeypatch):
    trainer = _trainer(rng, batch_minmax=True, noise_std=0.0)
    noisy, batch = _inputs(trainer, monkeypatch)
    for x in (batch.xs, batch.xt):
        assert torch.allclose(x.min(0).values, torch.zeros(20)) and torch.allclose(x.max(0).values, torch.ones(20))
    assert torch.equal(noisy, torch.cat([batch.xs, batch.xt]))


@pytest.mark.parametrize("reset", [False, True])
def test_adam_restarts_every_epoch_only_when_asked(reset, rng):
    trainer = _trainer(rng, adam_reset=reset, epochs=3)
    trainer.run()
    steps = {int(s["step"]) for s in trainer.opt.state.values()}
    assert steps == {trainer.steps if reset else 3 * trainer.steps}


def test_the_authors_network_has_no_dropout_on_the_code_and_batch_norm_in_the_dnn():
    paper = TLMLDANet.for_config(40, 3, SMALL)
    theirs = TLMLDANet.for_config(40, 3, dataclasses.replace(SMALL, code_dropout=False, dnn_batchnorm=True))
    assert isinstance(list(paper.encoder[-1])[-1], Dropout) and not isinstance(list(theirs.encoder[-1])[-1], Dropout)
    assert [type(m) for m in theirs.dnn] == [nn.Linear, nn.BatchNorm1d, nn.Sigmoid, nn.Linear, nn.Sigmoid]
    assert not any(isinstance(m, nn.BatchNorm1d) for m in paper.dnn)
    # the same random draws build both: the linear layers start equal
    torch.manual_seed(0)
    a = TLMLDANet.for_config(40, 3, SMALL)
    torch.manual_seed(0)
    b = TLMLDANet.for_config(40, 3, dataclasses.replace(SMALL, code_dropout=False, dnn_batchnorm=True))
    assert torch.equal(a.dnn[0].weight, b.dnn[0].weight) and torch.equal(a.classifier.weight, b.classifier.weight)


def test_per_domain_batch_norm_reaches_the_dnn(rng):
    net = TLMLDANet(20, 3, (16, 12, 8), (10, 6), dropout=0.0, dnn_batchnorm=True).train()
    twin = TLMLDANet(20, 3, (16, 12, 8), (10, 6), dropout=0.0, dnn_batchnorm=True).train()
    twin.load_state_dict(net.state_dict())
    xs, xt = torch.rand(5, 20), torch.rand(7, 20) + 1.0
    _, joint, _ = net(torch.cat([xs, xt]), n_first=5)
    _, fs, _ = twin(xs)
    _, ft, _ = twin(xt)
    assert torch.allclose(joint, torch.cat([fs, ft]), atol=1e-6)


def test_the_authors_code_preset_trains(rng):
    trainer = _trainer(rng, **AUTHORS)
    trainer.run()
    assert len(trainer.history) == 2 and all(np.isfinite(r["loss_total"]) for r in trainer.history)
    assert trainer.history[0]["loss_L_S"] < 1.0  # a mean, not a sum over features
