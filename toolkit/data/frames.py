"""Frames read lazily from a video file, an image folder or one image, and the poses detected in them
(what ``toolkit poses extract`` and the web app's Poses tab run)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..pose.sequence import PoseSequence


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


def extract_poses(
    source: FrameSource,
    detector: str = "mediapipe",
    *,
    every: int = 1,
    static: bool = False,
    smooth: str = "one-euro",
    progress: bool = True,
    **options: Any,
) -> PoseSequence:
    """Detect one person in every ``every``-th frame of ``source`` (tracked across consecutive frames
    unless ``static``), then smooth.

    Args:
        source: From :func:`open_frames`.
        detector: A name in ``toolkit.pose.detect.DETECTORS``.
        smooth: A name in ``toolkit.pose.ops.SMOOTHERS``.
        options: The detector's own (weights, min_confidence, device).

    Returns:
        The smoothed poses, one per kept frame.
    """
    from ..checks import lookup
    from ..pose.detect import detect_poses
    from ..pose.ops import SMOOTHERS

    smoother = lookup(SMOOTHERS, smooth, "smoothing")
    poses = detect_poses(
        source.frames,
        detector,
        fps=source.fps,
        every=every,
        video=source.consecutive and not static,
        total=source.total,
        progress=progress,
        **options,
    )
    return smoother(poses)
