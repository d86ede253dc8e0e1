"""Conditional discriminators: pix2pix's PatchGAN and pix2pixHD's multi-scale stack of them.

- :class:`PatchDiscriminator` (Isola et al. 2017, appendix 6.1.2): ``n_layers`` 4x4 stride-2 convolutions
  (64, 128, 256 ... channels, capped at 8x), one more at stride 1, and a 1-channel stride-1 output. Each
  output logit judges one patch of the input; with ``n_layers=3`` the patch is 70x70 pixels (the paper's
  "70x70 PatchGAN"), which :func:`receptive_field` computes from the layers.
- :class:`MultiScaleDiscriminator` (Wang et al. 2018, pix2pixHD section 3.2): ``num_scales`` PatchGANs with
  the same architecture, the k-th seeing the input average-pooled k times, so the coarsest one judges
  global structure with the same patch size.

The discriminators output raw logits; ``toolkit.nn.losses`` turns them into losses.
"""

from __future__ import annotations

import torch
from torch import nn

from .norm import conv_bias, norm_layer


class PatchDiscriminator(nn.Module):
    """pix2pix's PatchGAN: ``(B, C, H, W)`` -> ``(B, 1, H', W')`` logits, one per overlapping patch.

    For a conditional GAN, C is the condition's channels plus the image's (the two are concatenated).

    Args:
        in_channels: Input channels C.
        base_channels: Channels of the first convolution (``ndf``). Default 64.
        n_layers: Stride-2 convolutions. Default 3 (70x70 patches).
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
    """

    def __init__(
        self, in_channels: int, base_channels: int = 64, n_layers: int = 3, norm: str = "batch"
    ) -> None:
        super().__init__()
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be an integer >= 1, got {n_layers!r}")
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        widths = [base_channels * min(2**n, 8) for n in range(n_layers + 1)]
        # The first convolution has no norm, as in pix2pix.
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for n in range(1, n_layers + 1):
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(widths[n - 1], widths[n], 4, stride, 1, bias=bias),
                make_norm(widths[n]),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, 1, H', W')`` logits (H' = H / 2**n_layers - 2 for n_layers >= 1)."""
        return self.model(x)


class MultiScaleDiscriminator(nn.Module):
    """pix2pixHD's discriminator: PatchGANs on the input at 1, 1/2, 1/4 ... of its resolution.

    Args:
        in_channels: Input channels C.
        num_scales: Number of PatchGANs. Default 2 (pix2pixHD's ``num_D``).
        base_channels: ``ndf`` of each. Default 64.
        n_layers: Stride-2 convolutions of each. Default 3.
        norm: Norm name. Default ``"instance"``, pix2pixHD's.
    """

    def __init__(
        self,
        in_channels: int,
        num_scales: int = 2,
        base_channels: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        if isinstance(num_scales, bool) or not isinstance(num_scales, int) or num_scales < 1:
            raise ValueError(f"num_scales must be an integer >= 1, got {num_scales!r}")
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, base_channels, n_layers, norm) for _ in range(num_scales)
        )
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, C, H, W)`` -> one logit map per scale, finest first."""
        outputs = []
        for k, discriminator in enumerate(self.scales):
            if k:
                x = self.downsample(x)
            outputs.append(discriminator(x))
        return outputs


def receptive_field(module: nn.Module) -> int:
    """Side in pixels of the input patch that one output of a chain of convolutions and pools sees.

    Walks the ``Conv2d`` / ``AvgPool2d`` / ``MaxPool2d`` layers in registration order (which is their order
    of application in a plain stack such as :class:`PatchDiscriminator`) with ``r <- r + (k - 1) * j``,
    ``j <- j * s``, where j is the product of the strides so far. Square kernels are assumed.
    """
    field, jump = 1, 1
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.AvgPool2d, nn.MaxPool2d)):
            kernel, stride = _side(layer.kernel_size), _side(layer.stride)
            field += (kernel - 1) * jump
            jump *= stride
    return field


def _side(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]
