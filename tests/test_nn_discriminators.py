"""PatchGAN and the multi-scale discriminator: the 70x70 receptive field, output shapes, norms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit.nn.discriminators import MultiScaleDiscriminator, PatchDiscriminator, receptive_field


def _measured_field(net: nn.Module, size: int = 128) -> int:
    """Side of the input region whose pixels change the centre output logit (gradient support)."""
    net = net.eval()
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.constant_(module.weight, 0.01)  # no weight can be zero, so the support is exact
    x = torch.randn(1, 3, size, size, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0].abs().sum(0).sum(1))
    return int(rows.max() - rows.min() + 1)


def test_patchgan_with_three_layers_sees_70x70_patches() -> None:
    net = PatchDiscriminator(3, base_channels=4, n_layers=3, norm="none")
    assert receptive_field(net) == 70
    assert _measured_field(net) == 70


@pytest.mark.parametrize(("n_layers", "field"), [(1, 16), (2, 34), (3, 70), (4, 142)])
def test_receptive_field_grows_as_pix2pix_documents(n_layers: int, field: int) -> None:
    # pix2pix: n_layers=1 is a 16x16 PatchGAN, 3 the 70x70, 4 the 142x142 (its "286" needs 5 + 1 extra).
    assert receptive_field(PatchDiscriminator(3, n_layers=n_layers)) == field


def test_patchgan_shapes_and_channels() -> None:
    net = PatchDiscriminator(6, base_channels=8, n_layers=3)
    out = net(torch.randn(2, 6, 64, 64))
    assert out.shape == (2, 1, 6, 6)  # 64 / 8 - 2
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    # The first conv has no norm after it; batch-norm convs drop their bias.
    assert convs[0].bias is not None and convs[1].bias is None
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 3


def test_multiscale_discriminator_judges_the_input_at_halving_resolutions() -> None:
    net = MultiScaleDiscriminator(6, num_scales=3, base_channels=2)
    outputs = net(torch.randn(1, 6, 128, 128))
    assert [tuple(o.shape) for o in outputs] == [(1, 1, 14, 14), (1, 1, 6, 6), (1, 1, 2, 2)]
    assert all(isinstance(m, nn.InstanceNorm2d) for m in net.modules() if "Norm" in type(m).__name__)
    assert net.scales[0] is not net.scales[1]


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="n_layers"):
        PatchDiscriminator(3, n_layers=0)
    with pytest.raises(ValueError, match="num_scales"):
        MultiScaleDiscriminator(3, num_scales=0)
    with pytest.raises(ValueError, match="unknown norm"):
        PatchDiscriminator(3, norm="layer")
