"""The two-stage pose-to-video network of Ren et al. ("Human motion transfer from poses in the wild",
ECCV workshops 2020), for one subject.

1. **Stage I (Pose2Video)**: a pix2pixHD global generator ``G1`` (``toolkit.nn.pix2pixhd``) maps the
   stacked limb line maps of a window of poses (frames ``t - K .. t + K``, K = 2, one channel per limb
   each) to frame t.
2. **Stage II (texture refinement)**: a second generator ``G2`` of the same kind maps the stacked Stage I
   outputs of the same window to a refined frame t. G1 is trained first, then frozen while G2 trains
   (``stage1_steps``, then ``stage2_steps``; :meth:`TwoStage.stage_at` says which a step belongs to).
3. **Discriminators**, pix2pixHD's multi-scale PatchGANs with intermediate features:
   - ``D_p`` judges (pose window, frame) pairs;
   - ``D_t`` judges M = 3 consecutive frames stacked, for temporal coherence;
   - ``D_w`` (``unpaired``) judges frames alone: frames generated from poses with no ground truth
     (other motions, performed by other bodies: ``toolkit.pose.motions``) against random real frames.
4. **Losses**: LSGAN on every discriminator, pix2pixHD's feature matching on D_p and D_t (weight 10), and
   a reconstruction term (weight 10): VGG19 features when ``vgg19_weights`` is given, L1 otherwise (or
   as the config's ``reconstruction`` says; its ``reconstruction_loss`` is the one used).
5. **Pose augmentation** (``augment``): Ren et al.'s corruptions from ``toolkit.pose.ops.augment``
   (joint and limb drop, jitter, limb-length scaling), seeded by the trainer's per-sample draw.

Windows at the ends of a sequence repeat the edge frame: the sequence behaves as if its first and last
poses were held (:func:`window_indices`), in training and in :meth:`TwoStage.transfer` alike.

The paper's ablation ladder is :data:`ABLATIONS` (``TwoStageConfig.ablation(name)``): ``pl-stage1``, a
single pose-to-frame generator without augmentation whose window has past frames only (``t - K .. t``, so
that it stays a causal, frame-by-frame generator; the future frames are what the next rung adds), then
``+da``, ``+future``, ``+stage2`` and ``+unpaired`` (the full model, the default), each adding one switch.

The frames of ``train_data`` are treated as one sequence; a window that crosses from one clip into the
next sees both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from toolkit.checks import check_choice, check_count, lookup
from toolkit.data.datasets import (
    Letterbox,
    encode_poses,
    image_to_tensor,
    letterbox_frames,
    tensor_to_images,
)
from toolkit.data.media import grid
from toolkit.data.subject import SubjectFrames
from toolkit.errors import ToolkitError
from toolkit.methods import register_method
from toolkit.nn.init import init_weights
from toolkit.nn.io import module_state, module_states, read_method, write_method
from toolkit.nn.losses import GAN_LOSSES, VGGPerceptualLoss, gan_loss, reconstruction_loss
from toolkit.nn.pix2pixhd import FeatureDiscriminator, GlobalGenerator, feature_matching_loss, logits
from toolkit.nn.trainer import StepContext, TrainableMethod, TrainingSetup
from toolkit.pose.motions import MOTIONS, make_motion
from toolkit.pose.ops import AugmentConfig, augment_poses
from toolkit.pose.sequence import PoseSequence
from toolkit.pose.skeleton import BODY_18
from toolkit.train.schedules import hold_then_linear_decay

NUM_LIMBS = len(BODY_18.limbs)

# Unpaired poses: each motion rendered once, on a body with average proportions, this many frames.
UNPAIRED_FRAMES = 48


@dataclass(frozen=True)
class TwoStageConfig:
    """Ren et al.'s settings, with the paper's defaults (pix2pixHD's where the paper defers to it).

    Args:
        size: Square side the networks work at, a multiple of ``2**downsamplings``; frames of other
            canvases are letterboxed into it. Default 256.
        window: K: the window holds frames ``t - K .. t + K`` (``t - K .. t`` without ``future_frames``).
            Default 2.
        future_frames: Whether windows reach into the future. Default True.
        augment: Ren et al.'s pose augmentation during training. Default True.
        drop_joint, drop_limb, jitter, limb_scale: Its strengths (``AugmentConfig``; ``jitter`` in pixels
            of the ``size`` square). Defaults 0.05, 0.02, 2.0, 0.1.
        stage2: Train and use the texture-refinement stage. Default True.
        unpaired: Train with the unpaired discriminator D_w. Default True.
        unpaired_motions: Motions (``toolkit.pose.motions``) that supply D_w's poses.
        foreground_only: Paint everything outside ``SubjectFrames.masks`` in ``background`` (the paper's
            solid-background setting); needs masks. Default False.
        background: RGB of that background. Default white.
        base_channels: ``ngf`` of both generators. Default 64.
        downsamplings: Generator downsamplings. Default 4.
        blocks: Generator residual blocks. Default 9.
        disc_channels: ``ndf`` of every discriminator. Default 64.
        disc_layers: PatchGAN stride-2 layers. Default 3.
        disc_scales: Scales (``num_D``) of every discriminator. Default 2.
        temporal_frames: M, the frames D_t sees stacked. Default 3.
        gan_loss: A name in ``GAN_LOSSES``. Default ``"lsgan"``.
        feature_matching_weight: lambda_FM. Default 10.
        reconstruction_weight: Weight of the VGG (or L1) term. Default 10.
        vgg19_weights: File with torchvision's ``vgg19`` state dict; None uses L1 instead.
        reconstruction: ``"vgg"`` or ``"l1"``; None (default) means ``"vgg"`` when ``vgg19_weights`` is
            given, else ``"l1"``. :attr:`reconstruction_loss` is the one used.
        lr, beta1, beta2: Adam's settings. Defaults 2e-4, 0.5, 0.999.
        stage1_steps: Steps that train G1. Default 1000.
        stage2_steps: Steps that then train G2 (ignored without ``stage2``). Default 1000.
        decay_from: Fraction of each stage after which its learning rate decays linearly to 0. Default 0.5.
        inference_batch: Frames per generator call in :meth:`TwoStage.transfer`. Default 8.
    """

    size: int = 256
    window: int = 2
    future_frames: bool = True
    augment: bool = True
    drop_joint: float = 0.05
    drop_limb: float = 0.02
    jitter: float = 2.0
    limb_scale: float = 0.1
    stage2: bool = True
    unpaired: bool = True
    unpaired_motions: tuple[str, ...] = ("run", "jumping_jack", "squat", "dance")
    foreground_only: bool = False
    background: tuple[int, int, int] = (255, 255, 255)
    base_channels: int = 64
    downsamplings: int = 4
    blocks: int = 9
    disc_channels: int = 64
    disc_layers: int = 3
    disc_scales: int = 2
    temporal_frames: int = 3
    gan_loss: str = "lsgan"
    feature_matching_weight: float = 10.0
    reconstruction_weight: float = 10.0
    vgg19_weights: str | None = None
    reconstruction: str | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    stage1_steps: int = 1000
    stage2_steps: int = 1000
    decay_from: float = 0.5
    inference_batch: int = 8

    def __post_init__(self) -> None:
        positive = (
            "size", "base_channels", "downsamplings", "disc_channels", "disc_layers", "disc_scales",
            "temporal_frames", "stage1_steps", "stage2_steps", "inference_batch",
        )  # fmt: skip
        for name in (*positive, "window", "blocks"):
            check_count(name, getattr(self, name), minimum=int(name in positive))
        if self.size % 2**self.downsamplings:
            raise ValueError(
                f"size {self.size} must be a multiple of 2**downsamplings = {2**self.downsamplings}"
            )
        check_choice(self.gan_loss, GAN_LOSSES, "gan_loss")
        unknown = [m for m in self.unpaired_motions if m not in MOTIONS]
        if unknown or (self.unpaired and not self.unpaired_motions):
            raise ValueError(f"unpaired_motions must name motions among {', '.join(MOTIONS)}, got {unknown}")
        if len(self.background) != 3 or not all(0 <= v <= 255 for v in self.background):
            raise ValueError(f"background must be three values in 0..255, got {self.background!r}")
        if min(self.feature_matching_weight, self.reconstruction_weight, self.lr) < 0:
            raise ValueError("feature_matching_weight, reconstruction_weight and lr must be >= 0")
        if not 0 <= self.decay_from <= 1:
            raise ValueError(f"decay_from must be in [0, 1], got {self.decay_from!r}")
        AugmentConfig(self.drop_joint, self.drop_limb, self.jitter, self.limb_scale)  # checks the strengths
        if self.reconstruction_loss == "vgg" and self.vgg19_weights is None:
            raise ValueError("reconstruction='vgg' needs vgg19_weights (a torchvision vgg19 state dict)")

    @property
    def reconstruction_loss(self) -> str:
        """The reconstruction loss used, ``"vgg"`` or ``"l1"`` (``toolkit.nn.losses.reconstruction_loss``)."""
        return reconstruction_loss(self.reconstruction, self.vgg19_weights)

    @classmethod
    def ablation(cls, name: str, **overrides: Any) -> TwoStageConfig:
        """The config of the ablation rung ``name`` in :data:`ABLATIONS`, with ``overrides``."""
        return cls(**{**lookup(ABLATIONS, name, "ablation"), **overrides})

    @property
    def augmentation(self) -> AugmentConfig:
        return AugmentConfig(self.drop_joint, self.drop_limb, self.jitter, self.limb_scale)

    @property
    def window_offsets(self) -> tuple[int, ...]:
        """Frame offsets of a generator's window, oldest first."""
        return tuple(range(-self.window, (self.window if self.future_frames else 0) + 1))

    @property
    def temporal_offsets(self) -> tuple[int, ...]:
        """Offsets of the M frames D_t sees: centred on t, or ending at t without future frames."""
        m = self.temporal_frames
        first = -(m // 2) if self.future_frames else 1 - m
        return tuple(range(first, first + m))

    @property
    def stage1_offsets(self) -> tuple[int, ...]:
        """Offsets of the Stage I frames a training sample generates: D_t's frames, and with Stage II
        every frame of their windows too."""
        if not self.stage2:
            return self.temporal_offsets
        return tuple(sorted({g + w for g in self.temporal_offsets for w in self.window_offsets}))

    @property
    def reach(self) -> int:
        """R: a training sample holds the poses at offsets ``-R .. R`` around its frame."""
        return max(abs(s + w) for s in self.stage1_offsets for w in self.window_offsets)

    @property
    def total_steps(self) -> int:
        return self.stage1_steps + (self.stage2_steps if self.stage2 else 0)


# The paper's ablation ladder: each rung adds one switch to the one before.
ABLATIONS: dict[str, dict[str, bool]] = {
    "pl-stage1": {"augment": False, "future_frames": False, "stage2": False, "unpaired": False},
    "+da": {"augment": True, "future_frames": False, "stage2": False, "unpaired": False},
    "+future": {"augment": True, "future_frames": True, "stage2": False, "unpaired": False},
    "+stage2": {"augment": True, "future_frames": True, "stage2": True, "unpaired": False},
    "+unpaired": {"augment": True, "future_frames": True, "stage2": True, "unpaired": True},
}


def window_indices(length: int, offsets: Sequence[int], centres: Sequence[int] | None = None) -> np.ndarray:
    """Frame indices of windows on a sequence of ``length`` frames whose edge frames repeat.

    Args:
        length: Frames in the sequence, >= 1.
        offsets: Offsets of a window's frames from its centre, e.g. ``(-2, -1, 0, 1, 2)``.
        centres: Window centres (may lie outside the sequence); default every frame.

    Returns:
        ``(len(centres), len(offsets))`` int64: ``clip(centre + offset, 0, length - 1)``.
    """
    if length < 1:
        raise ValueError("a window needs a sequence of at least one frame")
    centres = np.arange(length) if centres is None else np.asarray(centres)
    return np.clip(centres[:, None] + np.asarray(offsets)[None], 0, length - 1).astype(np.int64)


def stack_windows(maps: torch.Tensor, positions: np.ndarray) -> torch.Tensor:
    """Stack frames into generator inputs.

    Args:
        maps: ``(B, F, C, H, W)`` frames (pose maps or Stage I outputs).
        positions: ``(N, W)`` indices into F: N windows of W frames each.

    Returns:
        ``(B * N, W * C, H, W)``, sample-major, each window's frames oldest first.
    """
    stacked = maps[:, torch.as_tensor(positions, device=maps.device)]  # (B, N, W, C, H, W)
    return stacked.flatten(2, 3).flatten(0, 1)


# ---- data ---------------------------------------------------------------------------------------------


def solid_background(frames: SubjectFrames, color: Sequence[int]) -> SubjectFrames:
    """``frames`` with every pixel outside its masks set to ``color`` (RGB)."""
    if frames.masks is None:
        raise ValueError("foreground_only needs foreground masks: give SubjectFrames with masks")
    fill = np.asarray(color, dtype=np.uint8)
    images = np.where(frames.masks[..., None], frames.images, fill)
    return SubjectFrames(images, frames.poses, frames.masks, frames.name)


def unpaired_poses(config: TwoStageConfig, fps: float) -> list[PoseSequence]:
    """D_w's poses: one loop of each of ``config.unpaired_motions`` on the ``size`` square."""
    side = config.size
    return [
        make_motion(m, UNPAIRED_FRAMES, fps, side, side, seed=k)
        for k, m in enumerate(config.unpaired_motions)
    ]


class WindowDataset(Dataset):
    """Training samples of the two-stage network: a frame with the poses and frames around it.

    A key is an index t (the clean sample, for sample grids) or ``(t, draw)``: the sample with its random
    choices (pose augmentation, D_w's real frame and unpaired poses) drawn from
    ``numpy.random.default_rng(draw)``.

    Args:
        frames: The subject's frames, already on the ``size`` square.
        config: The method's settings.
        unpaired: D_w's pose sequences on the same square, or None.

    Items: ``poses (2R+1, L, S, S)`` limb line maps in [-1, 1] at offsets ``-R .. R``
    (``config.reach``); ``frames (M, 3, S, S)`` the real frames at ``config.temporal_offsets``;
    ``random_frame (3, S, S)``; with ``unpaired``, ``unpaired (2R+1, L, S, S)``; and ``index``.
    """

    def __init__(
        self, frames: SubjectFrames, config: TwoStageConfig, unpaired: Sequence[PoseSequence] | None = None
    ) -> None:
        self.frames, self.config = frames, config
        self.unpaired = list(unpaired or [])
        self.span = tuple(range(-config.reach, config.reach + 1))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        index, draw = (key, None) if isinstance(key, (int, np.integer)) else key
        index = int(index)
        rng = np.random.default_rng(draw) if draw is not None else None
        n = len(self.frames)
        # Every draw is made whatever the config, so switching augmentation off leaves the others alone.
        partner = index if rng is None else int(rng.integers(n))
        source = index if rng is None else int(rng.integers(1 << 30))
        augment_seed = None if rng is None else int(rng.integers(1 << 62))

        poses = self.frames.poses[window_indices(n, self.span, [index])[0]]
        if augment_seed is not None and self.config.augment:
            poses = augment_poses(poses, augment_seed, self.config.augmentation)
        real = window_indices(n, self.config.temporal_offsets, [index])[0]
        item: dict[str, torch.Tensor | int] = {
            "poses": torch.from_numpy(encode_poses(poses, "limbs")),
            "frames": torch.stack([image_to_tensor(self.frames.images[i]) for i in real]),
            "random_frame": image_to_tensor(self.frames.images[partner]),
            "index": index,
        }
        if self.unpaired:
            motion = self.unpaired[source % len(self.unpaired)]
            centre = source // len(self.unpaired)
            at = window_indices(len(motion), self.span, [centre % len(motion)])[0]
            item["unpaired"] = torch.from_numpy(encode_poses(motion[at], "limbs"))
        return item


# ---- the method ---------------------------------------------------------------------------------------


@register_method("two-stage")
class TwoStage(TrainableMethod):
    """Ren et al.'s two-stage pose-to-video network, trained on one subject.

    Args:
        config: A :class:`TwoStageConfig` or a mapping of its fields (training options are ignored here
            and used by ``fit``). Default ``TwoStageConfig()``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type] = TwoStageConfig
    # The subject is in the weights; a frame depends on its neighbours' poses.
    uses_source: ClassVar[bool] = False
    frame_independent: ClassVar[bool] = False

    def __init__(self, config: TwoStageConfig | Mapping[str, Any] | None = None) -> None:
        self.config = self.parse_config(config)
        self.generators: dict[str, GlobalGenerator] = {}
        self._perceptual: VGGPerceptualLoss | None = None
        self._stage = 1

    # -- networks

    def build_generator(self, stage: int) -> GlobalGenerator:
        """A fresh G1 (``stage=1``, on stacked limb maps) or G2 (``stage=2``, on stacked Stage I frames)."""
        c = self.config
        per_frame = NUM_LIMBS if stage == 1 else 3
        channels = len(c.window_offsets) * per_frame
        return GlobalGenerator(channels, 3, c.base_channels, c.downsamplings, c.blocks, "instance")

    def build_discriminators(self) -> dict[str, FeatureDiscriminator]:
        """D_p on (pose window, frame), D_t on M stacked frames, and with ``unpaired`` D_w on frames."""
        c = self.config
        inputs = {"d_p": len(c.window_offsets) * NUM_LIMBS + 3, "d_t": 3 * c.temporal_frames}
        if c.unpaired:
            inputs["d_w"] = 3
        return {
            name: FeatureDiscriminator(channels, c.disc_scales, c.disc_channels, c.disc_layers, "instance")
            for name, channels in inputs.items()
        }

    def stage_at(self, step: int) -> int:
        """The stage step ``step`` (from 1) trains: 1 for the first ``stage1_steps``, then 2 (with
        ``stage2``)."""
        return 2 if self.config.stage2 and step > self.config.stage1_steps else 1

    # -- training

    def run_defaults(self) -> dict[str, Any]:
        """``steps`` defaults to ``stage1_steps + stage2_steps``."""
        return {"steps": self.config.total_steps}

    def training_setup(self, train_data: SubjectFrames, device: torch.device) -> TrainingSetup:
        """Build the dataset, both generators, the discriminators, their optimizers and, with
        ``vgg19_weights``, the perceptual loss."""
        c = self.config
        self._perceptual = None
        if c.reconstruction_loss == "vgg":
            self._perceptual = VGGPerceptualLoss.from_file(c.vgg19_weights, device=device)
        frames = solid_background(train_data, c.background) if c.foreground_only else train_data
        frames = letterbox_frames(frames, c.size)
        unpaired = unpaired_poses(c, frames.poses.fps) if c.unpaired else None
        dataset = WindowDataset(frames, c, unpaired)

        stages = (1, 2) if c.stage2 else (1,)
        self.generators = {f"g{s}": init_weights(self.build_generator(s)).to(device) for s in stages}
        discriminators = {k: init_weights(d).to(device) for k, d in self.build_discriminators().items()}
        betas = (c.beta1, c.beta2)
        optimizers = {
            name: torch.optim.Adam(g.parameters(), lr=c.lr, betas=betas)
            for name, g in self.generators.items()
        }
        d_params = [p for d in discriminators.values() for p in d.parameters()]
        optimizers["discriminators"] = torch.optim.Adam(d_params, lr=c.lr, betas=betas)
        return TrainingSetup(dataset, {**self.generators, **discriminators}, optimizers)

    def learning_rate(self, step: int) -> float:
        """``lr`` for the first ``decay_from`` of the current stage's steps, then linear towards 0."""
        c = self.config
        if self.stage_at(step) == 2:
            step, steps = step - c.stage1_steps, c.stage2_steps
        else:
            steps = c.stage1_steps
        return hold_then_linear_decay(c.lr, step, steps, c.decay_from)

    def training_step(self, batch: dict[str, torch.Tensor], context: StepContext) -> dict[str, float]:
        """One iteration of the current stage: generate the M frames D_t sees (and for D_w one frame from
        unpaired poses), update the discriminators, then the stage's generator."""
        c, objective, models = self.config, gan_loss(self.config.gan_loss), context.models
        self._stage = stage = self.stage_at(context.step)
        generator_name = f"g{stage}"
        opt_g, opt_d = context.optimizers[generator_name], context.optimizers["discriminators"]
        for optimizer in (opt_g, opt_d):
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(context.step)
        models["g1"].requires_grad_(stage == 1)
        discriminators = {k: models[k] for k in ("d_p", "d_t", "d_w") if k in models}

        # 1. Generate: (B, M, 3, S, S) frames at D_t's offsets, and their pose windows for D_p.
        poses, real = batch["poses"], batch["frames"]
        fake = self._generate_at(models, poses, c.temporal_offsets, stage)
        condition = stack_windows(poses, self._positions(c.temporal_offsets))  # (B * M, W * L, S, S)
        real_flat, fake_flat = real.flatten(0, 1), fake.flatten(0, 1)
        inputs = {
            "d_p": (torch.cat([condition, real_flat], 1), torch.cat([condition, fake_flat], 1)),
            "d_t": (real.flatten(1, 2), fake.flatten(1, 2)),
        }
        if "d_w" in discriminators:
            unpaired = self._generate_at(models, batch["unpaired"], (0,), stage)[:, 0]  # (B, 3, S, S)
            inputs["d_w"] = (batch["random_frame"], unpaired)

        # 2. The discriminators: real towards real, generated towards fake.
        for d in discriminators.values():
            d.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        loss_d = sum(
            objective.discriminator(logits(discriminators[k](r)), logits(discriminators[k](f.detach())))
            for k, (r, f) in inputs.items()
        )
        context.backward(loss_d)
        opt_d.step()

        # 3. The generator: fool every D, match D_p's and D_t's features, reconstruct the real frames.
        for d in discriminators.values():
            d.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        losses = {"d": loss_d.item()}
        loss_g = fake.new_zeros(())
        for k, (r, f) in inputs.items():
            on_fake = discriminators[k](f)
            loss_gan = objective.generator(logits(on_fake))
            loss_g = loss_g + loss_gan
            losses[f"g_gan_{k}"] = loss_gan.item()
            if k != "d_w":
                with torch.no_grad():
                    on_real = discriminators[k](r)
                loss_fm = feature_matching_loss(on_fake, on_real)
                loss_g = loss_g + c.feature_matching_weight * loss_fm
                losses[f"g_fm_{k}"] = loss_fm.item()
        if self._perceptual is not None:
            loss_rec = self._perceptual(fake_flat, real_flat)
        else:
            loss_rec = F.l1_loss(fake_flat, real_flat)
        loss_g = loss_g + c.reconstruction_weight * loss_rec
        losses[f"g_{c.reconstruction_loss}"] = loss_rec.item()
        context.backward(loss_g)
        opt_g.step()
        losses["stage"] = float(stage)
        return losses

    def _positions(self, centres: Sequence[int]) -> np.ndarray:
        """Indices into a sample's ``-R .. R`` pose span of the windows centred on ``centres`` (offsets)."""
        reach = self.config.reach
        return np.array([[reach + c + w for w in self.config.window_offsets] for c in centres])

    def _generate_at(
        self, models: Mapping[str, nn.Module], poses: torch.Tensor, centres: Sequence[int], stage: int
    ) -> torch.Tensor:
        """Frames at offsets ``centres`` of ``(B, 2R+1, L, S, S)`` pose spans, through G1 (and G2 for
        ``stage=2``, G1 frozen): ``(B, len(centres), 3, S, S)``."""
        b = poses.shape[0]
        if stage == 1:
            return models["g1"](stack_windows(poses, self._positions(centres))).unflatten(
                0, (b, len(centres))
            )
        offsets = self.config.window_offsets
        needed = sorted({c + w for c in centres for w in offsets})
        with torch.no_grad():
            first = models["g1"](stack_windows(poses, self._positions(needed))).unflatten(0, (b, len(needed)))
        positions = np.array([[needed.index(c + w) for w in offsets] for c in centres])
        return models["g2"](stack_windows(first, positions)).unflatten(0, (b, len(centres)))

    def sample_grid(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """Rows of pose | Stage I | (Stage II, once it trains) | target for the samples of ``batch``."""
        stages = range(1, self._stage + 1)
        generated = [
            tensor_to_images(self._generate_at(self.generators, batch["poses"], (0,), s)[:, 0])
            for s in stages
        ]
        centre = batch["poses"][:, self.config.reach].amax(1, keepdim=True).expand(-1, 3, -1, -1)
        columns = [
            tensor_to_images(centre),
            *generated,
            tensor_to_images(batch["frames"][:, self.config.temporal_offsets.index(0)]),
        ]
        rows = [list(row) for row in zip(*columns, strict=True)]
        return grid(rows, column_labels=["pose", *(f"stage {s}" for s in stages), "target"])

    # -- inference

    @torch.inference_mode()
    def render(self, poses: PoseSequence) -> torch.Tensor:
        """``(T, 3, S, S)`` frames in [-1, 1] for poses on the ``size`` square, edge frames repeated.

        Stage I runs on the frames ``-a .. T - 1 + b`` (a, b: how far Stage II's window reaches back and
        forward), each from its window of poses; Stage II then refines every frame from its window of
        Stage I frames.
        """
        g1 = self._generator("g1")
        device = next(g1.parameters()).device
        c, count = self.config, len(poses)
        maps = torch.from_numpy(encode_poses(poses, "limbs")).to(device)[None]  # (1, T, L, S, S)
        offsets = c.window_offsets
        use_stage2 = c.stage2 and "g2" in self.generators
        back, forward = (-offsets[0], offsets[-1]) if use_stage2 else (0, 0)
        centres = np.arange(-back, count + forward)
        first = self._batched(g1, maps, window_indices(count, offsets, centres))  # (T + a + b, 3, S, S)
        if not use_stage2:
            return first
        positions = np.arange(count)[:, None] + back + np.asarray(offsets)[None]
        return self._batched(self._generator("g2"), first[None], positions)

    def _batched(self, net: nn.Module, frames: torch.Tensor, positions: np.ndarray) -> torch.Tensor:
        step = self.config.inference_batch
        return torch.cat(
            [net(stack_windows(frames, positions[k : k + step])) for k in range(0, len(positions), step)]
        )

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 frames of the trained subject in ``target_poses`` (a sequence: each frame
        sees its neighbours' poses), on their canvas. The source images are not used."""
        box = Letterbox.square(*target_poses.canvas, self.config.size)
        frames = tensor_to_images(self.render(box.poses(target_poses).to_layout("body_18")))
        return np.stack([box.undo(frame) for frame in frames])

    def _generator(self, name: str) -> GlobalGenerator:
        if name not in self.generators:
            raise ToolkitError(f"{self.name} has no trained {name}: call fit(), or load() a saved one")
        return self.generators[name]

    # -- files

    def save(self, directory: Path) -> None:
        """Write the generators (``model.safetensors``, keys ``g1.*`` and ``g2.*``) and ``config.json``."""
        self._generator("g1")
        state = module_states(self.generators)
        write_method(directory, self.name, self.config, state, extra={"generators": sorted(self.generators)})

    @classmethod
    def load(cls, directory: Path) -> TwoStage:
        record, tensors = read_method(directory, cls.name)
        method = cls(record["config"])
        for name in record.get("generators", ["g1"]):
            generator = method.build_generator(int(name[1:]))
            generator.load_state_dict(module_state(tensors, name))
            method.generators[name] = generator.eval()
        return method
