"""pix2pix's U-Net generator (Isola et al. 2017, appendix 6.1.1), written as an explicit encoder and decoder.

With ``depth`` d and ``base_channels`` c (pix2pix's ``num_downs`` and ``ngf``), level i of the encoder halves
the resolution with a 4x4 stride-2 convolution to ``min(c * 2**i, 8c)`` channels; the decoder mirrors it
with transposed convolutions, each fed the previous decoder output concatenated with the encoder output
of the same resolution (the skip connections):

- encoder: level 0 is a bare convolution; levels 1..d-2 are LeakyReLU(0.2), conv, norm; the innermost
  level d-1 has no norm (its output is 1x1 at the paper's sizes);
- decoder: ReLU, transposed conv, norm, and dropout 0.5 in levels 4..d-2 (the d - 5 innermost 8c-channel
  blocks below the bottleneck, pix2pix's only source of noise); the outermost level ends in a tanh.

``UNET_DEPTHS`` names pix2pix's ``unet_128`` (7 downs) and ``unet_256`` (8 downs), and ``unet_64`` (6) for
64 px images: each brings its image size down to 1x1 at the bottleneck.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import lookup
from .norm import conv_bias, norm_layer

UNET_DEPTHS: dict[str, int] = {"unet_64": 6, "unet_128": 7, "unet_256": 8}

# Levels from this index up to the one below the bottleneck get dropout, as pix2pix's loop of
# ``num_downs - 5`` 8c -> 8c blocks does.
_FIRST_DROPOUT_LEVEL = 4


class UNetGenerator(nn.Module):
    """pix2pix's U-Net: ``(B, in_channels, H, W)`` -> ``(B, out_channels, H, W)`` in [-1, 1].

    Args:
        in_channels: Input channels (3 for an RGB skeleton or image, 18 for heatmaps).
        out_channels: Output channels. Default 3.
        depth: Number of downsamplings d, >= 2; H and W must be multiples of ``2**d``. Default 8.
        base_channels: Channels of the first level (``ngf``). Default 64.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
        dropout: Dropout probability in the innermost decoder levels; 0 turns it off. Default 0.5.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 3,
        depth: int = 8,
        base_channels: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
            raise ValueError(f"U-Net depth must be an integer >= 2, got {depth!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        widths = [base_channels * min(2**i, 8) for i in range(depth)]
        self.depth = depth

        down: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, 2, 1, bias=bias)]
        for i in range(1, depth):
            layers = [nn.LeakyReLU(0.2), nn.Conv2d(widths[i - 1], widths[i], 4, 2, 1, bias=bias)]
            if i < depth - 1:
                layers.append(make_norm(widths[i]))
            down.append(nn.Sequential(*layers))

        up: list[nn.Module] = [
            nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * widths[0], out_channels, 4, 2, 1), nn.Tanh())
        ]
        for i in range(1, depth):
            # The innermost level sees only the bottleneck; the others, a skip concatenated to it.
            width_in = widths[i] if i == depth - 1 else 2 * widths[i]
            layers = [
                nn.ReLU(),
                nn.ConvTranspose2d(width_in, widths[i - 1], 4, 2, 1, bias=bias),
                make_norm(widths[i - 1]),
            ]
            if dropout > 0 and _FIRST_DROPOUT_LEVEL <= i < depth - 1:
                layers.append(nn.Dropout(dropout))
            up.append(nn.Sequential(*layers))

        self.down = nn.ModuleList(down)
        self.up = nn.ModuleList(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W)`` -> ``(B, C_out, H, W)`` with a tanh output."""
        step = 2**self.depth
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(
                f"a U-Net of depth {self.depth} needs image sides that are multiples of {step}, got "
                f"{x.shape[-1]}x{x.shape[-2]}; resize the input or choose a smaller depth"
            )
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.up[-1](skips.pop())  # the bottleneck, back up one level
        for block in reversed(self.up[:-1]):
            x = block(torch.cat([skips.pop(), x], dim=1))
        return x


def unet_generator(name: str, in_channels: int, out_channels: int = 3, **options: object) -> UNetGenerator:
    """A :class:`UNetGenerator` of a named depth (``UNET_DEPTHS``: ``unet_64``, ``unet_128``,
    ``unet_256``); ``options`` are its other arguments (``base_channels``, ``norm``, ``dropout``)."""
    depth = lookup(UNET_DEPTHS, name, "U-Net")
    return UNetGenerator(in_channels, out_channels, depth, **options)  # type: ignore[arg-type]
