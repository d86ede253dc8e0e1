"""Image-to-image: re-render existing frames (a walk cycle, a video) as the subject, pose by pose.

Each pose frame is paired with the source frame of the same index. The source is encoded by the VAE,
noised to the timestep that ``strength`` picks (1: pure noise, as text-to-image; 0.3: keep most of the
source), and denoised by diffusers' ``StableDiffusionControlNetImg2ImgPipeline`` under the ControlNet's
pose. The noise is the run's :class:`~.noise.FrameNoise`, so noise modes, resume and batching behave as in
text-to-image.

torch and diffusers are imported on first use, so that the command line can read the defaults.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ToolkitError
from .reference import fit_to_canvas

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetImg2ImgPipeline, StableDiffusionControlNetPipeline

DEFAULT_STRENGTH = 0.75


def check_strength(strength: float, steps: int) -> None:
    """Raise ``ValueError`` unless ``strength`` in (0, 1] leaves at least one of ``steps`` to run."""
    if not (math.isfinite(strength) and 0.0 < strength <= 1.0):
        raise ValueError(f"--strength must be in (0, 1], got {strength}")
    if int(steps * strength) < 1:
        raise ValueError(
            f"--strength {strength} with {steps} steps runs no denoising step; raise --strength or --steps"
        )


@dataclass(frozen=True)
class InitFrames:
    """Source frames fitted to the canvas, one per pose frame.

    Args:
        frames: ``(T, H, W, 3)`` uint8.
        source: The file or folder they came from, for the manifest.
        strength: How far each is noised, in (0, 1].
    """

    frames: np.ndarray
    source: str
    strength: float = DEFAULT_STRENGTH

    @classmethod
    def read(cls, path: str | Path, count: int, width: int, height: int, strength: float) -> InitFrames:
        """The first ``count`` frames of a video, a folder of images or an image file, fitted to the
        canvas; raises :class:`~toolkit.errors.ToolkitError` if there are fewer than ``count``."""
        from ..data.media import iter_media

        frames = []
        for frame in iter_media(path):
            frames.append(fit_to_canvas(frame, width, height))
            if len(frames) == count:
                break
        if len(frames) < count:
            raise ToolkitError(
                f"{path}: {len(frames)} frame(s) for {count} poses; --init needs one frame per pose"
            )
        return cls(np.stack(frames), str(path), strength)

    def fingerprint(self) -> dict[str, Any]:
        """What decides the pixels: the fitted frames' SHA-256 and the strength."""
        return {"sha256": hashlib.sha256(self.frames.tobytes()).hexdigest(), "strength": self.strength}


def img2img_pipeline(pipe: StableDiffusionControlNetPipeline) -> StableDiffusionControlNetImg2ImgPipeline:
    """The img2img ControlNet pipeline on the same modules as ``pipe`` (LoRAs, speed options and
    attention processors included: nothing is copied)."""
    from diffusers import StableDiffusionControlNetImg2ImgPipeline

    img2img = StableDiffusionControlNetImg2ImgPipeline(**pipe.components)
    img2img.set_progress_bar_config(disable=True)
    return img2img


def noised_init_latents(
    pipe: StableDiffusionControlNetImg2ImgPipeline,
    frames: np.ndarray,
    noise: torch.Tensor,
    steps: int,
    strength: float,
) -> torch.Tensor:
    """The starting latents of an img2img call: the VAE posterior means of ``frames`` ``(N, H, W, 3)``
    uint8, scaled, and noised with ``noise`` ``(N, C, h, w)`` to the first timestep the pipeline runs with
    ``steps`` and ``strength`` (diffusers' rule: the last ``int(steps * strength)`` steps)."""
    import torch

    scheduler = pipe.scheduler
    scheduler.set_timesteps(steps)
    start = steps - min(int(steps * strength), steps)
    timestep = scheduler.timesteps[start * scheduler.order].reshape(1).repeat(len(frames))
    device, dtype = pipe._execution_device, pipe.unet.dtype
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        latents = pipe.vae.encode(pixels.to(device, pipe.vae.dtype)).latent_dist.mean
    latents = (latents * pipe.vae.config.scaling_factor).to(dtype)
    return scheduler.add_noise(latents, noise.to(device, dtype), timestep)
