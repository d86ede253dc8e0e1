"""Train an OpenPose ``ControlNetModel`` on a frozen base model, from skeleton images and frames.

The ControlNet starts as ``ControlNetModel.from_unet(base.unet)`` (zero convolutions at zero) and learns
the denoising loss (epsilon or v, as the base's scheduler says) of the frozen UNet it steers. Half of the
captions are dropped to "", as the ControlNet paper trains: with no text to go on, the network must read
the pose from the skeleton. The base is the mini model, any Stable Diffusion 1.x diffusers folder or hub
id, or ``tiny`` (:func:`toolkit.diffusion.loading.resolve_source`). Skeletons are drawn in the run's
keypoint ``layout`` by :func:`~toolkit.diffusion.mini.data.control_image`; the layout is written beside the
weights, in ``control.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ...manifest import write_manifest
from ..loading import ModelLoadError, resolve_source
from ..tiny import tiny_components
from .config import build_controlnet
from .data import MiniDataset
from .latents import LATENTS_DIR, encode_frames
from .loop import LoopOptions, train_stage
from .train_base import UNetLoss, export_copy

if TYPE_CHECKING:
    from accelerate import Accelerator

CONTROLNET_DIR = "controlnet"
CONTROL_FILE = "control.json"
CONTROL_CAPTION_DROPOUT = 0.5


@dataclass(frozen=True)
class ControlNetRun:
    """A ControlNet training run.

    Args:
        base: Base model spec: a diffusers folder (the mini model's ``OUTPUT/model``), a hub id or
            ``"tiny"``.
        layout: Keypoint layout of the skeleton images. Default ``"body_18"`` (OpenPose).
        loop: Steps, batch size, learning rate, seed, checkpoints, logging.
        caption_dropout: Fraction of captions replaced by "". Default 0.5 (Zhang et al. 2023).
        snr_gamma: Min-SNR loss weighting (5 is the paper's); None is plain MSE.
        half: Store the ControlNet in float16. Default True.
    """

    base: str
    loop: LoopOptions
    layout: str = "body_18"
    caption_dropout: float = CONTROL_CAPTION_DROPOUT
    snr_gamma: float | None = None
    half: bool = True


def load_base(spec: str) -> dict[str, Any]:
    """``vae``, ``text_encoder``, ``tokenizer``, ``unet`` and ``scheduler`` (which says what the UNet
    predicts) of a Stable Diffusion 1.x base, float32 on the CPU; a one-line :class:`ModelLoadError` when
    it cannot be loaded."""
    from diffusers import StableDiffusionPipeline

    source = resolve_source(spec, "base model", "--base")
    if source.kind == "tiny":
        return tiny_components()
    try:
        path = source.path if source.kind == "folder" else spec
        pipe = StableDiffusionPipeline.from_pretrained(
            path, dtype=torch.float32, safety_checker=None, local_files_only=source.kind == "folder"
        )
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
        reason = " ".join(str(err).split())[:240]
        raise ModelLoadError(
            f"cannot load the base model {spec!r}: {reason}; --base takes a diffusers folder or a hub id"
        ) from None
    return {
        "vae": pipe.vae,
        "text_encoder": pipe.text_encoder,
        "tokenizer": pipe.tokenizer,
        "unet": pipe.unet,
        "scheduler": pipe.scheduler,
    }


class ControlNetLoss(UNetLoss):
    """:class:`UNetLoss` of the frozen ``unet`` and ``text_encoder`` steered by the trained ControlNet."""

    def __init__(self, unet: Any, text_encoder: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unet, self.text_encoder = unet, text_encoder

    def __call__(
        self, controlnet: Any, batch: dict[str, Any], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        noisy, timesteps, ids, target = self.inputs(batch, generator)
        with torch.no_grad():
            text = self.text_encoder(ids)[0]  # (B, 77, text_width)
        down, mid = controlnet(
            noisy,
            timesteps,
            encoder_hidden_states=text,
            controlnet_cond=batch["conditioning"],
            return_dict=False,
        )
        prediction = self.unet(
            noisy,
            timesteps,
            encoder_hidden_states=text,
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
        ).sample
        return self.loss(prediction, target, timesteps)


def train_controlnet(run: ControlNetRun, dataset: MiniDataset, accelerator: Accelerator) -> Path:
    """Train, then save the ControlNet to ``output/controlnet`` (diffusers folder, safetensors, float16
    with ``run.half``, plus ``control.json`` naming the layout) and ``output/manifest.json``.

    ``dataset`` must be built with ``control=True`` and ``layout=run.layout``. Returns the folder.
    """
    if not dataset.control or dataset.layout != run.layout:
        raise ValueError(
            f"the dataset must give {run.layout} skeleton images: MiniDataset(..., control=True)"
        )
    began = time.perf_counter()
    base = load_base(run.base)
    frozen = [base["vae"], base["text_encoder"], base["unet"]]
    for model in frozen:
        model.to(accelerator.device).requires_grad_(False).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(run.loop.seed)
        scale = 2 ** (len(base["vae"].config.block_out_channels) - 1)
        controlnet = build_controlnet(base["unet"], scale)
    loss = ControlNetLoss(
        base["unet"],
        vae=base["vae"],
        text_encoder=base["text_encoder"],
        tokenizer=base["tokenizer"],
        caption_dropout=run.caption_dropout,
        snr_gamma=run.snr_gamma,
        prediction_type=base["scheduler"].config.prediction_type,
    )
    encoded = encode_frames(dataset, base["vae"], run.loop.output / LATENTS_DIR, progress=run.loop.progress)
    train_stage(CONTROLNET_DIR, controlnet, encoded, loss, run.loop, accelerator)
    folder = run.loop.output / CONTROLNET_DIR
    if accelerator.is_main_process:
        export_copy(accelerator.unwrap_model(controlnet), run.half).save_pretrained(
            folder, safe_serialization=True
        )
        (folder / CONTROL_FILE).write_text(json.dumps({"layout": run.layout}) + "\n")
        write_manifest(
            run.loop.output,
            seed=run.loop.seed,
            options={"base": run.base, "layout": run.layout, "steps": run.loop.steps},
            models={"base": run.base},
            timings={"controlnet": time.perf_counter() - began},
            outputs={"controlnet": str(folder)},
        )
    accelerator.wait_for_everyone()
    return folder
