"""Validation grids (the subject rendered in fixed poses through the ControlNet) and the metric logs.

The poses are one frame of each of a few procedural motions (``toolkit.pose.motions``), the same in every
validation, drawn as OpenPose skeletons. Every image starts from the same seeded latents, so successive
grids differ only by what the LoRA has learnt. The grid has the skeletons in its top row and the images
below.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...data.media import grid, write_image
from ...pose.motions import make_motion
from ..controls import control_images

if TYPE_CHECKING:
    from diffusers import StableDiffusionControlNetPipeline

VALIDATION_DIR = "validation"
# A quarter into each motion's cycle: away from the rest pose most motions start in.
_PHASE_FRAME, _FRAMES = 2, 8


def validation_controls(motions: Sequence[str], resolution: int) -> np.ndarray:
    """``(M, R, R, 3)`` uint8 skeleton images: one fixed frame of each motion on an ``R x R`` canvas."""
    poses = [
        make_motion(m, frames=_FRAMES, width=resolution, height=resolution)[_PHASE_FRAME] for m in motions
    ]
    return control_images(poses[0].concatenate(poses))


def render_validation(
    pipe: StableDiffusionControlNetPipeline,
    controls: np.ndarray,
    prompt_embeds: torch.Tensor,
    *,
    steps: int,
    seed: int,
    controlnet_scale: float = 1.0,
) -> np.ndarray:
    """Render one image per skeleton and lay them out under the skeletons.

    Args:
        pipe: The pipeline with the model being trained (adapters active, in eval mode).
        controls: ``(M, R, R, 3)`` uint8 skeleton images.
        prompt_embeds: ``(1, 77, D)`` instance-prompt embeddings.
        steps: Denoising steps.
        seed: Seed of the initial latents (the same for every validation).
        controlnet_scale: ControlNet conditioning scale. Default 1.

    Returns:
        ``(H, W, 3)`` uint8 grid image.
    """
    count, size = len(controls), controls.shape[1]
    device, dtype = pipe._execution_device, pipe.unet.dtype
    generator = torch.Generator("cpu").manual_seed(seed)
    shape = (
        count,
        pipe.unet.config.in_channels,
        size // pipe.vae_scale_factor,
        size // pipe.vae_scale_factor,
    )
    latents = torch.randn(shape, generator=generator).to(device, dtype)
    image = torch.from_numpy(controls).permute(0, 3, 1, 2).float() / 255.0
    # The sampler may draw from the global generator; training's random stream must not depend on it.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        frames = pipe(
            prompt_embeds=prompt_embeds.expand(count, -1, -1).to(device, dtype),
            image=image.to(device, dtype),
            latents=latents,
            num_inference_steps=steps,
            guidance_scale=1.0,
            controlnet_conditioning_scale=controlnet_scale,
            height=size,
            width=size,
            output_type="np",
        ).images
    frames_u8 = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)
    return grid([list(controls), list(frames_u8)], gap=2)


def save_grid(folder: Path, step: int, image: np.ndarray) -> Path:
    """Write ``folder/validation/step-<step>.png`` atomically; returns its path."""
    path = folder / VALIDATION_DIR / f"step-{step:06d}.png"
    write_image(path, image)
    return path
