"""PATN (Zhu et al., "Progressive Pose Attention Transfer for Person Image Generation", CVPR 2019): a source
image and a pair of poses in, the source person in the target pose out.

The generator has two streams, each a ResNet encoder (7x7 convolution, two stride-2 convolutions, ``ngf`` =
64 -> 256 channels): the image stream on the source image (3 channels), the pose stream on the source and
target heatmaps (2 x 18 channels). ``blocks`` (9) Pose-Attentional Transfer Blocks follow; block t computes

- ``a_t = conv_branch(pose_t)`` (two 3x3 convolutions, the last one without norm) and the attention
  ``sigmoid(a_t)``;
- ``image_{t+1} = image_t + conv_branch(image_t) * sigmoid(a_t)``;
- ``pose_{t+1} = concat(a_t, image_{t+1})``, so from the second block on the pose stream has 2 x 256
  channels.

A ResNet decoder (two transposed convolutions, a 7x7 convolution, tanh) renders the image stream. Two
ResNet discriminators (an encoder plus ``disc_blocks`` = 3 residual blocks, no 1-channel head: every one
of their 256 output maps is a logit map) judge appearance consistency (D_PP: generated or real target
image with the source image) and shape consistency (D_PB: the image with the target heatmaps).

The losses are the original's: ``l1_weight`` x L1, ``perceptual_weight`` x L1 between VGG19 relu1_2
features, and ``gan_weight`` (5) x the mean of the two generator GAN losses; each discriminator's loss is
``gan_weight`` x half the sum of its real and fake terms. The generator is updated first, then D_PP, then
D_PB, each with Adam (2e-4, beta1 0.5); the learning rate is held for 500 of the original's 700 epochs,
then decays linearly (``decay_from`` = 5/7). ``dataset`` picks the original's per-dataset settings
(:data:`DATASET_PRESETS`): Market-1501 at 128x64 with batch norm, vanilla GAN and weights 10/10;
DeepFashion at 256x176 with instance norm, LSGAN and weights 1/1. The VGG19 term needs ImageNet weights
from a file; without them set ``perceptual_weight=0``, which the saved config records.

Training pairs are two frames of the subject: the target frame of the sample and a source frame drawn per
sample (:class:`SourceTargetPairs`). Heatmaps are Gaussians of ``sigma`` = 6 pixels in [0, 1], as PATN's.
At test time the generator runs in eval mode (running statistics, no dropout) and renders every target
pose from the first source image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from toolkit.checks import check_count
from toolkit.data.datasets import Letterbox, image_to_tensor, tensor_to_images
from toolkit.data.media import grid
from toolkit.data.subject import SubjectFrames
from toolkit.methods import register_method
from toolkit.nn.init import init_weights
from toolkit.nn.losses import GAN_LOSSES, VGGPerceptualLoss, gan_loss
from toolkit.nn.norm import NORM_LAYERS
from toolkit.nn.resnet import ResnetBlock, conv_branch, resnet_decoder, resnet_encoder
from toolkit.nn.trainer import StepContext, TrainableMethod, TrainingSetup
from toolkit.pose.encode import gaussian_heatmaps
from toolkit.pose.sequence import PoseSequence
from toolkit.pose.skeleton import BODY_18
from toolkit.train.schedules import hold_then_linear_decay

from ._generator import OneGenerator

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
    """PATN's settings, with the original's defaults. Fields left None take the ``dataset`` preset.

    Args:
        dataset: ``"market"`` (default) or ``"deepfashion"``: a key of :data:`DATASET_PRESETS`.
        height: Canvas height the networks work at; frames are letterboxed into ``width x height``. A
            multiple of 4. Preset: 128 / 256.
        width: Canvas width, a multiple of 4. Preset: 64 / 176.
        base_channels: Generator width ``ngf``. Default 64.
        blocks: Pose-Attentional Transfer Blocks. Default 9.
        disc_channels: Discriminator width ``ndf``. Default 64.
        disc_blocks: Residual blocks of each discriminator (the original's ``n_layers_D``). Default 3.
        norm: ``"batch"`` or ``"instance"`` (``toolkit.nn.norm.NORM_LAYERS``). Preset.
        dropout: Generator dropout in each block's branches (the original's ``use_dropout``, 0.5); 0 turns
            it off. Default 0.5.
        disc_dropout: Discriminator dropout in its residual blocks. Default 0.5.
        sigma: Heatmap Gaussian standard deviation in pixels. Default 6.
        gan_loss: A name in ``toolkit.nn.losses.GAN_LOSSES``. Preset: ``"vanilla"`` / ``"lsgan"``.
        gan_weight: Weight of the GAN terms (``lambda_GAN``). Default 5.
        l1_weight: Weight of the L1 term (``lambda_A``). Preset: 10 / 1.
        perceptual_weight: Weight of the relu1_2 perceptual L1 term (``lambda_B``); 0 turns it off.
            Preset: 10 / 1.
        vgg19_weights: File with torchvision's ``vgg19`` ImageNet state dict, needed when
            ``perceptual_weight > 0``.
        lr: Adam learning rate. Default 2e-4.
        beta1: Adam beta1. Default 0.5.
        beta2: Adam beta2. Default 0.999.
        decay_from: Fraction of the steps after which the learning rate decays linearly to 0. Default 5/7.
        inference_batch: Target poses per generator call in :meth:`Patn.transfer`. Default 16.
    """

    dataset: str = "market"
    height: int | None = None
    width: int | None = None
    base_channels: int = 64
    blocks: int = 9
    disc_channels: int = 64
    disc_blocks: int = 3
    norm: str | None = None
    dropout: float = 0.5
    disc_dropout: float = 0.5
    sigma: float = 6.0
    gan_loss: str | None = None
    gan_weight: float = 5.0
    l1_weight: float | None = None
    perceptual_weight: float | None = None
    vgg19_weights: str | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_from: float = 5 / 7
    inference_batch: int = 16

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_PRESETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASET_PRESETS)}")
        for name, value in DATASET_PRESETS[self.dataset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name, registry in (("norm", NORM_LAYERS), ("gan_loss", GAN_LOSSES)):
            if getattr(self, name) not in registry:
                raise ValueError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(registry)}"
                )
        for name in ("height", "width", "base_channels", "blocks", "disc_channels", "inference_batch"):
            check_count(name, getattr(self, name))
        check_count("disc_blocks", self.disc_blocks, minimum=0)
        if self.height % 2**DOWNSAMPLINGS or self.width % 2**DOWNSAMPLINGS:  # type: ignore[operator]
            raise ValueError(f"height and width must be multiples of 4, got {self.width}x{self.height}")
        if not (0 <= self.dropout < 1 and 0 <= self.disc_dropout < 1):
            raise ValueError("dropout and disc_dropout must be in [0, 1)")
        weights = (self.gan_weight, self.l1_weight, self.perceptual_weight, self.lr)
        if min(weights) < 0 or self.sigma <= 0 or not 0 <= self.decay_from <= 1:  # type: ignore[type-var]
            raise ValueError(
                "gan_weight, l1_weight, perceptual_weight and lr must be >= 0, sigma > 0 and "
                "decay_from in [0, 1]"
            )


# ---- networks -----------------------------------------------------------------------------------------


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
    return PatnGenerator(config.base_channels, config.blocks, config.norm, config.dropout)  # type: ignore[arg-type]


def build_discriminators(config: PatnConfig) -> dict[str, ResnetDiscriminator]:
    """``{"d_pb": on image + target heatmaps (3 + 18), "d_pp": on image + source image (3 + 3)}``."""
    c = config
    return {
        name: ResnetDiscriminator(channels, c.disc_channels, c.disc_blocks, c.norm, c.disc_dropout)  # type: ignore[arg-type]
        for name, channels in (("d_pb", 3 + JOINTS), ("d_pp", 3 + 3))
    }


# ---- data ---------------------------------------------------------------------------------------------


def pose_heatmaps(poses: PoseSequence, sigma: float = 6.0) -> torch.Tensor:
    """``(T, 18, H, W)`` float32 Gaussian heatmaps in [0, 1] of ``poses`` on their canvas (BODY_18)."""
    body = poses.to_layout(BODY_18.name)
    return torch.from_numpy(gaussian_heatmaps(body.keypoints, body.width, body.height, sigma=sigma))


class SourceTargetPairs(Dataset):
    """Training pairs of PATN from one subject's frames, letterboxed into ``width x height``.

    Item ``i`` has frame ``i`` as its target. A key ``(i, draw)`` takes as source a frame other than ``i``
    drawn with ``numpy.random.default_rng(draw)``, so that a run and its resumed continuation see the same
    pairs; a plain index ``i`` (sample grids) takes the frame half the dataset away.

    Args:
        frames: The subject's frames.
        width, height: Network canvas.
        sigma: Heatmap standard deviation in pixels. Default 6.

    Items are dicts: ``source``, ``target`` ``(3, H, W)`` in [-1, 1]; ``source_pose``, ``target_pose``
    ``(18, H, W)`` in [0, 1]; ``index``.
    """

    def __init__(self, frames: SubjectFrames, width: int, height: int, sigma: float = 6.0) -> None:
        box = Letterbox(*frames.poses.canvas, width, height)
        self.images = np.stack([box.image(image) for image in frames.images])
        self.poses = box.poses(frames.poses).to_layout(BODY_18.name)
        self.sigma = sigma

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        index, draw = (key, None) if isinstance(key, (int, np.integer)) else key
        index, count = int(index), len(self)
        if draw is None:
            source = (index + count // 2) % count
        else:
            # A different frame when there is one: uniform over the other count - 1.
            source = int(np.random.default_rng(draw).integers(max(count - 1, 1)))
            source += int(count > 1 and source >= index)
        maps = pose_heatmaps(self.poses[[source, index]], self.sigma)
        return {
            "source": image_to_tensor(self.images[source]),
            "source_pose": maps[0],
            "target": image_to_tensor(self.images[index]),
            "target_pose": maps[1],
            "index": index,
        }


# ---- the method ---------------------------------------------------------------------------------------


@register_method("patn")
class Patn(OneGenerator[PatnGenerator], TrainableMethod):
    """PATN: renders the person of a source image in target poses.

    Args:
        config: A :class:`PatnConfig` or a mapping of its fields (training options are ignored here and
            used by ``fit``). Default ``PatnConfig()`` (Market-1501's settings).
    """

    name: ClassVar[str]
    config_class: ClassVar[type] = PatnConfig
    uses_source: ClassVar[bool] = True
    # In eval mode a frame depends only on the source and its own target pose.
    frame_independent: ClassVar[bool] = True

    def __init__(self, config: PatnConfig | Mapping[str, Any] | None = None) -> None:
        self.config = self.parse_config(config)
        self.generator: PatnGenerator | None = None
        self._perceptual: VGGPerceptualLoss | None = None

    # -- training

    def build_generator(self) -> PatnGenerator:
        """A freshly initialised generator for ``self.config`` (the module's :func:`build_generator`)."""
        return build_generator(self.config)

    def training_setup(self, train_data: SubjectFrames, device: torch.device) -> TrainingSetup:
        """Build the pairs, the generator (N(0, 0.02) init, as the original), the two discriminators
        (PyTorch's default init: the original does not re-initialise them), three Adam optimizers and, if
        asked, the perceptual loss.

        Raises:
            PerceptualWeightsError: ``perceptual_weight > 0`` without ``vgg19_weights``, at start-up.
        """
        c = self.config
        self._perceptual = None
        if c.perceptual_weight > 0:  # type: ignore[operator]
            self._perceptual = VGGPerceptualLoss.from_file(
                c.vgg19_weights, PERCEPTUAL_LAYERS, (1.0,), device=device
            )
        dataset = SourceTargetPairs(train_data, c.width, c.height, c.sigma)  # type: ignore[arg-type]
        generator = init_weights(build_generator(c)).to(device)
        models: dict[str, nn.Module] = {"generator": generator}
        models.update({k: d.to(device) for k, d in build_discriminators(c).items()})
        self.generator = generator
        betas = (c.beta1, c.beta2)
        optimizers = {k: torch.optim.Adam(m.parameters(), lr=c.lr, betas=betas) for k, m in models.items()}
        return TrainingSetup(dataset, models, optimizers)

    def learning_rate(self, step: int, steps: int) -> float:
        """``lr`` for the first ``decay_from`` of the steps, then linear towards 0."""
        return hold_then_linear_decay(self.config.lr, step, steps, self.config.decay_from)

    def training_step(self, batch: dict[str, torch.Tensor], context: StepContext) -> dict[str, float]:
        """One PATN iteration: the generator on its L1, perceptual and GAN losses, then D_PP, then D_PB."""
        c, objective = self.config, gan_loss(self.config.gan_loss)  # type: ignore[arg-type]
        models, optimizers = context.models, context.optimizers
        generator, d_pb, d_pp = models["generator"], models["d_pb"], models["d_pp"]
        for optimizer in optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(context.step, context.steps)
        source, target = batch["source"], batch["target"]  # (B, 3, H, W)
        target_pose = batch["target_pose"]  # (B, 18, H, W)
        fake = generator(source, torch.cat([batch["source_pose"], target_pose], 1))

        # 1. The generator: look like the target, and fool both discriminators (their mean).
        for d in (d_pb, d_pp):
            d.requires_grad_(False)
        optimizers["generator"].zero_grad(set_to_none=True)
        loss_gan = 0.5 * (
            objective.generator(d_pb(torch.cat([fake, target_pose], 1)))
            + objective.generator(d_pp(torch.cat([fake, source], 1)))
        )
        loss_l1 = F.l1_loss(fake, target)
        loss_g = c.gan_weight * loss_gan + c.l1_weight * loss_l1  # type: ignore[operator]
        losses = {"g_gan": loss_gan.item(), "g_l1": loss_l1.item()}
        if self._perceptual is not None:
            loss_vgg = self._perceptual(fake, target)
            loss_g = loss_g + c.perceptual_weight * loss_vgg  # type: ignore[operator]
            losses["g_vgg"] = loss_vgg.item()
        context.backward(loss_g)
        optimizers["generator"].step()

        # 2. The discriminators, each on (real, condition) vs (generated, condition).
        fake = fake.detach()
        pairs = {
            "d_pp": (torch.cat([target, source], 1), torch.cat([fake, source], 1)),
            "d_pb": (torch.cat([target, target_pose], 1), torch.cat([fake, target_pose], 1)),
        }
        for name, (real_pair, fake_pair) in pairs.items():
            d = models[name]
            d.requires_grad_(True)
            optimizers[name].zero_grad(set_to_none=True)
            loss_d = c.gan_weight * objective.discriminator(d(real_pair), d(fake_pair))
            context.backward(loss_d)
            optimizers[name].step()
            losses[name] = loss_d.item()
        return losses

    def sample_grid(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """Rows of source | target pose | generated | target for the samples of ``batch``."""
        poses = torch.cat([batch["source_pose"], batch["target_pose"]], 1)
        generated = tensor_to_images(self.generate(batch["source"], poses))
        pose = tensor_to_images(batch["target_pose"].amax(1, keepdim=True).expand(-1, 3, -1, -1) * 2 - 1)
        columns = (tensor_to_images(batch["source"]), pose, generated, tensor_to_images(batch["target"]))
        rows = [list(row) for row in zip(*columns, strict=True)]
        return grid(rows, column_labels=["source", "target pose", "generated", "target"])

    # -- inference

    @torch.inference_mode()
    def generate(self, source: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        """``(T, 3, H, W)`` source images and ``(T, 36, H, W)`` source + target heatmaps -> ``(T, 3, H, W)``
        in [-1, 1], in eval mode (the generator's mode is restored), ``inference_batch`` at a time."""
        net = self._generator()
        device, was_training = next(net.parameters()).device, net.training
        step = self.config.inference_batch
        net.eval()
        try:
            return torch.cat(
                [
                    net(source[k : k + step].to(device), poses[k : k + step].to(device))
                    for k in range(0, len(poses), step)
                ]
            )
        finally:
            net.train(was_training)

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """The person of ``source_images[0]`` (posed as ``source_poses[0]``) in every pose of
        ``target_poses``: ``(T, H, W, 3)`` uint8 on the target canvas. Both canvases are letterboxed into
        the network's ``width x height``."""
        if not (isinstance(source_images, np.ndarray) and source_images.ndim == 4 and len(source_images)):
            raise ValueError(
                f"source_images must be a non-empty (S, H, W, 3) array, got {np.shape(source_images)}"
            )
        if len(source_poses) < 1 or source_poses.canvas != (source_images.shape[2], source_images.shape[1]):
            raise ValueError(
                f"source_poses must hold a pose on the {source_images.shape[2]}x{source_images.shape[1]} "
                f"canvas of the source images, got {len(source_poses)} on {source_poses.width}x"
                f"{source_poses.height}"
            )
        c = self.config
        source_box = Letterbox(*source_poses.canvas, c.width, c.height)  # type: ignore[arg-type]
        target_box = Letterbox(*target_poses.canvas, c.width, c.height)  # type: ignore[arg-type]
        count = len(target_poses)
        source = image_to_tensor(source_box.image(source_images[0]))[None].expand(count, -1, -1, -1)
        source_map = pose_heatmaps(source_box.poses(source_poses[:1]), c.sigma)
        target_maps = pose_heatmaps(target_box.poses(target_poses), c.sigma)
        poses = torch.cat([source_map.expand(count, -1, -1, -1), target_maps], 1)
        frames = tensor_to_images(self.generate(source, poses))
        return np.stack([target_box.undo(frame) for frame in frames])
