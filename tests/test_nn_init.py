"""pix2pix's weight initialisation and the norm registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit.nn.init import init_weights
from toolkit.nn.norm import NORM_LAYERS, conv_bias, norm_layer
from toolkit.nn.unet import UNetGenerator


def test_init_draws_conv_weights_from_n0_002_and_batch_norm_scales_from_n1_002() -> None:
    torch.manual_seed(0)
    net = init_weights(UNetGenerator(3, 3, depth=6, base_channels=32, norm="batch"))
    convs = torch.cat(
        [m.weight.flatten() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    )
    scales = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    shifts = torch.cat([m.bias.flatten() for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    assert convs.numel() > 100_000
    assert abs(convs.mean().item()) < 1e-3 and convs.std().item() == pytest.approx(0.02, rel=0.01)
    assert scales.mean().item() == pytest.approx(1.0, abs=0.005)
    assert scales.std().item() == pytest.approx(0.02, rel=0.2)
    assert torch.all(shifts == 0)
    assert all(
        torch.all(m.bias == 0)
        for m in net.modules()
        if isinstance(m, nn.ConvTranspose2d) and m.bias is not None
    )


def test_init_with_a_generator_is_reproducible_and_leaves_other_layers_alone() -> None:
    a = init_weights(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2)), generator=torch.Generator().manual_seed(5)
    )
    b = init_weights(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2)), generator=torch.Generator().manual_seed(5)
    )
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert a[1].weight.std().item() < 0.05
    prelu = nn.PReLU()
    init_weights(prelu)
    assert prelu.weight.item() == pytest.approx(0.25)  # torch's default, untouched


def test_norm_registry() -> None:
    assert set(NORM_LAYERS) == {"batch", "instance", "none"}
    assert isinstance(norm_layer("batch")(8), nn.BatchNorm2d)
    instance = norm_layer("instance")(8)
    assert isinstance(instance, nn.InstanceNorm2d) and not instance.affine
    assert isinstance(norm_layer("none")(8), nn.Identity)
    assert conv_bias("batch") is False and conv_bias("instance") is True and conv_bias("none") is True
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        conv_bias("group")
