"""The PATN method: training wiring (setup, schedule, step), inference, saving."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from toolkit.checks import lookup
from toolkit.data.datasets import Letterbox, image_to_tensor, tensor_to_images
from toolkit.data.media import grid
from toolkit.data.subject import SubjectFrames
from toolkit.methods import register_method
from toolkit.nn.init import init_weights
from toolkit.nn.losses import VGGPerceptualLoss, gan_loss
from toolkit.nn.trainer import StepContext, TrainableMethod, TrainingSetup
from toolkit.pose.sequence import PoseSequence
from toolkit.train.schedules import hold_then_linear_decay

from .._generator import OneGenerator
from .data import SourceTargetPairs, pose_heatmaps
from .model import (
    DATASET_PRESETS,
    PERCEPTUAL_LAYERS,
    PatnConfig,
    PatnGenerator,
    build_discriminators,
    build_generator,
)


@register_method("patn")
class Patn(OneGenerator[PatnGenerator], TrainableMethod):
    """PATN: renders the person of a source image in target poses.

    Args:
        config: A :class:`PatnConfig` or a mapping of its fields, which may name a ``dataset`` preset
            (training options are ignored here and used by ``fit``). Default ``PatnConfig()``
            (Market-1501's settings).
    """

    name: ClassVar[str]
    config_class: ClassVar[type] = PatnConfig
    uses_source: ClassVar[bool] = True
    # In eval mode a frame depends only on the source and its own target pose.
    frame_independent: ClassVar[bool] = True

    @classmethod
    def setting_names(cls) -> frozenset[str]:
        """The config's fields, and ``dataset``: a mapping may name the preset it starts from."""
        return super().setting_names() | {"dataset"}

    @classmethod
    def parse_config(cls, values: Any) -> PatnConfig:
        """The settings from a :class:`PatnConfig` or a mapping of its fields; a mapping's ``dataset``
        (``"market"`` or ``"deepfashion"``) is the preset its other fields go on top of
        (:meth:`PatnConfig.preset`)."""
        if isinstance(values, Mapping) and "dataset" in values:
            given = {key: value for key, value in values.items() if key != "dataset"}
            values = {**lookup(DATASET_PRESETS, values["dataset"], "dataset"), **given}
        return super().parse_config(values)

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
        if c.perceptual_weight > 0:
            self._perceptual = VGGPerceptualLoss.from_file(
                c.vgg19_weights, PERCEPTUAL_LAYERS, (1.0,), device=device
            )
        dataset = SourceTargetPairs(train_data, c.width, c.height, c.sigma)
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
        c, objective = self.config, gan_loss(self.config.gan_loss)
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
        loss_g = c.gan_weight * loss_gan + c.l1_weight * loss_l1
        losses = {"g_gan": loss_gan.item(), "g_l1": loss_l1.item()}
        if self._perceptual is not None:
            loss_vgg = self._perceptual(fake, target)
            loss_g = loss_g + c.perceptual_weight * loss_vgg
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
        source_box = Letterbox(*source_poses.canvas, c.width, c.height)
        target_box = Letterbox(*target_poses.canvas, c.width, c.height)
        count = len(target_poses)
        source = image_to_tensor(source_box.image(source_images[0]))[None].expand(count, -1, -1, -1)
        source_map = pose_heatmaps(source_box.poses(source_poses[:1]), c.sigma)
        target_maps = pose_heatmaps(target_box.poses(target_poses), c.sigma)
        poses = torch.cat([source_map.expand(count, -1, -1, -1), target_maps], 1)
        frames = tensor_to_images(self.generate(source, poses))
        return np.stack([target_box.undo(frame) for frame in frames])
