"""posewarp (Balakrishnan et al., "Synthesizing Images of Humans in Unseen Poses", CVPR 2018).

One source image and its pose, and a target pose, go through four modules:

- A. **Source segmentation.** A U-Net on the source image (with the source pose maps joined at half
  resolution) predicts ``Delta M``; the layers are ``softmax(Delta M + log M_hat)`` over L + 1 channels, with
  ``M_hat`` the Gaussian limb-mask prior (``toolkit.pose.encode.posewarp_limb_masks``) and channel 0 the
  background (``1 - max`` of the limb priors).
- B. **Spatial transformation.** Each of the L foreground layers (its mask times the source image) is moved
  by its limb's similarity transform, fitted from the source joints to the target joints
  (``toolkit.nn.warp``).
- C. **Foreground synthesis.** A U-Net on the warped layers and the target pose maps gives the foreground
  ``y_fg`` (tanh) and the target mask ``M_t`` (sigmoid).
- D. **Background synthesis.** A U-Net on the background layer, its foreground pixels filled with Gaussian
  noise, the background mask and the source pose maps gives the background ``y_bg`` (tanh).

The output is ``y = M_t * y_fg + (1 - M_t) * y_bg``. Training pairs two frames of the subject; the loss is a
reconstruction term plus ``gan_weight`` (0.1, the paper's) times the adversarial loss of posewarp's
discriminator, which sees the image with both pose maps. The reconstruction is a VGG19 perceptual loss when
ImageNet weights are given (``vgg19_weights``), else L1; ``PosewarpConfig.reconstruction`` records which.

Two layouts: ``posewarp`` works on posewarp's 14 MPII joints and 10 limbs (nine bones and the torso quad),
``posewarp-upper`` on 7 upper-body joints and 5 limbs (head to mid-shoulders, two bones per arm). Poses
arrive in BODY_18 and are converted with ``toolkit.pose``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from toolkit.checks import check_count
from toolkit.data.datasets import Letterbox, image_to_tensor, letterbox_frames, tensor_to_images
from toolkit.data.media import grid
from toolkit.data.subject import SubjectFrames
from toolkit.methods import register_method
from toolkit.nn.backbones import FeatureStack, imagenet_normalize, load_backbone
from toolkit.nn.losses import PerceptualWeightsError, gan_loss
from toolkit.nn.trainer import StepContext, TrainableMethod, TrainingSetup
from toolkit.nn.warp import LimbPoints, limb_transforms, warp_layers
from toolkit.pose.encode import gaussian_heatmaps, posewarp_limb_masks
from toolkit.pose.sequence import PoseSequence
from toolkit.pose.skeleton import MPII_14, UPPER_BODY_7

from ._generator import OneGenerator

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
# log(prior + 1e-10): a limb absent from the prior stays absent after the softmax.
_LOG_EPSILON = 1e-10
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
        reconstruction: ``"vgg"`` or ``"l1"``; None (default) picks ``"vgg"`` when ``vgg19_weights`` is
            given, else ``"l1"``, and records the choice.
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
        if self.layout not in WARP_LIMBS:
            raise ValueError(f"unknown layout {self.layout!r}; choose one of {', '.join(WARP_LIMBS)}")
        for name in ("size", "width", "disc_width", "inference_batch"):
            check_count(name, getattr(self, name), minimum=2)
        if min(self.joint_sigma, self.lr) <= 0 or self.gan_weight < 0:
            raise ValueError("joint_sigma and lr must be > 0, and gan_weight >= 0")
        for name in ("pretrain_steps", "disc_warmup_steps"):
            check_count(name, getattr(self, name), minimum=0)
        if not 0 <= self.min_gap < 0.5:
            raise ValueError(f"min_gap is a fraction of the video's length in [0, 0.5), got {self.min_gap!r}")
        if self.reconstruction is None:
            object.__setattr__(self, "reconstruction", "l1" if self.vgg19_weights is None else "vgg")
        if self.reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"unknown reconstruction {self.reconstruction!r}; choose one of "
                f"{', '.join(RECONSTRUCTION_LOSSES)}"
            )

    @property
    def limbs(self) -> int:
        return len(WARP_LIMBS[self.layout])

    @property
    def joints(self) -> int:
        return JOINTS[self.layout]


# A reconstruction loss: (generated, target) images -> scalar.
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


# ---- inputs -------------------------------------------------------------------------------------------


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


def pose_maps(keypoints: torch.Tensor, config: PosewarpConfig) -> torch.Tensor:
    """``(..., J, 3)`` keypoints on the ``S x S`` image -> ``(..., J, S/2, S/2)`` heatmaps at half
    resolution, sigma ``joint_sigma / 2`` scaled from 256 px."""
    half = keypoints.clone()
    half[..., :2] = (keypoints[..., :2] + 0.5) / 2 - 0.5
    sigma = config.joint_sigma / 2 * config.size / REFERENCE_SIZE
    return gaussian_heatmaps(half, config.size // 2, config.size // 2, sigma)


def log_mask_prior(keypoints: torch.Tensor, config: PosewarpConfig) -> torch.Tensor:
    """``(..., J, 3)`` keypoints on the ``S x S`` image -> ``(..., L + 1, S, S)`` log priors: background
    first, then posewarp's limb masks. The masks are drawn at 256 px, where their widths are defined, and
    area-resized to S."""
    scale = REFERENCE_SIZE / config.size
    big = keypoints.clone()
    big[..., :2] = (keypoints[..., :2] + 0.5) * scale - 0.5
    masks = posewarp_limb_masks(big, REFERENCE_SIZE, REFERENCE_SIZE)  # (..., L, 256, 256)
    lead = masks.shape[:-3]
    masks = F.interpolate(masks.reshape(-1, *masks.shape[-3:]), size=(config.size, config.size), mode="area")
    masks = masks.reshape(*lead, *masks.shape[-3:])
    background = 1.0 - masks.amax(-3, keepdim=True)
    return torch.log(torch.cat([background, masks], -3) + _LOG_EPSILON)


def layout_keypoints(poses: PoseSequence, layout: str) -> torch.Tensor:
    """``(T, J, 3)`` float32 keypoints of ``poses`` in posewarp's ``layout``."""
    return torch.from_numpy(np.ascontiguousarray(poses.to_layout(layout).keypoints, dtype=np.float32))


