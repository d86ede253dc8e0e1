"""Class images for prior preservation: what the base model draws for the class prompt.

Only the missing images are generated: when ``class_dir`` holds fewer than N images, images
``class-00000.png``, ``class-00001.png`` ... are made for the first free names until there are N. Image
``class-{i:05d}.png`` always comes from seed ``seed + i``, so its pixels do not depend on which others
existed, and a rerun with N images in place generates nothing. The base model is loaded only when
something is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ...data.media import IMAGE_SUFFIXES, write_image

if TYPE_CHECKING:
    from diffusers import StableDiffusionPipeline

CLASS_PATTERN = "class-{:05d}.png"


def existing_class_images(folder: Path) -> list[Path]:
    """The images already in ``folder`` (empty when it does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def missing_class_names(folder: Path, count: int) -> list[Path]:
    """The files to generate so that ``folder`` holds ``count`` images: the lowest free
    ``class-{i:05d}.png`` names, as many as are missing."""
    have = existing_class_images(folder)
    names = {p.name for p in have}
    wanted, i = [], 0
    while len(have) + len(wanted) < count:
        name = CLASS_PATTERN.format(i)
        if name not in names:
            wanted.append(folder / name)
        i += 1
    return wanted


def ensure_class_images(
    folder: Path,
    count: int,
    prompt: str,
    load_pipeline: Callable[[], StableDiffusionPipeline],
    *,
    resolution: int,
    batch_size: int = 4,
    steps: int = 25,
    seed: int = 0,
    progress: bool = True,
) -> list[Path]:
    """Generate the missing class images of ``folder`` (see the module docstring).

    Args:
        folder: Class image folder (created).
        count: How many images it should hold, N.
        prompt: The class prompt, e.g. ``"a photo of person"``.
        load_pipeline: Builds the text-to-image pipeline of the base model; called only if needed.
        resolution: Image side in pixels.
        batch_size: Images per pipeline call. Default 4.
        steps: Denoising steps. Default 25.
        seed: Image ``class-{i:05d}`` uses seed ``seed + i``. Default 0.
        progress: Show a progress bar. Default True.

    Returns:
        The paths written (empty when nothing was missing).
    """
    from ...progress import progress_bar

    missing = missing_class_names(folder, count)
    if not missing:
        return []
    pipe = load_pipeline()
    written = []
    with progress_bar(total=len(missing), desc="class images", unit="image", disable=not progress) as bar:
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            numbers = [int(p.stem.split("-")[1]) for p in chunk]
            generators = [torch.Generator("cpu").manual_seed(seed + n) for n in numbers]
            with torch.no_grad():
                images = pipe(
                    [prompt] * len(chunk),
                    num_inference_steps=steps,
                    height=resolution,
                    width=resolution,
                    generator=generators,
                    output_type="np",
                ).images
            for path, image in zip(chunk, images, strict=True):
                write_image(path, (image.clip(0, 1) * 255).round().astype("uint8"))
                written.append(path)
            bar.update(len(chunk))
    return written
