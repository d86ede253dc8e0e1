"""PATN's settings and networks, top to bottom: the config and dataset presets, the pose-attentional
transfer block, the generator, the two ResNet discriminators and their builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from toolkit.checks import check_choice, check_count, lookup
from toolkit.nn.losses import GAN_LOSSES
from toolkit.nn.norm import NORM_LAYERS
from toolkit.nn.resnet import ResnetBlock, conv_branch, resnet_decoder, resnet_encoder
from toolkit.pose.skeleton import BODY_18

JOINTS = BODY_18.num_joints
DOWNSAMPLINGS = 2

# The original's training scripts (tengteng95/Pose-Transfer README): canvas, norm, GAN objective and the
# L1 / perceptual weights (lambda_A / lambda_B) of each dataset.
DATASET_PRESETS: dict[str, dict[str, Any]] = {
    "market": {
        "height": 128,
        "width": 64,
        "norm": "batch",
        "gan_loss": "vanilla",
        "l1_weight": 10.0,
        "perceptual_weight": 10.0,
    },
    "deepfashion": {
        "height": 256,
        "width": 176,
        "norm": "instance",
        "gan_loss": "lsgan",
        "l1_weight": 1.0,
        "perceptual_weight": 1.0,
    },
}

# PATN's perceptual loss: VGG19 features up to layer index 3, i.e. relu1_2, compared with L1.
PERCEPTUAL_LAYERS = ("relu1_2",)


@dataclass(frozen=True)
class PatnConfig:
    """PATN's settings, with the original's defaults: those of its Market-1501 script. The fields a
    dataset's script sets differently (:data:`DATASET_PRESETS`) come from :meth:`preset`, e.g.
    ``PatnConfig.preset("deepfashion")``; their defaults here are Market's.

    Args:
        height: Canvas height the networks work at; frames are letterboxed into ``width x height``. A
            multiple of 4. Default 128 (DeepFashion 256).
        width: Canvas width, a multiple of 4. Default 64 (DeepFashion 176).
        base_channels: Generator width ``ngf``. Default 64.
        blocks: Pose-Attentional Transfer Blocks. Default 9.
        disc_channels: Discriminator width ``ndf``. Default 64.
        disc_blocks: Residual blocks of each discriminator (the original's ``n_layers_D``). Default 3.
        norm: ``"batch"`` or ``"instance"`` (``toolkit.nn.norm.NORM_LAYERS``). Default ``"batch"``
            (DeepFashion ``"instance"``).
        dropout: Generator dropout in each block's branches (the original's ``use_dropout``, 0.5); 0 turns
            it off. Default 0.5.
        disc_dropout: Discriminator dropout in its residual blocks. Default 0.5.
        sigma: Heatmap Gaussian standard deviation in pixels. Default 6.
        gan_loss: A name in ``toolkit.nn.losses.GAN_LOSSES``. Default ``"vanilla"`` (DeepFashion
            ``"lsgan"``).
        gan_weight: Weight of the GAN terms (``lambda_GAN``). Default 5.
        l1_weight: Weight of the L1 term (``lambda_A``). Default 10 (DeepFashion 1).
        perceptual_weight: Weight of the relu1_2 perceptual L1 term (``lambda_B``); 0 turns it off.
            Default 10 (DeepFashion 1).
        vgg19_weights: File with torchvision's ``vgg19`` ImageNet state dict, needed when
            ``perceptual_weight > 0``.
        lr: Adam learning rate. Default 2e-4.
        beta1: Adam beta1. Default 0.5.
        beta2: Adam beta2. Default 0.999.
        decay_from: Fraction of the steps after which the learning rate decays linearly to 0. Default 5/7.
        inference_batch: Target poses per generator call in :meth:`Patn.transfer`. Default 16.
    """

    height: int = 128
    width: int = 64
    base_channels: int = 64
    blocks: int = 9
    disc_channels: int = 64
    disc_blocks: int = 3
    norm: str = "batch"
    dropout: float = 0.5
    disc_dropout: float = 0.5
    sigma: float = 6.0
    gan_loss: str = "vanilla"
    gan_weight: float = 5.0
    l1_weight: float = 10.0
    perceptual_weight: float = 10.0
    vgg19_weights: str | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_from: float = 5 / 7
    inference_batch: int = 16

    @classmethod
    def preset(cls, dataset: str, **overrides: Any) -> PatnConfig:
        """The original's settings for ``dataset`` (``"market"`` or ``"deepfashion"``, a key of
        :data:`DATASET_PRESETS`), with ``overrides`` (fields) on top."""
        return cls(**{**lookup(DATASET_PRESETS, dataset, "dataset"), **overrides})

    def __post_init__(self) -> None:
        check_choice(self.norm, NORM_LAYERS, "norm")
        check_choice(self.gan_loss, GAN_LOSSES, "gan_loss")
        for name in ("height", "width", "base_channels", "blocks", "disc_channels", "inference_batch"):
            check_count(name, getattr(self, name))
        check_count("disc_blocks", self.disc_blocks, minimum=0)
        if self.height % 2**DOWNSAMPLINGS or self.width % 2**DOWNSAMPLINGS:
            raise ValueError(f"height and width must be multiples of 4, got {self.width}x{self.height}")
        if not (0 <= self.dropout < 1 and 0 <= self.disc_dropout < 1):
            raise ValueError("dropout and disc_dropout must be in [0, 1)")
        weights = (self.gan_weight, self.l1_weight, self.perceptual_weight, self.lr)
        if min(weights) < 0 or self.sigma <= 0 or not 0 <= self.decay_from <= 1:
            raise ValueError(
                "gan_weight, l1_weight, perceptual_weight and lr must be >= 0, sigma > 0 and "
                "decay_from in [0, 1]"
            )


class PATBlock(nn.Module):
    """One Pose-Attentional Transfer Block on ``(B, channels, h, w)`` image features and ``(B,
    pose_channels, h, w)`` pose features.

    Args:
        channels: Image stream channels C.
        pose_channels: Pose stream channels: C for the first block, 2C after.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``.
        dropout: Dropout inside both branches.
    """

    def __init__(self, channels: int, pose_channels: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.image_branch = conv_branch(channels, channels, norm, dropout)
        # The attention logits are not normalised: the sigmoid takes them as they are.
        self.pose_branch = conv_branch(pose_channels, channels, norm, dropout, last_norm=False)

    def forward(
        self, image: torch.Tensor, pose: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the updated image ``(B, C, h, w)`` and pose ``(B, 2C, h, w)`` streams and the attention
        ``(B, C, h, w)`` in [0, 1]."""
        logits = self.pose_branch(pose)
        attention = torch.sigmoid(logits)
        image = image + self.image_branch(image) * attention
        return image, torch.cat([logits, image], 1), attention


