"""Parts of Johnson et al.'s ResNet generator ("Perceptual losses for real-time style transfer", 2016), as
pix2pix's and CycleGAN's code builds it and as PATN (Zhu et al. 2019) reuses it:

- :func:`resnet_encoder`: a reflection-padded 7x7 convolution to ``base_channels``, then stride-2 3x3
  convolutions that halve the resolution and double the channels;
- :func:`conv_branch`: two reflection-padded 3x3 convolutions with norm, ReLU and optional dropout
  between them, the body of :class:`ResnetBlock` (and of PATN's attention blocks);
- :class:`ResnetBlock`: ``x + conv_branch(x)``;
- :func:`resnet_decoder`: stride-2 transposed convolutions back up, then a 7x7 convolution and tanh.

Convolutions before a batch norm have no bias (``toolkit.nn.norm.conv_bias``).
"""

from __future__ import annotations

import torch
from torch import nn

from .norm import conv_bias, norm_layer


def resnet_encoder(
    in_channels: int, base_channels: int = 64, downsamplings: int = 2, norm: str = "batch"
) -> nn.Sequential:
    """``(B, in_channels, H, W)`` -> ``(B, base_channels * 2**downsamplings, H / 2**d, W / 2**d)``.

    Args:
        in_channels: Input channels.
        base_channels: Channels after the 7x7 convolution (``ngf``). Default 64.
        downsamplings: Stride-2 convolutions. Default 2.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
    """
    make_norm, bias = norm_layer(norm), conv_bias(norm)
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(3),
        nn.Conv2d(in_channels, base_channels, 7, bias=bias),
        make_norm(base_channels),
        nn.ReLU(True),
    ]
    for n in range(downsamplings):
        width = base_channels * 2**n
        layers += [nn.Conv2d(width, 2 * width, 3, 2, 1, bias=bias), make_norm(2 * width), nn.ReLU(True)]
    return nn.Sequential(*layers)


def conv_branch(
    in_channels: int, out_channels: int, norm: str = "batch", dropout: float = 0.0, *, last_norm: bool = True
) -> nn.Sequential:
    """Two reflection-padded 3x3 convolutions: ``in -> in`` (norm, ReLU, dropout) then ``in -> out`` (norm
    unless ``last_norm`` is False). Spatial size is kept.

    Args:
        in_channels: Input (and hidden) channels.
        out_channels: Output channels.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
        dropout: Dropout probability after the first ReLU; 0 (default) adds none.
        last_norm: Normalise the output. Default True.
    """
    make_norm, bias = norm_layer(norm), conv_bias(norm)
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(1),
        nn.Conv2d(in_channels, in_channels, 3, bias=bias),
        make_norm(in_channels),
        nn.ReLU(True),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers += [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3, bias=bias)]
    if last_norm:
        layers.append(make_norm(out_channels))
    return nn.Sequential(*layers)


class ResnetBlock(nn.Module):
    """``x + conv_branch(x)`` on ``(B, channels, H, W)``.

    Args:
        channels: Input and output channels.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
        dropout: Dropout probability inside the branch. Default 0.
    """

    def __init__(self, channels: int, norm: str = "batch", dropout: float = 0.0) -> None:
        super().__init__()
        self.branch = conv_branch(channels, channels, norm, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


def resnet_decoder(
    base_channels: int = 64, out_channels: int = 3, upsamplings: int = 2, norm: str = "batch"
) -> nn.Sequential:
    """``(B, base_channels * 2**u, h, w)`` -> ``(B, out_channels, h * 2**u, w * 2**u)`` in [-1, 1]: the
    mirror of :func:`resnet_encoder`, ending in a 7x7 convolution (with bias) and tanh.

    Args:
        base_channels: Channels before the 7x7 convolution (``ngf``). Default 64.
        out_channels: Output channels. Default 3.
        upsamplings: Stride-2 transposed convolutions. Default 2.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
    """
    make_norm, bias = norm_layer(norm), conv_bias(norm)
    layers: list[nn.Module] = []
    for n in range(upsamplings, 0, -1):
        width = base_channels * 2**n
        layers += [
            nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1, bias=bias),
            make_norm(width // 2),
            nn.ReLU(True),
        ]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(base_channels, out_channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)
