import pytest
import torch
from torch import nn

from sercross.methods.network import Dropout, InputLinear, TLMLDANet


def test_shapes_and_layers_follow_the_paper():
    net = TLMLDANet(1582, 5)
    x = torch.rand(7, 1582)
    recon, feats, logits = net(x)
    assert recon.shape == (7, 1582) and feats.shape == (7, 256) and logits.shape == (7, 5)
    linear = [m for m in net.encoder.modules() if isinstance(m, (nn.Linear, InputLinear))]
    assert [(m.in_features, m.out_features) for m in linear] == [(1582, 1200), (1200, 900), (900, 500)]
    assert [m.out_features for m in net.decoder.modules() if isinstance(m, nn.Linear)] == [900, 1200, 1582]
    assert [m.out_features for m in net.dnn.modules() if isinstance(m, nn.Linear)] == [600, 256]
    assert sum(isinstance(m, nn.ELU) for m in net.encoder.modules()) == 3
    assert sum(isinstance(m, nn.Sigmoid) for m in net.decoder.modules()) == 3
    assert sum(isinstance(m, nn.BatchNorm1d) for m in net.modules()) == 6
    assert sum(isinstance(m, Dropout) for m in net.modules()) == 5


def test_reconstruction_is_in_unit_interval_and_optional():
    net = TLMLDANet(40, 3, (30, 20, 10), (12, 8)).eval()
    with torch.no_grad():
        recon, feats, _ = net(torch.randn(4, 40) * 5)
    assert float(recon.min()) >= 0.0 and float(recon.max()) <= 1.0
    assert float(feats.min()) >= 0.0 and float(feats.max()) <= 1.0
    assert net(torch.rand(4, 40), reconstruct=False)[0] is None


def test_joint_pass_with_per_domain_batch_norm_equals_two_separate_passes():
    torch.manual_seed(0)
    net = TLMLDANet(40, 3, (30, 20, 10), (12, 8), dropout=0.0).train()
    twin = TLMLDANet(40, 3, (30, 20, 10), (12, 8), dropout=0.0).train()
    twin.load_state_dict(net.state_dict())
    xs, xt = torch.rand(6, 40), torch.rand(5, 40) + 0.5
    rec, feats, logits = net(torch.cat([xs, xt]), n_first=6)
    rec_s, fs, ls = twin(xs)
    rec_t, ft, lt = twin(xt)
    torch.testing.assert_close(rec, torch.cat([rec_s, rec_t]))
    torch.testing.assert_close(feats, torch.cat([fs, ft]))
    torch.testing.assert_close(logits, torch.cat([ls, lt]))
    for (name, a), (_, b) in zip(net.state_dict().items(), twin.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)  # running statistics updated source first, then target
    (rec.sum() + logits.sum()).backward()
    (rec_s.sum() + rec_t.sum() + ls.sum() + lt.sum()).backward()
    for a, b in zip(net.parameters(), twin.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-4)  # summation order differs


def test_fast_dropout_masks_are_seeded_bernoulli_with_inverted_scaling():
    import numpy as np

    drop = Dropout(0.3).train()
    x = torch.ones(400, 500)
    drop.rng = np.random.default_rng(1)
    a = drop(x)
    values = torch.unique(a).tolist()
    assert values[0] == 0.0 and values[1:] == [pytest.approx(65536 / (65536 - round(0.3 * 65536)))]
    assert abs(float((a == 0).float().mean()) - 0.3) < 0.01
    assert abs(float(a.mean()) - 1.0) < 0.02  # expectation preserved
    drop.rng = np.random.default_rng(1)
    assert torch.equal(drop(x), a)  # same seed, same masks
    drop.rng = None
    assert abs(float((drop(x) == 0).float().mean()) - 0.3) < 0.01  # torch's own dropout without a generator
    assert torch.equal(drop.eval()(x), x)


def test_fast_dropout_with_p_one_drops_everything_like_torch():
    import numpy as np

    drop = Dropout(1.0).train()
    drop.rng = np.random.default_rng(0)
    x = torch.ones(3, 4)
    assert torch.equal(drop(x), torch.nn.functional.dropout(x, 1.0, training=True))