class PatnGenerator(nn.Module):
    """PATN's generator: ``(B, 3, H, W)`` source image and ``(B, 36, H, W)`` source + target heatmaps ->
    ``(B, 3, H, W)`` image in [-1, 1]. H and W must be multiples of 4.

    Args:
        base_channels: ``ngf``. Default 64.
        blocks: Pose-Attentional Transfer Blocks. Default 9.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
        dropout: Dropout inside the blocks. Default 0.5.
        joints: Heatmaps per pose. Default 18 (BODY_18).
    """

    def __init__(
        self,
        base_channels: int = 64,
        blocks: int = 9,
        norm: str = "batch",
        dropout: float = 0.5,
        joints: int = JOINTS,
    ) -> None:
        super().__init__()
        width = base_channels * 2**DOWNSAMPLINGS
        self.image_encoder = resnet_encoder(3, base_channels, DOWNSAMPLINGS, norm)
        self.pose_encoder = resnet_encoder(2 * joints, base_channels, DOWNSAMPLINGS, norm)
        self.blocks = nn.ModuleList(
            PATBlock(width, width if t == 0 else 2 * width, norm, dropout) for t in range(blocks)
        )
        self.decoder = resnet_decoder(base_channels, 3, DOWNSAMPLINGS, norm)

    def forward(
        self, image: torch.Tensor, poses: torch.Tensor, *, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """The generated image; with ``return_attention``, also each block's ``(B, 4 ngf, H/4, W/4)``
        attention."""
        x, p = self.image_encoder(image), self.pose_encoder(poses)
        attentions = []
        for block in self.blocks:
            x, p, attention = block(x, p)
            attentions.append(attention)
        out = self.decoder(x)
        return (out, attentions) if return_attention else out


class ResnetDiscriminator(nn.Module):
    """PATN's discriminator: ``(B, C, H, W)`` -> ``(B, 4 ndf, H/4, W/4)`` logits, a ResNet encoder and
    residual blocks with no 1-channel head (the GAN loss is taken over every output map).

    Args:
        in_channels: Input channels C (image plus condition).
        base_channels: ``ndf``. Default 64.
        blocks: Residual blocks. Default 3.
        norm: A name in ``toolkit.nn.norm.NORM_LAYERS``. Default ``"batch"``.
        dropout: Dropout inside the residual blocks. Default 0.5.
    """

    def __init__(
        self,
        in_channels: int,
        base_channels: int = 64,
        blocks: int = 3,
        norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        width = base_channels * 2**DOWNSAMPLINGS
        self.model = nn.Sequential(
            resnet_encoder(in_channels, base_channels, DOWNSAMPLINGS, norm),
            *(ResnetBlock(width, norm, dropout) for _ in range(blocks)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_generator(config: PatnConfig) -> PatnGenerator:
    """A fresh generator for ``config`` (PyTorch's initialisation; training re-initialises it)."""
    return PatnGenerator(config.base_channels, config.blocks, config.norm, config.dropout)


def build_discriminators(config: PatnConfig) -> dict[str, ResnetDiscriminator]:
    """``{"d_pb": on image + target heatmaps (3 + 18), "d_pp": on image + source image (3 + 3)}``."""
    c = config
    return {
        name: ResnetDiscriminator(channels, c.disc_channels, c.disc_blocks, c.norm, c.disc_dropout)
        for name, channels in (("d_pb", 3 + JOINTS), ("d_pp", 3 + 3))
    }
