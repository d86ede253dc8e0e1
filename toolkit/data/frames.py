"""Frames to read lazily from a video file, an image folder or one image (what pose extraction reads)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class FrameSource:
    """Frames to detect in: a lazy iterator plus what is known before decoding them (``total`` may be an
    estimate, or None when unknown)."""

    frames: Iterator[np.ndarray]
    fps: float
    total: int | None
    consecutive: bool


def open_frames(path: Path, fps: float | None) -> FrameSource:
    """Frames of a video file, an image folder (natural order) or one image, read lazily.

    Raises:
        MediaError: a missing path, an empty folder, or an unreadable video or image.
    """
    from .media import IMAGE_SUFFIXES, MediaError, iter_video, list_images, probe_video, read_image

    if path.is_dir():
        images = list_images(path)
        return FrameSource((read_image(p) for p in images), fps or 24.0, len(images), consecutive=True)
    if not path.exists():
        raise MediaError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return FrameSource(iter([read_image(path)]), fps or 24.0, 1, consecutive=False)
    info = probe_video(path)
    return FrameSource(iter_video(path), fps or info.fps, info.frames or None, consecutive=True)
