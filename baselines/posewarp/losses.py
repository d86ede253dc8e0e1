"""posewarp's reconstruction losses: L1, or its VGG19 loss with per-channel feature statistics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.nn.backbones import FeatureStack, imagenet_normalize, load_backbone
from toolkit.nn.losses import PerceptualWeightsError

from .model import PosewarpConfig

# (generated, target) -> scalar loss
Reconstruction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# posewarp's VGG loss compares the ReLU outputs of VGG19's first twelve convolutions (truncated_vgg.py).
VGG_LAYERS: tuple[str, ...] = (
    "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4",
    "relu4_1", "relu4_2", "relu4_3", "relu4_4",
)  # fmt: skip
# Added to every channel's standard deviation before dividing (posewarp's ``reg``).
VGG_STD_REGULARISER = 0.1
# Training frames whose activations give the per-channel statistics.
VGG_STATISTICS_FRAMES = 32


class PosewarpVGGLoss(nn.Module):
    """posewarp's perceptual loss: at each of VGG19's first twelve ReLUs, the mean absolute difference of
    the two images' activations, each channel divided by its standard deviation over the training images
    plus 0.1; averaged over the layers. Like posewarp's network, the VGG pools by averaging instead of
    taking the maximum (fewer grid artefacts in what it trains).

    Args:
        backbone: A frozen :class:`~toolkit.nn.backbones.FeatureStack` returning ``VGG_LAYERS``.
        stds: One ``(C_l,)`` tensor of channel standard deviations per layer.
    """

    def __init__(self, backbone: FeatureStack, stds: Sequence[torch.Tensor]) -> None:
        super().__init__()
        if len(stds) != len(backbone.layers):
            raise ValueError(f"got {len(stds)} statistics for the {len(backbone.layers)} layers")
        self.backbone = backbone.eval().requires_grad_(False)
        for k, std in enumerate(stds):
            self.register_buffer(f"scale{k}", 1.0 / (std + VGG_STD_REGULARISER))

    @staticmethod
    def average_pooled(backbone: FeatureStack) -> FeatureStack:
        """``backbone`` with its max-pools replaced by 2x2 average pools (in place); returns it."""
        for k, module in enumerate(backbone.features):
            if isinstance(module, nn.MaxPool2d):
                backbone.features[k] = nn.AvgPool2d(2, 2)
        return backbone

    @classmethod
    def fitted(cls, backbone: FeatureStack, images: torch.Tensor, batch: int = 8) -> PosewarpVGGLoss:
        """The loss with the channel statistics of ``images`` ``(N, 3, S, S)`` in [-1, 1] (posewarp's
        ``save_VGG_statistics``), each channel's deviation taken over the images and positions."""
        backbone = cls.average_pooled(backbone.eval().requires_grad_(False))
        sums: list[torch.Tensor] = []
        squares: list[torch.Tensor] = []
        count = 0
        with torch.no_grad():
            for k in range(0, len(images), batch):
                features = backbone(imagenet_normalize((images[k : k + batch] + 1) / 2))
                for index, feature in enumerate(features):
                    total, total2 = feature.sum((0, 2, 3)), (feature.double() ** 2).sum((0, 2, 3))
                    if index == len(sums):
                        sums.append(torch.zeros_like(total, dtype=torch.float64))
                        squares.append(torch.zeros_like(total, dtype=torch.float64))
                    sums[index] += total.double()
                    squares[index] += total2
                count += len(images[k : k + batch])
        positions = [count * f.shape[2] * f.shape[3] for f in features]
        stds = [
            ((q / n - (t / n) ** 2).clamp(min=0).sqrt()).float()
            for t, q, n in zip(sums, squares, positions, strict=True)
        ]
        return cls(backbone, stds)

    def forward(self, generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between ``(B, 3, H, W)`` images in [-1, 1]; gradients flow into ``generated`` only."""
        both = imagenet_normalize((torch.cat([generated, target]) + 1) / 2)
        loss = generated.new_zeros(())
        features = self.backbone(both)
        for k, feature in enumerate(features):
            mine, theirs = feature.chunk(2)
            scale = getattr(self, f"scale{k}")[:, None, None]
            loss = loss + ((mine - theirs.detach()) * scale).abs().mean()
        return loss / len(features)


def _l1_loss(config: PosewarpConfig, device: torch.device, images: torch.Tensor) -> Reconstruction:
    return F.l1_loss


def _vgg_loss(config: PosewarpConfig, device: torch.device, images: torch.Tensor) -> Reconstruction:
    if config.vgg19_weights is None:
        raise PerceptualWeightsError(
            "posewarp's VGG loss needs ImageNet weights: pass vgg19_weights, a file holding torchvision's "
            "vgg19 state dict, or use reconstruction='l1'"
        )
    backbone = load_backbone("vgg19", config.vgg19_weights, VGG_LAYERS, device=device)
    return PosewarpVGGLoss.fitted(backbone, images.to(device))


# Name -> builder of the loss for a config, on a device, from ``(N, 3, S, S)`` training images.
RECONSTRUCTION_LOSSES: dict[str, Callable[[PosewarpConfig, torch.device, torch.Tensor], Reconstruction]] = {
    "vgg": _vgg_loss,
    "l1": _l1_loss,
}
