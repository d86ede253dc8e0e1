"""The posewarp methods: training wiring (setup, schedule, step), inference, saving, a debug grid."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np
import torch

from toolkit.data.datasets import Letterbox, image_to_tensor, tensor_to_images
from toolkit.data.media import grid
from toolkit.data.subject import SubjectFrames
from toolkit.methods import register_method
from toolkit.nn.losses import gan_loss
from toolkit.nn.trainer import StepContext, TrainableMethod, TrainingSetup
from toolkit.pose.sequence import PoseSequence

from .._generator import OneGenerator
from .data import PairsDataset, layout_keypoints, prepare_inputs
from .losses import RECONSTRUCTION_LOSSES, VGG_STATISTICS_FRAMES, Reconstruction
from .model import PosewarpConfig, PosewarpDiscriminator, PosewarpGenerator, PosewarpInputs


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
        loss = RECONSTRUCTION_LOSSES[c.reconstruction_loss]
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
        losses = {
            "d": float("nan"),
            "g_gan": float("nan"),
            f"g_{self.config.reconstruction_loss}": float("nan"),
        }

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
        losses[f"g_{self.config.reconstruction_loss}"] = loss_rec.item()
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
