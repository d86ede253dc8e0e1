"""pix2pixHD's parts (Wang et al., "High-resolution image synthesis and semantic manipulation with
conditional GANs", CVPR 2018): the global generator, and the multi-scale discriminator's intermediate
features with the feature-matching loss.

- :class:`GlobalGenerator`: the ResNet generator of :mod:`toolkit.nn.resnet` (a 7x7 convolution,
  ``downsamplings`` stride-2 3x3 convolutions, ``blocks`` residual blocks, as many transposed convolutions
  back up, and a 7x7 convolution with tanh), with pix2pixHD's ``G1`` settings: 4 downsamplings, 9 blocks,
  instance norm.
- :class:`FeatureDiscriminator`: a :class:`~toolkit.nn.discriminators.MultiScaleDiscriminator` that also
  returns every layer's activations (pix2pixHD's ``getIntermFeat``), read off its PatchGANs' layer stacks.
- :func:`feature_matching_loss`: pix2pixHD's ``L_FM``, the L1 distance between the discriminator's
  activations on real and generated inputs, weighted ``4 / (n_layers + 1)`` per layer and ``1 / num_D``
  per scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_count
from .discriminators import MultiScaleDiscriminator
from .resnet import ResnetBlock, resnet_decoder, resnet_encoder

Features = list[list[torch.Tensor]]


class GlobalGenerator(nn.Module):
    """pix2pixHD's global generator: ``(B, in_channels, H, W)`` -> ``(B, out_channels, H, W)`` in [-1, 1].

    H and W must be multiples of ``2**downsamplings``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels. Default 3.
        base_channels: Channels after the first convolution (``ngf``), doubled at each downsampling.
            Default 64.
        downsamplings: Stride-2 convolutions (and transposed convolutions back). Default 4.
        blocks: Residual blocks at the bottleneck. Default 9.
        norm: Norm name. Default ``"instance"``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 3,
        base_channels: int = 64,
        downsamplings: int = 4,
        blocks: int = 9,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        check_count("base_channels", base_channels)
        check_count("downsamplings", downsamplings)
        self.downsamplings = downsamplings
        width = base_channels * 2**downsamplings
        self.model = nn.Sequential(
            resnet_encoder(in_channels, base_channels, downsamplings, norm),
            *(ResnetBlock(width, norm) for _ in range(blocks)),
            resnet_decoder(base_channels, out_channels, downsamplings, norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, out_channels, H, W)``."""
        factor = 2**self.downsamplings
        if x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f"input sides must be multiples of {factor}, got {tuple(x.shape[-2:])}")
        return self.model(x)


class FeatureDiscriminator(MultiScaleDiscriminator):
    """A multi-scale PatchGAN that returns, per scale, the activations after each of its LeakyReLUs and
    then its logits: what pix2pixHD's feature-matching loss compares.

    Takes the arguments of :class:`~toolkit.nn.discriminators.MultiScaleDiscriminator` (default norm
    ``"instance"``).
    """

    def forward(self, x: torch.Tensor) -> Features:  # type: ignore[override]
        """``(B, C, H, W)`` -> per scale (finest first), ``[activation_1, ..., activation_n, logits]``."""
        outputs = []
        for k, discriminator in enumerate(self.scales):
            if k:
                x = self.downsample(x)
            features, h = [], x
            for layer in discriminator.model:
                h = layer(h)
                if isinstance(layer, nn.LeakyReLU):
                    features.append(h)
            outputs.append([*features, h])
        return outputs


def logits(features: Features) -> list[torch.Tensor]:
    """The logits of each scale of a :class:`FeatureDiscriminator` output, for ``toolkit.nn.losses``."""
    return [scale[-1] for scale in features]


def feature_matching_loss(fake: Features, real: Features) -> torch.Tensor:
    """pix2pixHD's feature-matching loss between a :class:`FeatureDiscriminator`'s outputs on generated
    and on real inputs: ``sum over scales and layers of 4 / (n_layers + 1) / num_D * L1``, the logits left
    out; the real activations are treated as constants."""
    if len(fake) != len(real) or not fake:
        raise ValueError(f"got {len(fake)} generated and {len(real)} real scales; they must match")
    # Each scale holds n_layers + 1 activations and then its logits.
    layer_weight, scale_weight = 4.0 / (len(fake[0]) - 1), 1.0 / len(fake)
    loss = fake[0][0].new_zeros(())
    for fake_scale, real_scale in zip(fake, real, strict=True):
        for mine, theirs in zip(fake_scale[:-1], real_scale[:-1], strict=True):
            loss = loss + scale_weight * layer_weight * F.l1_loss(mine, theirs.detach())
    return loss