def prepare_inputs(
    source: torch.Tensor,
    source_keypoints: torch.Tensor,
    target_keypoints: torch.Tensor,
    config: PosewarpConfig,
) -> PosewarpInputs:
    """Encode a batch: ``(B, 3, S, S)`` sources and ``(B, J, 3)`` keypoints (``layout``, on the S x S
    image) -> :class:`PosewarpInputs`."""
    return PosewarpInputs(
        source=source,
        source_pose=pose_maps(source_keypoints, config),
        target_pose=pose_maps(target_keypoints, config),
        log_prior=log_mask_prior(source_keypoints, config),
        transforms=limb_transforms(source_keypoints, target_keypoints, WARP_LIMBS[config.layout]),
    )


# posewarp's augmentation ranges (param.py): scale, rotation in degrees, shift in pixels of a 256 px crop.
SCALE_RANGE = (0.90, 1.05)
MAX_ROTATION = 5.0
MAX_SHIFT = 10


@dataclass(frozen=True)
class Jitter:
    """One draw of posewarp's augmentation, applied alike to both frames of a pair.

    ``flip`` mirrors left-right (left and right joints swap); then the image is scaled by ``scale`` about
    its centre, shifted by ``shift`` (x, y) pixels and rotated by ``degrees`` (counter-clockwise on
    screen) about its centre.
    """

    flip: bool = False
    scale: float = 1.0
    shift: tuple[int, int] = (0, 0)
    degrees: float = 0.0

    @classmethod
    def draw(cls, rng: np.random.Generator, size: int) -> Jitter:
        """posewarp's draw (``rand_augmentations``) for an ``size x size`` image; the shift's range is
        scaled from 256 px."""
        flip = bool(rng.random() >= 0.5)
        scale = float(rng.uniform(*SCALE_RANGE))
        reach = MAX_SHIFT * size / REFERENCE_SIZE
        shift = (int(reach * (rng.random() - 0.5)), int(reach * (rng.random() - 0.5)))
        degrees = float((rng.random() - 0.5) * 2 * MAX_ROTATION)
        return cls(flip, scale, shift, degrees)

    def matrix(self, size: int) -> np.ndarray:
        """The ``(2, 3)`` float64 affine of the scale, shift and rotation on pixel centres of an ``size x
        size`` image (the convention of ``cv2.warpAffine``)."""
        centre = ((size - 1) / 2, (size - 1) / 2)
        rotate = np.vstack([cv2.getRotationMatrix2D(centre, self.degrees, 1.0), [0, 0, 1]])
        scale = np.vstack([cv2.getRotationMatrix2D(centre, 0.0, self.scale), [0, 0, 1]])
        shift = np.array([[1, 0, self.shift[0]], [0, 1, self.shift[1]], [0, 0, 1]], dtype=np.float64)
        return (rotate @ shift @ scale)[:2]

    def apply(self, image: np.ndarray, poses: PoseSequence) -> tuple[np.ndarray, PoseSequence]:
        """Jitter an ``(S, S, 3)`` uint8 image and its one-frame pose alike; what comes from outside the
        image is black (as in posewarp)."""
        size = image.shape[0]
        if self.flip:
            image, poses = np.ascontiguousarray(image[:, ::-1]), poses.flipped()
        matrix = self.matrix(size)
        image = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        keypoints = poses.keypoints.copy()
        xy = keypoints[..., :2].astype(np.float64)
        keypoints[..., :2] = xy @ matrix[:, :2].T + matrix[:, 2]
        return image, replace(poses, keypoints=keypoints)


