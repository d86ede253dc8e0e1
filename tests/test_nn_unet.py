"""pix2pix's U-Net: shapes at each named depth, skip connections, dropout placement, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit.nn.unet import UNET_DEPTHS, UNetGenerator, unet_generator


@pytest.mark.parametrize(("name", "size"), [("unet_64", 64), ("unet_128", 128), ("unet_256", 256)])
def test_each_named_depth_maps_its_size_to_itself_through_a_1x1_bottleneck(name: str, size: int) -> None:
    net = unet_generator(name, in_channels=18, out_channels=3, base_channels=2).eval()
    bottleneck = []
    net.down[-1].register_forward_hook(lambda module, args, out: bottleneck.append(out.shape))
    with torch.no_grad():
        out = net(torch.randn(2, 18, size, size))
    assert out.shape == (2, 3, size, size)
    assert bottleneck == [(2, 16, 1, 1)]  # 8 * base_channels channels at 1x1
    assert out.abs().max() <= 1.0  # tanh output
    assert net.depth == UNET_DEPTHS[name]


def test_channel_widths_follow_pix2pix() -> None:
    net = UNetGenerator(3, 3, depth=8, base_channels=64)
    widths = [next(m for m in block.modules() if isinstance(m, nn.Conv2d)).out_channels for block in net.down]
    assert widths == [64, 128, 256, 512, 512, 512, 512, 512]
    # pix2pix prints "Total number of parameters : 54.414 M" for its unet_256 with batch norm.
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 3) == 54.414


@pytest.mark.parametrize(("depth", "dropouts"), [(5, 0), (6, 1), (7, 2), (8, 3)])
def test_dropout_sits_in_the_innermost_decoder_blocks_below_the_bottleneck(depth: int, dropouts: int) -> None:
    net = UNetGenerator(3, 3, depth=depth, base_channels=2)
    levels = [i for i, block in enumerate(net.up) if any(isinstance(m, nn.Dropout) for m in block.modules())]
    assert levels == list(range(4, 4 + dropouts))
    assert not any(isinstance(m, nn.Dropout) for m in UNetGenerator(3, depth=depth, dropout=0.0).modules())


def test_innermost_encoder_level_has_no_norm_and_batch_norm_convs_have_no_bias() -> None:
    net = UNetGenerator(3, 3, depth=6, base_channels=2, norm="batch")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.down[-1].modules())
    assert all(isinstance(m, nn.BatchNorm2d) is False for m in net.down[0].modules())
    assert net.down[1][1].bias is None
    assert UNetGenerator(3, 3, depth=6, base_channels=2, norm="instance").down[1][1].bias is not None


def test_skip_connections_carry_fine_detail() -> None:
    """Without the skips no gradient could reach the output from the input at full resolution; with them the
    outermost decoder level sees the first encoder level directly."""
    net = UNetGenerator(3, 3, depth=5, base_channels=4, norm="none", dropout=0.0)
    assert net.up[0][1].in_channels == 2 * 4  # skip (4) + decoder (4)
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    net(x)[0, :, 0, 0].sum().backward()
    # The top-left output pixel depends on a small neighbourhood only through the skip at level 0 too.
    assert x.grad[0, :, :2, :2].abs().sum() > 0


def test_bad_sizes_and_names_are_one_line_errors() -> None:
    net = UNetGenerator(3, 3, depth=6, base_channels=2)
    with pytest.raises(ValueError, match="multiples of 64"):
        net(torch.zeros(1, 3, 96, 80))
    with pytest.raises(ValueError, match="unknown U-Net 'unet_512'"):
        unet_generator("unet_512", 3)
    with pytest.raises(ValueError, match="unknown norm"):
        UNetGenerator(3, norm="group")
    with pytest.raises(ValueError, match="depth"):
        UNetGenerator(3, depth=1)
