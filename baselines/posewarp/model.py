"""posewarp's settings and networks, top to bottom: the config, the U-Net the three modules share, the
generator (segmentation, warp, foreground, background) and the discriminator."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.checks import check_choice, check_count
from toolkit.nn.losses import reconstruction_loss
from toolkit.nn.warp import LimbPoints, warp_layers
from toolkit.pose.skeleton import MPII_14, UPPER_BODY_7

# Each layout's limbs as warp point sets, in the channel order of ``posewarp_limb_masks``.
WARP_LIMBS: dict[str, tuple[LimbPoints, ...]] = {
    "mpii_14": (*(((a,), (b,)) for a, b in MPII_14.limbs), ((2,), (5,), (8,), (11,))),
    "upper_body_7": (((0,), (1, 4)), *(((a,), (b,)) for a, b in UPPER_BODY_7.limbs)),
}
JOINTS: dict[str, int] = {"mpii_14": MPII_14.num_joints, "upper_body_7": UPPER_BODY_7.num_joints}

# posewarp's crops are 256 px: its limb-mask widths and joint sigma are in those pixels.
REFERENCE_SIZE = 256
# The U-Nets downsample five times.
SIZE_MULTIPLE = 32
_NOISE_SEED = 0


@dataclass(frozen=True)
class PosewarpConfig:
    """posewarp's settings, with the paper's defaults (``param.py`` and ``posewarp_gan_train.py``).

    Args:
        size: Square image side, a multiple of 32. Default 256.
        layout: ``"mpii_14"`` (14 joints, 10 limbs) or ``"upper_body_7"`` (7 joints, 5 limbs).
        width: Channels of the U-Nets' deeper convolutions (128); the first two have half as many (64).
        disc_width: Channels of the discriminator's first convolution (64; then 128 and 256).
        joint_sigma: Joint heatmap sigma in pixels of a 256 px image (posewarp's 7/4 at half resolution);
            scaled with ``size``. Default 3.5.
        gan_weight: Weight of the adversarial loss against the reconstruction loss. Default 0.1.
        reconstruction: ``"vgg"`` or ``"l1"``; None (default) means ``"vgg"`` when ``vgg19_weights`` is
            given, else ``"l1"``. :attr:`reconstruction_loss` is the one used.
        vgg19_weights: File with torchvision's ``vgg19`` ImageNet state dict, for ``"vgg"``.
        lr: Adam learning rate of both networks. Default 1e-4.
        beta1: Adam beta1. Default 0.9 (Keras's default, which posewarp used).
        beta2: Adam beta2. Default 0.999.
        inference_batch: Frames per generator call in ``transfer``. Default 8.
        pretrain_steps: Training steps (counted from 1, as the trainer's ``StepContext.step``) in which the
            generator learns from the reconstruction loss alone and the discriminator is idle; posewarp
            pre-trained 100000 of them before its GAN stage. Default 0.
        disc_warmup_steps: Steps after pre-training in which only the discriminator learns, before the
            generator sees the adversarial term (posewarp's 5). Default 5.
        min_gap: A training pair's frames are more than ``min_gap`` times the video's length apart
            (posewarp's 0.02). In [0, 0.5). Default 0.02.
        augment: Jitter every training pair with posewarp's random flip, scale, shift and rotation (one
            draw for both frames). Default True.
    """

    size: int = 256
    layout: str = "mpii_14"
    width: int = 128
    disc_width: int = 64
    joint_sigma: float = 3.5
    gan_weight: float = 0.1
    reconstruction: str | None = None
    vgg19_weights: str | None = None
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    inference_batch: int = 8
    pretrain_steps: int = 0
    disc_warmup_steps: int = 5
    min_gap: float = 0.02
    augment: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size % SIZE_MULTIPLE:
            raise ValueError(f"size must be a positive multiple of {SIZE_MULTIPLE}, got {self.size!r}")
        check_choice(self.layout, WARP_LIMBS, "layout")
        for name in ("size", "width", "disc_width", "inference_batch"):
            check_count(name, getattr(self, name), minimum=2)
        if min(self.joint_sigma, self.lr) <= 0 or self.gan_weight < 0:
            raise ValueError("joint_sigma and lr must be > 0, and gan_weight >= 0")
        for name in ("pretrain_steps", "disc_warmup_steps"):
            check_count(name, getattr(self, name), minimum=0)
        if not 0 <= self.min_gap < 0.5:
            raise ValueError(f"min_gap is a fraction of the video's length in [0, 0.5), got {self.min_gap!r}")
        reconstruction_loss(self.reconstruction, self.vgg19_weights)  # raises for an unknown name

    @property
    def reconstruction_loss(self) -> str:
        """The reconstruction loss used, ``"vgg"`` or ``"l1"`` (``toolkit.nn.losses.reconstruction_loss``)."""
        return reconstruction_loss(self.reconstruction, self.vgg19_weights)

    @property
    def limbs(self) -> int:
        return len(WARP_LIMBS[self.layout])

    @property
    def joints(self) -> int:
        return JOINTS[self.layout]


# A reconstruction loss: (generated, target) images -> scalar.


@dataclass
class PosewarpInputs:
    """What the generator takes, for a batch of B (source, target) pairs on ``S x S`` images.

    Args:
        source: ``(B, 3, S, S)`` source images in [-1, 1].
        source_pose: ``(B, J, S/2, S/2)`` source joint heatmaps.
        target_pose: ``(B, J, S/2, S/2)`` target joint heatmaps.
        log_prior: ``(B, L + 1, S, S)`` log of the background and limb-mask priors.
        transforms: ``(B, L, 2, 3)`` source-to-target limb similarities in pixels.
    """

    source: torch.Tensor
    source_pose: torch.Tensor
    target_pose: torch.Tensor
    log_prior: torch.Tensor
    transforms: torch.Tensor


def _conv(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """posewarp's ``my_conv``: a 'same' convolution and LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2), nn.LeakyReLU(0.2))


class PosewarpUNet(nn.Module):
    """posewarp's U-Net: eleven 3x3 convolutions down to 1/32 (pose maps joined at 1/2), then five
    bilinear 2x upsamplings, each followed by a convolution on the skip concatenated to it.

    Args:
        in_channels: Image-like input channels.
        pose_channels: Joint heatmap channels J, joined at half resolution.
        out_channels: Channels of the last decoder convolution (posewarp: 32 for A, 64 for C and D).
        width: Channels of the deeper convolutions (128); the first two have ``width // 2``.

    ``(B, in, H, W)`` and ``(B, J, H/2, W/2)`` -> ``(B, out_channels, H, W)``; H, W multiples of 32.
    """

    def __init__(self, in_channels: int, pose_channels: int, out_channels: int, width: int = 128) -> None:
        super().__init__()
        first = width // 2
        self.stem = _conv(in_channels, first, kernel=7)  # 1/1
        self.down = _conv(first, first, stride=2)  # 1/2, then the pose maps join
        encoder = [_conv(first + pose_channels, width)]
        for _ in range(4):
            encoder += [_conv(width, width, stride=2), _conv(width, width)]
        self.encoder = nn.ModuleList(encoder)  # 1/2, then (1/4, 1/8, 1/16, 1/32) x 2
        skips = (width, width, width, width, first)  # 1/16, 1/8, 1/4, 1/2, 1/1
        decoder_widths = (width, width, width, width, out_channels)
        decoder, channels = [], width
        for skip, out in zip(skips, decoder_widths, strict=True):
            decoder.append(_conv(channels + skip, out))
            channels = out
        self.decoder = nn.ModuleList(decoder)

    def forward(self, x: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % SIZE_MULTIPLE or x.shape[-2] % SIZE_MULTIPLE:
            raise ValueError(
                f"posewarp's U-Net needs sides that are multiples of 32, got {tuple(x.shape[-2:])}"
            )
        x0 = self.stem(x)
        x = torch.cat([self.down(x0), pose], 1)
        skips = []
        for k, block in enumerate(self.encoder):
            x = block(x)
            if k % 2 == 0:  # the stride-1 convolutions at 1/2, 1/4, 1/8, 1/16 (and the bottleneck)
                skips.append(x)
        skips = [*skips[-2::-1], x0]  # 1/16, 1/8, 1/4, 1/2, 1/1
        for block, skip in zip(self.decoder, skips, strict=True):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return x


@dataclass
class PosewarpOutput:
    """The generator's output and its intermediate results, for a batch of B on ``S x S`` images.

    ``image`` ``(B, 3, S, S)``; ``foreground`` and ``background`` ``(B, 3, S, S)`` in [-1, 1]; ``mask``
    ``(B, 1, S, S)`` (M_t); ``layers`` ``(B, L + 1, S, S)`` source layers (background first);
    ``warped`` ``(B, L, 3, S, S)`` warped foreground layers.
    """

    image: torch.Tensor
    foreground: torch.Tensor
    background: torch.Tensor
    mask: torch.Tensor
    layers: torch.Tensor
    warped: torch.Tensor


class PosewarpGenerator(nn.Module):
    """Modules A-D of posewarp (see the module docstring) for ``limbs`` L and ``joints`` J."""

    def __init__(self, joints: int, limbs: int, width: int = 128) -> None:
        super().__init__()
        self.limbs = limbs
        self.segmentation = PosewarpUNet(3, joints, 32, width)
        self.segmentation_head = nn.Conv2d(32, limbs + 1, 3, 1, 1)
        self.foreground = PosewarpUNet(3 * limbs, joints, 64, width)
        self.foreground_head = nn.Conv2d(64, 3, 3, 1, 1)
        self.mask_head = nn.Conv2d(64, 1, 3, 1, 1)
        self.background = PosewarpUNet(4, joints, 64, width)
        self.background_head = nn.Conv2d(64, 3, 3, 1, 1)

    def forward(self, inputs: PosewarpInputs) -> PosewarpOutput:
        source = inputs.source
        batch, _, height, width = source.shape

        # A. Source layers: the network's correction added to the log prior, softmax over layers.
        delta = self.segmentation_head(self.segmentation(source, inputs.source_pose))
        layers = torch.softmax(delta + inputs.log_prior, dim=1)  # (B, L + 1, H, W)

        # B. Each foreground layer moved by its limb's transform.
        pieces = layers[:, 1:, None] * source[:, None]  # (B, L, 3, H, W)
        warped = warp_layers(pieces, inputs.transforms)

        # C. Foreground and target mask from the warped layers and the target pose.
        features = self.foreground(warped.reshape(batch, 3 * self.limbs, height, width), inputs.target_pose)
        foreground = torch.tanh(self.foreground_head(features))
        mask = torch.sigmoid(self.mask_head(features))  # (B, 1, H, W)

        # D. Background from the background layer, the foreground holes filled with noise.
        keep = layers[:, :1]
        hole = (1 - keep) * self._noise(source)
        features = self.background(torch.cat([keep * source + hole, keep], 1), inputs.source_pose)
        background = torch.tanh(self.background_head(features))

        image = mask * foreground + (1 - mask) * background
        return PosewarpOutput(image, foreground, background, mask, layers, warped)

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        """Fresh noise in training; in eval mode the same noise every call, so outputs are repeatable."""
        if self.training:
            return torch.randn_like(like)
        generator = torch.Generator(device=like.device).manual_seed(_NOISE_SEED)
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


class PosewarpDiscriminator(nn.Module):
    """posewarp's discriminator: the image through a 5x5 convolution and a 2x2 max-pool, joined with both
    pose maps at half resolution, four more convolution + pool stages (5x5 then 3x3), one more
    convolution, and three dense layers to one logit.

    Args:
        joints: J, the channels of each pose map.
        size: Image side S (a multiple of 32): the dense layers see ``(S / 32)^2`` positions.
        width: First convolution's channels (64); then 2x (128) and 4x (256).

    ``(B, 3, S, S)``, ``(B, J, S/2, S/2)`` x2 -> ``(B, 1)`` logits.
    """

    def __init__(self, joints: int, size: int, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv(3, width, kernel=5), nn.MaxPool2d(2))
        wide = 4 * width
        self.body = nn.Sequential(
            _conv(width + 2 * joints, 2 * width, kernel=5), nn.MaxPool2d(2),
            _conv(2 * width, wide), nn.MaxPool2d(2),
            _conv(wide, wide), nn.MaxPool2d(2),
            _conv(wide, wide), nn.MaxPool2d(2),
            _conv(wide, wide),
            nn.Flatten(),
            nn.Linear(wide * (size // SIZE_MULTIPLE) ** 2, wide), nn.ReLU(),
            nn.Linear(wide, wide), nn.ReLU(),
            nn.Linear(wide, 1),
        )  # fmt: skip

    def forward(
        self, image: torch.Tensor, source_pose: torch.Tensor, target_pose: torch.Tensor
    ) -> torch.Tensor:
        return self.body(torch.cat([self.stem(image), source_pose, target_pose], 1))