class PairsDataset(Dataset):
    """(source, target) frame pairs of one subject, letterboxed into ``size x size``.

    Key ``(index, draw)``: source frame ``index`` and, with ``default_rng(draw)``, a target among the
    frames more than ``min_gap`` of the video's length away (posewarp's rule), then (with ``augment``) one
    :class:`Jitter` for both frames. A plain index pairs it with the frame half the sequence away, without
    jitter (the clean samples of sample grids).

    Items: ``source``/``target`` ``(3, S, S)``, ``source_pose``/``target_pose`` ``(J, S/2, S/2)``,
    ``log_prior`` ``(L + 1, S, S)``, ``transforms`` ``(L, 2, 3)``.

    Raises:
        ValueError: fewer than 2 frames.
    """

    def __init__(self, frames: SubjectFrames, config: PosewarpConfig) -> None:
        if len(frames) < 2:
            raise ValueError(
                f"posewarp learns from pairs of frames: got {len(frames)} frame(s), need 2 or more"
            )
        boxed = letterbox_frames(frames, config.size)
        self.images = boxed.images
        self.poses = boxed.poses
        self.keypoints = layout_keypoints(boxed.poses, config.layout)
        self.config = config

    def __len__(self) -> int:
        return len(self.images)

    def partners(self, index: int) -> np.ndarray:
        """Indices of the frames that may be ``index``'s target: more than ``min_gap`` of the length
        away. The ends of the video always have one; a middle frame of a short one may have none."""
        count = len(self.images)
        return np.flatnonzero(np.abs(np.arange(count) - index) > self.config.min_gap * count)

    def pair(self, key: int | tuple[int, int]) -> tuple[int, int]:
        """The (source, target) frame indices of ``key``."""
        index, draw = (key, None) if isinstance(key, (int, np.integer)) else key
        index, count = int(index), len(self.images)
        if draw is None:
            return index, (index + count // 2) % count
        partners = self.partners(index)
        if not len(partners):  # only possible when min_gap is near 0.5: pair with the farther end
            partners = np.array([0 if index >= count / 2 else count - 1])
        return index, int(partners[np.random.default_rng(draw).integers(len(partners))])

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, other = self.pair(key)
        draw = None if isinstance(key, (int, np.integer)) else key[1]
        images, keypoints = [self.images[index], self.images[other]], []
        # A second generator, so the target's draw above is unchanged whether or not jitter is on.
        jitter = (
            Jitter.draw(np.random.default_rng([draw, 1]), self.config.size)
            if draw is not None and self.config.augment
            else None
        )
        for k, frame in enumerate((index, other)):
            poses = self.poses[frame]
            if jitter is not None:
                images[k], poses = jitter.apply(images[k], poses)
            keypoints.append(layout_keypoints(poses, self.config.layout))
        inputs = prepare_inputs(image_to_tensor(images[0])[None], keypoints[0], keypoints[1], self.config)
        item = {name: value[0] for name, value in vars(inputs).items()}
        return {**item, "target": image_to_tensor(images[1])}


# ---- networks -----------------------------------------------------------------------------------------


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


# ---- the methods --------------------------------------------------------------------------------------


class _Posewarp(OneGenerator[PosewarpGenerator], TrainableMethod):
    """What ``posewarp`` and ``posewarp-upper`` share; they differ in their default ``layout``."""

    name: ClassVar[str]
    config_class: ClassVar[type] = PosewarpConfig
    DEFAULT_LAYOUT: ClassVar[str]
    # A frame is made from the source image and its own target pose only.
    uses_source: ClassVar[bool] = True
    frame_independent: ClassVar[bool] = True

    def __init__(self, config: PosewarpConfig | Mapping[str, Any] | None = None) -> None:
        self.config = self.parse_config(config)
        self.generator: PosewarpGenerator | None = None
        self._reconstruction: Reconstruction | None = None

    @classmethod
    def setting_defaults(cls) -> dict[str, Any]:
        return {"layout": cls.DEFAULT_LAYOUT}

    def build_generator(self) -> PosewarpGenerator:
        """A fresh generator for this config."""
        c = self.config
        return PosewarpGenerator(c.joints, c.limbs, c.width)

    # -- training

    def training_setup(self, train_data: SubjectFrames, device: torch.device) -> TrainingSetup:
        """The pair dataset, generator, discriminator, their Adam optimizers and the reconstruction loss.

        Raises:
            PerceptualWeightsError: ``reconstruction="vgg"`` without ``vgg19_weights``, at start-up.
        """
        c = self.config
        dataset = PairsDataset(train_data, c)
        picks = np.linspace(0, len(dataset) - 1, min(len(dataset), VGG_STATISTICS_FRAMES)).round()
        statistics_images = torch.stack([image_to_tensor(dataset.images[int(k)]) for k in picks])
        loss = RECONSTRUCTION_LOSSES[c.reconstruction]  # type: ignore[index]
        self._reconstruction = loss(c, device, statistics_images)
        generator = self.build_generator().to(device)
        discriminator = PosewarpDiscriminator(c.joints, c.size, c.disc_width).to(device)
        self.generator = generator
        betas = (c.beta1, c.beta2)
        return TrainingSetup(
            dataset,
            {"generator": generator, "discriminator": discriminator},
            {
                "generator": torch.optim.Adam(generator.parameters(), lr=c.lr, betas=betas),
                "discriminator": torch.optim.Adam(discriminator.parameters(), lr=c.lr, betas=betas),
            },
        )

    def phase(self, step: int) -> str:
        """What training step ``step`` (counted from 1, ``StepContext.step``) does: ``"pretrain"`` (the
        generator on the reconstruction loss alone), ``"warmup"`` (the discriminator alone) or ``"gan"``
        (both, as posewarp's GAN stage). It depends on the step alone, so a resumed run repeats it."""
        c = self.config
        if step <= c.pretrain_steps:
            return "pretrain"
        return "warmup" if step <= c.pretrain_steps + c.disc_warmup_steps else "gan"

    def training_step(self, batch: dict[str, torch.Tensor], context: StepContext) -> dict[str, float]:
        """One posewarp iteration of this step's :meth:`phase`: D on real vs generated targets (with both
        poses), unless pre-training; then G on the reconstruction loss plus ``gan_weight`` times the
        adversarial loss, the latter only in the GAN phase, and G not at all in the warm-up. Losses not
        computed in a phase are NaN."""
        objective = gan_loss("vanilla")  # posewarp's sigmoid + binary cross-entropy
        generator, discriminator = context.models["generator"], context.models["discriminator"]
        opt_g, opt_d = context.optimizers["generator"], context.optimizers["discriminator"]
        phase = self.phase(context.step)
        inputs = _inputs(batch)
        real = batch["target"]
        fake = generator(inputs).image
        poses = (inputs.source_pose, inputs.target_pose)
        losses = {"d": float("nan"), "g_gan": float("nan"), f"g_{self.config.reconstruction}": float("nan")}

        # 1. The discriminator: real targets towards real, generated ones towards fake.
        if phase != "pretrain":
            discriminator.requires_grad_(True)
            opt_d.zero_grad(set_to_none=True)
            loss_d = objective.discriminator(
                discriminator(real, *poses), discriminator(fake.detach(), *poses)
            )
            context.backward(loss_d)
            opt_d.step()
            losses["d"] = loss_d.item()
        if phase == "warmup":
            return losses

        # 2. The generator: reconstruct the target, and fool D once the GAN stage has begun.
        opt_g.zero_grad(set_to_none=True)
        loss = loss_rec = self._reconstruction(fake, real)  # type: ignore[misc]
        if phase == "gan":
            discriminator.requires_grad_(False)
            loss_gan = objective.generator(discriminator(fake, *poses))
            loss = loss + self.config.gan_weight * loss_gan
            losses["g_gan"] = loss_gan.item()
        context.backward(loss)
        opt_g.step()
        losses[f"g_{self.config.reconstruction}"] = loss_rec.item()
        return losses

    def sample_grid(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """Rows of source | generated | target for the samples of ``batch``."""
        generator = self._generator()
        was_training = generator.training
        generator.eval()
        with torch.inference_mode():
            generated = tensor_to_images(generator(_inputs(batch)).image)
        generator.train(was_training)
        sources, targets = tensor_to_images(batch["source"]), tensor_to_images(batch["target"])
        rows = [list(row) for row in zip(sources, generated, targets, strict=True)]
        return grid(rows, column_labels=["source", "generated", "target"])

    def debug_grid(
        self, source: np.ndarray, source_pose: PoseSequence, target_pose: PoseSequence
    ) -> np.ndarray:
        """What each module makes of one (source, target pose) pair, as an ``(H, W, 3)`` uint8 picture.

        Args:
            source: ``(H, W, 3)`` uint8 source image.
            source_pose: Its one-frame pose (on its canvas).
            target_pose: The one-frame target pose (on its canvas).

        Rows of ``size x size`` tiles: ``output`` (source, generated image, foreground y_fg, background
        y_bg, target mask M_t); ``layers`` (module A's L + 1 source layers, background first, as masks);
        ``warped`` (module B's L warped foreground layers).
        """
        c = self.config
        generator = self._generator()
        device = next(generator.parameters()).device
        source_box = Letterbox.square(*source_pose.canvas, c.size)
        target_box = Letterbox.square(*target_pose.canvas, c.size)
        image = image_to_tensor(source_box.image(source))[None].to(device)
        source_keypoints = layout_keypoints(source_box.poses(source_pose[:1]), c.layout).to(device)
        target_keypoints = layout_keypoints(target_box.poses(target_pose[:1]), c.layout).to(device)
        was_training = generator.training
        generator.eval()
        with torch.inference_mode():
            out = generator(prepare_inputs(image, source_keypoints, target_keypoints, c))
        generator.train(was_training)

        def masks(tensor: torch.Tensor) -> list[np.ndarray]:  # (N, H, W) in [0, 1] -> grey tiles
            return list(tensor_to_images((tensor[:, None] * 2 - 1).expand(-1, 3, -1, -1)))

        output = tensor_to_images(torch.cat([image, out.image, out.foreground, out.background]))
        rows = [
            [*output, *masks(out.mask[0])],
            masks(out.layers[0]),
            list(tensor_to_images(out.warped[0])),
        ]
        return grid(rows, row_labels=["output", "layers", "warped"])

    # -- inference

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """Warp the subject of the first source image (posed as ``source_poses[0]``) into every pose of
        ``target_poses``: ``(T, H, W, 3)`` uint8 frames on the target canvas."""
        if len(source_images) < 1 or len(source_poses) != len(source_images):
            raise ValueError(
                f"give at least one source image with its pose, got {len(source_images)} images and "
                f"{len(source_poses)} poses"
            )
        c = self.config
        generator = self._generator().eval()
        device = next(generator.parameters()).device
        source_box = Letterbox.square(*source_poses.canvas, c.size)
        target_box = Letterbox.square(*target_poses.canvas, c.size)
        source = image_to_tensor(source_box.image(source_images[0]))[None].to(device)
        source_keypoints = layout_keypoints(source_box.poses(source_poses[:1]), c.layout).to(device)
        target_keypoints = layout_keypoints(target_box.poses(target_poses), c.layout).to(device)
        frames = []
        with torch.inference_mode():
            for k in range(0, len(target_keypoints), c.inference_batch):
                targets = target_keypoints[k : k + c.inference_batch]
                count = len(targets)
                inputs = prepare_inputs(
                    source.expand(count, -1, -1, -1), source_keypoints.expand(count, -1, -1), targets, c
                )
                frames.extend(tensor_to_images(generator(inputs).image))
        return np.stack([target_box.undo(frame) for frame in frames])


def _inputs(batch: dict[str, torch.Tensor]) -> PosewarpInputs:
    return PosewarpInputs(**{f.name: batch[f.name] for f in fields(PosewarpInputs)})


@register_method("posewarp")
class Posewarp(_Posewarp):
    """posewarp on its 14 MPII joints and 10 limbs.

    Args:
        config: A :class:`PosewarpConfig` or a mapping of its fields (training options are ignored here
            and used by ``fit``). Default ``PosewarpConfig()``.
    """

    DEFAULT_LAYOUT: ClassVar[str] = "mpii_14"


@register_method("posewarp-upper")
class PosewarpUpper(_Posewarp):
    """posewarp on 7 upper-body joints and 5 limbs (head, two bones per arm), for head-and-shoulders
    footage.

    Args:
        config: As for :class:`Posewarp`; ``layout`` defaults to ``"upper_body_7"``.
    """

    DEFAULT_LAYOUT: ClassVar[str] = "upper_body_7"