def test_input_layer_is_nn_linear_with_a_transposed_weight_and_loads_old_state_dicts():
    torch.manual_seed(3)
    ref = nn.Linear(7, 4)
    torch.manual_seed(3)
    layer = InputLinear(7, 4)
    assert torch.equal(layer.weight_t, ref.weight.t()) and torch.equal(layer.bias, ref.bias)  # same init draws
    x = torch.rand(5, 7)
    torch.testing.assert_close(layer(x), ref(x))
    x.requires_grad_(False)
    layer(x).sum().backward()
    ref(x).sum().backward()
    torch.testing.assert_close(layer.weight_t.grad, ref.weight.grad.t())
    # a network saved when the first layer was an nn.Linear (key "weight", shape (out, in)) still loads
    net = TLMLDANet(12, 3, (10, 8, 6), (7, 5))
    old = dict(net.state_dict())
    old["encoder.0.0.weight"] = old.pop("encoder.0.0.weight_t").t().contiguous() + 1.0
    twin = TLMLDANet(12, 3, (10, 8, 6), (7, 5))
    twin.load_state_dict(old)
    torch.testing.assert_close(twin.encoder[0][0].weight_t, net.encoder[0][0].weight_t + 1.0)


def _first_bn_output(net: TLMLDANet, x: torch.Tensor, n_first: int | None) -> torch.Tensor:
    seen = []
    bn = net.encoder[0][1]
    hook = bn.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    net(x, n_first=n_first)
    hook.remove()
    return torch.cat(seen)  # per-domain: the source call, then the target call


@pytest.mark.parametrize("joint", [True, False])
def test_joint_batch_norm_uses_one_set_of_statistics_over_the_stacked_batch(joint):
    torch.manual_seed(0)
    net = TLMLDANet(40, 3, (30, 20, 10), (12, 8), dropout=0.0).train()
    xs, xt = torch.rand(6, 40), torch.rand(5, 40) + 2.0  # the target far from the source
    x = torch.cat([xs, xt])
    with torch.no_grad():
        pre = net.encoder[0][0](x)  # what the first batch-norm normalises
    out = _first_bn_output(net, x, None if joint else 6)
    bn = net.encoder[0][1]
    if joint:
        # one mean over all 11 rows: the whole batch is centred, each domain is not
        assert out.mean(0).abs().max() < 1e-5
        assert out[:6].mean(0).abs().max() > 0.1 and out[6:].mean(0).abs().max() > 0.1
        torch.testing.assert_close(bn.running_mean, 0.1 * pre.mean(0))
    else:
        assert out[:6].mean(0).abs().max() < 1e-5 and out[6:].mean(0).abs().max() < 1e-5
        torch.testing.assert_close(bn.running_mean, 0.9 * 0.1 * pre[:6].mean(0) + 0.1 * pre[6:].mean(0))


@pytest.mark.parametrize("coeff", [0.5, 2.0])
def test_gradient_reversal_is_identity_forward_and_multiplies_the_gradient_by_minus_coeff(coeff):
    from sercross.methods.network import DomainDiscriminator, _GradientReversal

    x = torch.randn(4, 3, requires_grad=True)
    y = _GradientReversal.apply(x, coeff)
    assert torch.equal(y, x)
    g = torch.randn(4, 3)
    y.backward(g)
    torch.testing.assert_close(x.grad, -coeff * g)
    # through the discriminator: the features get minus coeff times the gradient its loss would give them
    torch.manual_seed(1)
    disc = DomainDiscriminator(3, hidden=5)
    assert disc.net[0].out_features == 5
    f = torch.randn(4, 3, requires_grad=True)
    disc(f, coeff).sum().backward()
    reversed_grad = f.grad.clone()
    f.grad = None
    disc.net(f).squeeze(1).sum().backward()
    torch.testing.assert_close(reversed_grad, -coeff * f.grad)
