"""Adversarial losses by name, and the VGG19 perceptual loss.

``GAN_LOSSES`` holds the three objectives in common use, each on raw discriminator logits:

- ``"vanilla"``: the original cross-entropy objective (pix2pix's ``gan_mode='vanilla'``), with the
  non-saturating generator loss ``-log D(G(x))``;
- ``"lsgan"``: least squares towards 1 for real and 0 for fake (Mao et al. 2017; pix2pix's and
  pix2pixHD's default in their code);
- ``"hinge"``: ``relu(1 - D(x))`` and ``relu(1 + D(G(x)))`` for the discriminator, ``-D(G(x))`` for the
  generator (Lim and Ye 2017; SAGAN, SPADE).

Logits can be one tensor or a list of them (one per scale of a multi-scale discriminator); the loss over a
list is the sum over scales, as pix2pixHD sums them.

:class:`VGGPerceptualLoss` is pix2pixHD's "VGG feature matching" loss: L1 distances between VGG19
activations at relu1_1 ... relu5_1, weighted 1/32, 1/16, 1/8, 1/4, 1. It needs ImageNet weights from a
file the user gives (torchvision's ``vgg19`` state dict); there is no fallback to random weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_choice, lookup
from ..errors import ToolkitError
from .backbones import FeatureStack, imagenet_normalize, load_backbone

Logits = torch.Tensor | Sequence[torch.Tensor]
_PerTensor = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GANLoss:
    """An adversarial objective: per-tensor losses for real and fake logits (discriminator) and for fake
    logits (generator). Build one with :func:`gan_loss`."""

    name: str
    real: _PerTensor
    fake: _PerTensor
    generated: _PerTensor

    def discriminator(self, real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
        """The discriminator's loss: half the sum of its real and fake terms (pix2pix halves it so that D
        learns more slowly relative to G), summed over scales."""
        return 0.5 * (_over_scales(self.real, real_logits) + _over_scales(self.fake, fake_logits))

    def generator(self, fake_logits: Logits) -> torch.Tensor:
        """The generator's adversarial loss on the discriminator's logits for its output, summed over
        scales."""
        return _over_scales(self.generated, fake_logits)


def _bce(target: float) -> _PerTensor:
    return lambda logits: F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _mse(target: float) -> _PerTensor:
    return lambda logits: F.mse_loss(logits, torch.full_like(logits, target))


GAN_LOSSES: dict[str, GANLoss] = {
    "vanilla": GANLoss("vanilla", real=_bce(1.0), fake=_bce(0.0), generated=_bce(1.0)),
    "lsgan": GANLoss("lsgan", real=_mse(1.0), fake=_mse(0.0), generated=_mse(1.0)),
    "hinge": GANLoss(
        "hinge",
        real=lambda logits: F.relu(1.0 - logits).mean(),
        fake=lambda logits: F.relu(1.0 + logits).mean(),
        generated=lambda logits: -logits.mean(),
    ),
}


def gan_loss(name: str) -> GANLoss:
    """The objective registered as ``name`` in ``GAN_LOSSES``."""
    return lookup(GAN_LOSSES, name, "GAN loss")


def _over_scales(loss: _PerTensor, logits: Logits) -> torch.Tensor:
    if isinstance(logits, torch.Tensor):
        return loss(logits)
    if not logits:
        raise ValueError("got an empty list of discriminator outputs")
    return torch.stack([loss(scale) for scale in logits]).sum()


# ---- perceptual loss ----------------------------------------------------------------------------------

PIX2PIXHD_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PIX2PIXHD_WEIGHTS: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


# What a GAN baseline's image reconstruction term compares: VGG19 features, or pixels.
RECONSTRUCTIONS = ("vgg", "l1")


def reconstruction_loss(requested: str | None, vgg19_weights: str | Path | None) -> str:
    """The reconstruction loss a baseline trains with: ``requested`` (``"vgg"`` or ``"l1"``), or for None
    ``"vgg"`` when ``vgg19_weights`` names ImageNet weights and ``"l1"`` when it does not.

    Raises:
        ValueError: ``requested`` is another name.
    """
    if requested is None:
        return "l1" if vgg19_weights is None else "vgg"
    return check_choice(requested, RECONSTRUCTIONS, "reconstruction")


class PerceptualWeightsError(ToolkitError, ValueError):
    """The perceptual loss was asked for without the VGG19 weights it needs."""


class VGGPerceptualLoss(nn.Module):
    """Weighted L1 distance between frozen VGG19 activations of two images.

    Args:
        backbone: A frozen :class:`~toolkit.nn.backbones.FeatureStack` returning the chosen layers.
        weights: One weight per layer of ``backbone``. Default pix2pixHD's.

    Build it with :meth:`from_file` from the user's weights.
    """

    def __init__(self, backbone: FeatureStack, weights: Sequence[float] = PIX2PIXHD_WEIGHTS) -> None:
        super().__init__()
        if len(weights) != len(backbone.layers):
            raise ValueError(
                f"got {len(weights)} weights for the {len(backbone.layers)} layers {backbone.layers}"
            )
        self.backbone = backbone.eval().requires_grad_(False)
        self.weights = tuple(float(w) for w in weights)

    @classmethod
    def from_file(
        cls,
        path: str | Path | None,
        layers: Sequence[str] = PIX2PIXHD_LAYERS,
        weights: Sequence[float] = PIX2PIXHD_WEIGHTS,
        *,
        device: str | torch.device = "cpu",
    ) -> VGGPerceptualLoss:
        """The loss on VGG19 weights read from ``path``: torchvision's ``vgg19`` state dict saved with
        ``torch.save`` (see ``toolkit.nn.backbones.load_backbone``).

        Raises:
            PerceptualWeightsError: ``path`` is None.
            BackboneWeightsError: the file is missing, unreadable or not VGG19.
        """
        if path is None:
            raise PerceptualWeightsError(
                "the VGG19 perceptual loss needs ImageNet weights: pass a file holding torchvision's vgg19 "
                "state dict (torch.save(torchvision.models.vgg19(weights='IMAGENET1K_V1').state_dict(), "
                "'vgg19.pth')), or turn the loss off (--no-perceptual)"
            )
        return cls(load_backbone("vgg19", path, layers, device=device), weights)

    def forward(self, generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between ``(B, 3, H, W)`` images in [-1, 1]; gradients flow into ``generated`` only."""
        both = imagenet_normalize((torch.cat([generated, target]) + 1) / 2)
        loss = generated.new_zeros(())
        for weight, features in zip(self.weights, self.backbone(both), strict=True):
            mine, theirs = features.chunk(2)
            loss = loss + weight * F.l1_loss(mine, theirs.detach())
        return loss
