"""pix2pix (Isola et al., "Image-to-image translation with conditional adversarial networks", CVPR 2017)
for pose transfer, as the seed paper used it:

- ``pix2pix-pose2pics``: a pose rendering in, the subject's frame out. It learns from the subject's own
  frames (pose -> frame), or, with a ``driver`` (person A), from A's poses paired by k-NN with B's frames.
- ``pix2pix-pics2pics``: an image of A in, an image of B out, learnt from frames of A's and B's videos
  paired by k-NN on their poses. At ``transfer`` time A is shown in the target poses first: rendered, when
  A is a procedural mannequin (``driver="mannequin:SEED"``), or retrieved from A's frames.

The networks and losses are pix2pix's: a U-Net generator with skips and dropout (``toolkit.nn.unet``), a
70x70 PatchGAN (or pix2pixHD's multi-scale stack) judging (input, image) pairs, the conditional GAN loss
plus ``l1_weight`` (100) times L1, Adam at 2e-4 with beta1 0.5, and the learning rate held then decayed
linearly to 0. :class:`Pix2PixConfig` carries these defaults. An optional VGG19 perceptual term
(pix2pixHD's) needs ImageNet weights from a file; it is off by default, as in the paper.

At test time pix2pix keeps dropout on and normalises with the test batch's own statistics ("we apply
dropout at test time, and we apply batch normalization using the statistics of the test batch"): that is
``inference="train-mode"`` (the default), run one frame at a time, each frame's dropout seeded from its
input so that the same pose always gives the same frame. ``"eval-mode"`` uses the running statistics and
no dropout, and batches frames.

Training goes through ``toolkit.nn.trainer.train``, from ``fit`` as from ``training/baseline.py``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from toolkit.checks import check_choice, check_count
from toolkit.data.datasets import (
    Augmentation,
    Letterbox,
    PairDataset,
    encode_poses,
    image_to_tensor,
    knn_pairs,
    load_subject_frames,
    mannequin_frames,
    pose_encoding,
    tensor_to_images,
)
from toolkit.data.media import grid
from toolkit.data.subject import SubjectFrames
from toolkit.methods import register_method
from toolkit.nn.discriminators import MultiScaleDiscriminator, PatchDiscriminator
from toolkit.nn.init import init_weights
from toolkit.nn.losses import GAN_LOSSES, VGGPerceptualLoss, gan_loss
from toolkit.nn.norm import NORM_LAYERS
from toolkit.nn.trainer import StepContext, TrainableMethod, TrainingSetup
from toolkit.nn.unet import UNetGenerator, unet_generator
from toolkit.pose.match import FEATURES, nearest
from toolkit.pose.sequence import PoseSequence
from toolkit.train.schedules import hold_then_linear_decay

from ._generator import OneGenerator

# pix2pix's U-Net for each image size: the depth that brings it to 1x1 at the bottleneck.
GENERATORS: dict[int, str] = {64: "unet_64", 128: "unet_128", 256: "unet_256"}

# A mannequin driver performs these motions, one 48-frame loop each, with its own build and timing.
MANNEQUIN_DRIVER_MOTIONS = ("walk", "wave", "squat", "dance")
MANNEQUIN_PREFIX = "mannequin:"


@dataclass(frozen=True)
class Pix2PixConfig:
    """pix2pix's settings, with the paper's defaults.

    Args:
        size: Square image side the networks work at: 64, 128 or 256 (``GENERATORS``); frames of other
            canvases are letterboxed into it. Default 256.
        encoding: pose2pics' input, a name in ``toolkit.data.datasets.POSE_ENCODINGS`` (``"openpose"``,
            ``"heatmaps"``, ``"limbs"``). Default ``"openpose"``. Ignored by pics2pics.
        base_channels: Generator width ``ngf``. Default 64.
        disc_channels: Discriminator width ``ndf``. Default 64.
        disc_layers: PatchGAN stride-2 layers; 3 gives 70x70 patches. Default 3.
        discriminator: ``"patch"`` (pix2pix) or ``"multiscale"`` (pix2pixHD, ``disc_scales`` PatchGANs).
        disc_scales: Scales of the multi-scale discriminator. Default 2.
        norm: ``"batch"`` (default) or ``"instance"`` (``toolkit.nn.norm.NORM_LAYERS``).
        dropout: Generator dropout in its innermost decoder blocks. Default 0.5.
        gan_loss: A name in ``toolkit.nn.losses.GAN_LOSSES``. Default ``"vanilla"``, the paper's cGAN loss.
        l1_weight: Weight of the L1 term (lambda). Default 100.
        perceptual_weight: Weight of the VGG19 perceptual term; 0 (default, as in the paper) turns it off.
        vgg19_weights: File with torchvision's ``vgg19`` ImageNet state dict, needed when
            ``perceptual_weight > 0``.
        lr: Adam learning rate. Default 2e-4.
        beta1: Adam beta1. Default 0.5.
        beta2: Adam beta2. Default 0.999.
        decay_from: Fraction of the steps after which the learning rate decays linearly to 0 (pix2pix's 100
            + 100 epochs). Default 0.5.
        jitter: Random jitter (``toolkit.data.datasets.Augmentation``); pix2pix's 286 -> 256. Default 30/256.
        flip: Random mirroring. Default False (clothes are rarely symmetric).
        driver: Person A: a folder of A's frames (``load_subject_frames`` layout) or ``"mannequin:SEED"``
            for a procedural mannequin. pose2pics: None (default) learns from the subject's own poses.
            pics2pics: required; its default is ``"mannequin:1000"``.
        pair_feature: Pose feature for the k-NN pairing of A with B (``toolkit.pose.match.FEATURES``).
            Default ``"angle"``.
        inference: ``"train-mode"`` (the paper's test time, default) or ``"eval-mode"`` (``INFERENCE``).
        inference_batch: Frames per generator call in ``"eval-mode"``. Default 16.
    """

    size: int = 256
    encoding: str = "openpose"
    base_channels: int = 64
    disc_channels: int = 64
    disc_layers: int = 3
    discriminator: str = "patch"
    disc_scales: int = 2
    norm: str = "batch"
    dropout: float = 0.5
    gan_loss: str = "vanilla"
    l1_weight: float = 100.0
    perceptual_weight: float = 0.0
    vgg19_weights: str | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_from: float = 0.5
    jitter: float = 30 / 256
    flip: bool = False
    driver: str | None = None
    pair_feature: str = "angle"
    inference: str = "train-mode"
    inference_batch: int = 16

    def __post_init__(self) -> None:
        if self.size not in GENERATORS:
            raise ValueError(f"size must be one of {', '.join(map(str, GENERATORS))}, got {self.size!r}")
        pose_encoding(self.encoding)
        registries = {
            "discriminator": DISCRIMINATORS,
            "norm": NORM_LAYERS,
            "gan_loss": GAN_LOSSES,
            "pair_feature": FEATURES,
            "inference": INFERENCE,
        }
        for name, registry in registries.items():
            check_choice(getattr(self, name), registry, name)
        for name in ("base_channels", "disc_channels", "disc_layers", "disc_scales", "inference_batch"):
            check_count(name, getattr(self, name))
        if min(self.l1_weight, self.perceptual_weight, self.lr) < 0 or not 0 <= self.decay_from <= 1:
            raise ValueError("l1_weight, perceptual_weight and lr must be >= 0, and decay_from in [0, 1]")
        Augmentation(self.jitter, self.flip)


DISCRIMINATORS: dict[str, Callable[[int, Pix2PixConfig], nn.Module]] = {
    "patch": lambda channels, c: PatchDiscriminator(channels, c.disc_channels, c.disc_layers, c.norm),
    "multiscale": lambda channels, c: MultiScaleDiscriminator(
        channels, c.disc_scales, c.disc_channels, c.disc_layers, c.norm
    ),
}


# ---- test-time behaviour ------------------------------------------------------------------------------


def _frame_seed(x: torch.Tensor) -> int:
    """A seed from a frame's input: the same pose (or image) always gets the same dropout noise."""
    digest = hashlib.blake2b(x.detach().float().cpu().numpy().tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@contextmanager
def _mode(net: nn.Module, training: bool) -> Iterator[None]:
    """Run ``net`` in train or eval mode, leaving its mode and batch-norm running statistics as found."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training, tracked = net.training, [m.track_running_stats for m in norms]
    net.train(training)
    # With tracking off, batch norm in train mode normalises with the batch's statistics and leaves the
    # running ones untouched.
    for m in norms:
        m.track_running_stats = m.track_running_stats and not training
    try:
        yield
    finally:
        net.train(was_training)
        for m, value in zip(norms, tracked, strict=True):
            m.track_running_stats = value


@torch.inference_mode()
def _generate_train_mode(net: nn.Module, inputs: torch.Tensor, batch: int) -> torch.Tensor:
    """The paper's test time: one frame per call, dropout on (seeded from the frame), batch statistics."""
    outputs = []
    with _mode(net, training=True):
        for x in inputs:
            with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
                torch.manual_seed(_frame_seed(x))
                outputs.append(net(x[None]))
    return torch.cat(outputs)


@torch.inference_mode()
def _generate_eval_mode(net: nn.Module, inputs: torch.Tensor, batch: int) -> torch.Tensor:
    """Running statistics and no dropout: frames are independent, so they are batched."""
    with _mode(net, training=False):
        return torch.cat([net(inputs[k : k + batch]) for k in range(0, len(inputs), batch)])


INFERENCE: dict[str, Callable[[nn.Module, torch.Tensor, int], torch.Tensor]] = {
    "train-mode": _generate_train_mode,
    "eval-mode": _generate_eval_mode,
}


# ---- person A -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Driver:
    """Person A: frames with poses, and, for a procedural mannequin, its seed (then A can be rendered in
    any pose)."""

    frames: SubjectFrames
    mannequin: int | None = None

    @classmethod
    def load(cls, spec: str, canvas: tuple[int, int]) -> Driver:
        """``spec`` is ``"mannequin:SEED"`` (rendered on a square as large as ``canvas``) or a folder."""
        if spec.startswith(MANNEQUIN_PREFIX):
            try:
                seed = int(spec[len(MANNEQUIN_PREFIX) :])
            except ValueError:
                raise ValueError(f"driver {spec!r}: expected mannequin:SEED with an integer seed") from None
            frames = mannequin_frames(seed, motions=MANNEQUIN_DRIVER_MOTIONS, frames=48, size=max(canvas))
            return cls(frames, seed)
        return cls(load_subject_frames(spec))

    def images_for(self, poses: PoseSequence) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 frames of A in ``poses``, on their canvas: rendered for a mannequin, else
        A's frames with the nearest poses (letterboxed if A was filmed on another canvas)."""
        if self.mannequin is not None:
            return mannequin_frames(self.mannequin, poses).images
        picks = nearest(poses, self.frames.poses)[0][:, 0].numpy()
        box = Letterbox(*self.frames.poses.canvas, *poses.canvas)
        return np.stack([box.image(self.frames.images[i]) for i in picks])


# ---- the methods --------------------------------------------------------------------------------------


class _Pix2Pix(OneGenerator[UNetGenerator], TrainableMethod, ABC):
    """What pose2pics and pics2pics share; they differ in their input and in what they learn from."""

    name: ClassVar[str]
    config_class: ClassVar[type] = Pix2PixConfig
    image_input: ClassVar[bool]
    # The subject is in the weights, and a frame depends only on its own pose (see INFERENCE).
    uses_source: ClassVar[bool] = False
    frame_independent: ClassVar[bool] = True

    def __init__(self, config: Pix2PixConfig | Mapping[str, Any] | None = None) -> None:
        self.config = self.parse_config(config)
        self.generator: UNetGenerator | None = None
        self._driver: Driver | None = None
        self._perceptual: VGGPerceptualLoss | None = None

    @property
    def input_channels(self) -> int:
        return 3 if self.image_input else pose_encoding(self.config.encoding).channels

    def build_generator(self) -> UNetGenerator:
        """A fresh generator for this config (pix2pix's init is applied by ``training_setup``)."""
        c = self.config
        return unet_generator(
            GENERATORS[c.size],
            self.input_channels,
            3,
            base_channels=c.base_channels,
            norm=c.norm,
            dropout=c.dropout,
        )

    # -- training

    def training_setup(self, train_data: SubjectFrames, device: torch.device) -> TrainingSetup:
        """Build the dataset, generator, discriminator, optimizers and (if asked) the perceptual loss.

        Raises:
            PerceptualWeightsError: ``perceptual_weight > 0`` without ``vgg19_weights``, at start-up.
        """
        c = self.config
        self._perceptual = None
        if c.perceptual_weight > 0:
            self._perceptual = VGGPerceptualLoss.from_file(c.vgg19_weights, device=device)
        dataset = self._dataset(train_data)
        generator = init_weights(self.build_generator()).to(device)
        discriminator = init_weights(DISCRIMINATORS[c.discriminator](self.input_channels + 3, c)).to(device)
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

    @abstractmethod
    def _dataset(self, train_data: SubjectFrames) -> PairDataset:
        """The training pairs."""

    def _pairs(self, train_data: SubjectFrames, driver: str) -> tuple[SubjectFrames, np.ndarray]:
        """A's frames and, for each, the index of B's frame with the nearest pose."""
        self._driver = Driver.load(driver, train_data.poses.canvas)
        a = self._driver.frames
        return a, knn_pairs(a.poses, train_data.poses, self.config.pair_feature)

    def learning_rate(self, step: int, steps: int) -> float:
        """pix2pix's schedule: ``lr`` for the first ``decay_from`` of the steps, then linear towards 0."""
        return hold_then_linear_decay(self.config.lr, step, steps, self.config.decay_from)

    def training_step(self, batch: dict[str, torch.Tensor], context: StepContext) -> dict[str, float]:
        """One pix2pix iteration: update D on (input, real) vs (input, fake), then G on the GAN, L1 (and
        perceptual) losses."""
        c, objective = self.config, gan_loss(self.config.gan_loss)
        generator, discriminator = context.models["generator"], context.models["discriminator"]
        opt_g, opt_d = context.optimizers["generator"], context.optimizers["discriminator"]
        for optimizer in (opt_g, opt_d):
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(context.step, context.steps)
        condition, real = batch["input"], batch["target"]  # (B, C, S, S), (B, 3, S, S)
        fake = generator(condition)

        # 1. The discriminator: real pairs towards real, generated pairs towards fake.
        discriminator.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        loss_d = objective.discriminator(
            discriminator(torch.cat([condition, real], 1)),
            discriminator(torch.cat([condition, fake.detach()], 1)),
        )
        context.backward(loss_d)
        opt_d.step()

        # 2. The generator: fool D, and stay close to the target (L1, optionally VGG features).
        discriminator.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss_gan = objective.generator(discriminator(torch.cat([condition, fake], 1)))
        loss_l1 = F.l1_loss(fake, real)
        loss_g = loss_gan + c.l1_weight * loss_l1
        losses = {"d": loss_d.item(), "g_gan": loss_gan.item(), "g_l1": loss_l1.item()}
        if self._perceptual is not None:
            loss_vgg = self._perceptual(fake, real)
            loss_g = loss_g + c.perceptual_weight * loss_vgg
            losses["g_vgg"] = loss_vgg.item()
        context.backward(loss_g)
        opt_g.step()
        return losses

    def sample_grid(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """Rows of input | generated | target for the samples of ``batch``."""
        generated = tensor_to_images(self.generate(batch["input"]))
        inputs, targets = _visible(batch["input"]), tensor_to_images(batch["target"])
        rows = [list(row) for row in zip(inputs, generated, targets, strict=True)]
        return grid(rows, column_labels=["input", "generated", "target"])

    # -- inference

    def generate(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(T, C, S, S)`` network inputs -> ``(T, 3, S, S)`` outputs in [-1, 1], by the configured
        ``inference`` mode, on the generator's device."""
        net = self._generator()
        device = next(net.parameters()).device
        return INFERENCE[self.config.inference](net, inputs.to(device), self.config.inference_batch)

    def _render(self, inputs: torch.Tensor, box: Letterbox) -> np.ndarray:
        return np.stack([box.undo(frame) for frame in tensor_to_images(self.generate(inputs))])

    def saved_extra(self) -> dict[str, Any]:
        return {"input_channels": self.input_channels}


def _visible(inputs: torch.Tensor) -> np.ndarray:
    """``(B, C, S, S)`` inputs as ``(B, S, S, 3)`` uint8 pictures: RGB as it is, maps as their maximum."""
    if inputs.shape[1] == 3:
        return tensor_to_images(inputs)
    return tensor_to_images(inputs.amax(1, keepdim=True).expand(-1, 3, -1, -1))


@register_method("pix2pix-pose2pics")
class Pix2PixPose2Pics(_Pix2Pix):
    """pix2pix from a pose rendering (``encoding``) to the subject's frame.

    Args:
        config: A :class:`Pix2PixConfig` or a mapping of its fields (training options are ignored here
            and used by ``fit``). Default ``Pix2PixConfig()``.
    """

    image_input: ClassVar[bool] = False

    def _dataset(self, train_data: SubjectFrames) -> PairDataset:
        c = self.config
        inputs, pairs = (train_data, None) if c.driver is None else self._pairs(train_data, c.driver)
        augmentation = Augmentation(c.jitter, c.flip)
        return PairDataset(
            inputs, train_data, pairs, encoding=c.encoding, side=c.size, augmentation=augmentation
        )

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 frames of the trained subject in ``target_poses``, on their canvas. The
        source images are not used: the subject is the one the generator learnt."""
        box = Letterbox.square(*target_poses.canvas, self.config.size)
        inputs = torch.from_numpy(encode_poses(box.poses(target_poses), self.config.encoding))
        return self._render(inputs, box)


@register_method("pix2pix-pics2pics")
class Pix2PixPics2Pics(_Pix2Pix):
    """pix2pix from an image of person A (the ``driver``) to the same moment of subject B.

    Args:
        config: As for :class:`Pix2PixPose2Pics`; ``driver`` defaults to ``"mannequin:1000"``.
    """

    image_input: ClassVar[bool] = True
    DEFAULT_DRIVER: ClassVar[str] = "mannequin:1000"

    @classmethod
    def setting_defaults(cls) -> dict[str, Any]:
        return {"driver": cls.DEFAULT_DRIVER}

    def _dataset(self, train_data: SubjectFrames) -> PairDataset:
        c = self.config
        inputs, pairs = self._pairs(train_data, c.driver)  # type: ignore[arg-type]
        augmentation = Augmentation(c.jitter, c.flip)
        return PairDataset(inputs, train_data, pairs, encoding=None, side=c.size, augmentation=augmentation)

    def translate(self, images: np.ndarray) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 frames of A -> the same moments of B, ``(T, H, W, 3)`` uint8."""
        box = Letterbox.square(images.shape[2], images.shape[1], self.config.size)
        inputs = torch.stack([image_to_tensor(box.image(image)) for image in images])
        return self._render(inputs, box)

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """Show the driver A in ``target_poses`` (``Driver.images_for``), then :meth:`translate` it to B:
        ``(T, H, W, 3)`` uint8 on the target canvas. The source images are not used."""
        if self._driver is None:
            self._driver = Driver.load(self.config.driver, target_poses.canvas)  # type: ignore[arg-type]
        return self.translate(self._driver.images_for(target_poses))
