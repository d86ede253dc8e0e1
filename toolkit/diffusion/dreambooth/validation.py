"""Validation grids (the subject rendered in fixed poses through the ControlNet) and the metric logs.

The poses are one frame of each of a few procedural motions (``toolkit.pose.motions``), the same in every
validation, drawn as OpenPose skeletons. Every image starts from the same seeded latents, so successive
grids differ only by what the LoRA has learnt. The grid has the skeletons in its top row and the images
below.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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


class MetricLogger(Protocol):
    def log(self, values: dict[str, float], step: int) -> None: ...
    def image(self, tag: str, image: np.ndarray, step: int) -> None: ...
    def close(self) -> None: ...


class CsvLogger:
    """Scalars appended to ``<folder>/train.csv`` (``step`` then one column per name, fixed by the first
    row); images are not logged (the grids are saved as files anyway)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "train.csv"
        self._columns: list[str] | None = None
        if self.path.is_file() and self.path.stat().st_size:
            with self.path.open(newline="") as file:
                self._columns = next(csv.reader(file))[1:]

    def log(self, values: dict[str, float], step: int) -> None:
        new = self._columns is None
        if new:
            self._columns = sorted(values)
        with self.path.open("a", newline="") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(["step", *self._columns])
            writer.writerow([step, *(values.get(c, "") for c in self._columns)])

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        return None

    def close(self) -> None:
        return None


class TensorBoardLogger:
    """Scalars and validation grids as TensorBoard events in ``folder``."""

    def __init__(self, folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder))

    def log(self, values: dict[str, float], step: int) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


LOGGERS: dict[str, Any] = {"csv": CsvLogger, "tensorboard": TensorBoardLogger}


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` imports (it needs the ``tensorboard`` package)."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def create_logger(report_to: str, folder: Path) -> MetricLogger:
    """``report_to``: ``"tensorboard"``, ``"csv"`` or ``"auto"`` (TensorBoard when installed, else CSV);
    asking for TensorBoard without the package raises ``ImportError`` with the install command."""
    if report_to == "auto":
        report_to = "tensorboard" if tensorboard_available() else "csv"
    if report_to == "tensorboard" and not tensorboard_available():
        raise ImportError("--report-to tensorboard needs the tensorboard package: pip install tensorboard")
    return LOGGERS[report_to](folder)
