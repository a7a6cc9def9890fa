import torch
from torch import nn

from sercross.model import TLMLDANet


def test_shapes_and_layers_follow_the_paper():
    net = TLMLDANet(1582, 5)
    x = torch.rand(7, 1582)
    recon, feats, logits = net(x)
    assert recon.shape == (7, 1582) and feats.shape == (7, 256) and logits.shape == (7, 5)
    linear = [m for m in net.encoder.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linear] == [1200, 900, 500]
    assert [m.out_features for m in net.decoder.modules() if isinstance(m, nn.Linear)] == [900, 1200, 1582]
    assert [m.out_features for m in net.dnn.modules() if isinstance(m, nn.Linear)] == [600, 256]
    assert sum(isinstance(m, nn.ELU) for m in net.encoder.modules()) == 3
    assert sum(isinstance(m, nn.Sigmoid) for m in net.decoder.modules()) == 3
    assert sum(isinstance(m, nn.BatchNorm1d) for m in net.modules()) == 6
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 5


def test_reconstruction_is_in_unit_interval_and_optional():
    net = TLMLDANet(40, 3, (30, 20, 10), (12, 8)).eval()
    with torch.no_grad():
        recon, feats, _ = net(torch.randn(4, 40) * 5)
    assert float(recon.min()) >= 0.0 and float(recon.max()) <= 1.0
    assert float(feats.min()) >= 0.0 and float(feats.max()) <= 1.0
    assert net(torch.rand(4, 40), reconstruct=False)[0] is None
