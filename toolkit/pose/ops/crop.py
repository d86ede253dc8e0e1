"""Crop and resize poses and images alike, so a pose drawn on the output image still fits its frame.

Coordinates follow :class:`PoseSequence`: ``(0, 0)`` is the centre of the top-left pixel. A box is
``(x0, y0, x1, y1)`` in whole pixels, like the slice ``image[y0:y1, x0:x1]``: pixel ``x0`` is the first
column kept and ``x1`` the first one dropped. It may reach beyond the image; what lies outside is padded
with a fill colour. Cropping moves a joint by ``(-x0, -y0)``; resizing from ``W`` to ``W'`` maps
``x -> (x + 0.5) * W' / W - 0.5``, which is the mapping of OpenCV's ``resize``.

Joints that fall outside a crop are kept by default: a limb that leaves the frame is still seen in the
image up to the edge, and the renderers clip what lies outside.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from ...checks import check_choice, check_count, check_number
from ..sequence import PoseSequence

Box = tuple[int, int, int, int]

# Pixel-centre-aligned OpenCV interpolations (plain INTER_NEAREST is off by half a pixel).
INTERPOLATIONS: dict[str, int] = {
    "nearest": cv2.INTER_NEAREST_EXACT,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
}


def person_box(poses: PoseSequence, margin: float = 0.1, *, square: bool = False, clamp: bool = True) -> Box:
    """A box around every seen joint of the sequence.

    Args:
        poses: Any layout, with at least one joint seen.
        margin: Space added on every side, as a fraction of the larger side of the joints' extent, >= 0.
            Default 0.1. Joints mark limb ends, not the body's outline, so some margin keeps the hands,
            feet and head in the box.
        square: Grow the shorter side, about the centre, to make the box square. Default False.
        clamp: Move the box inside the canvas; a side longer than the canvas is cut to the canvas (so a
            square box may stop being square). Default True; False leaves the box reaching past the edges,
            for :func:`crop_image` to pad.

    Returns:
        ``(x0, y0, x1, y1)`` in whole pixels.
    """
    margin = check_number("margin", margin, lambda v: v >= 0, "a fraction >= 0")
    xy = poses.keypoints[..., :2][poses.visible]  # (N, 2)
    if xy.size == 0:
        raise ValueError("person_box: no joint is seen in any frame")
    low, high = xy.min(axis=0).astype(np.float64), xy.max(axis=0).astype(np.float64)
    pad = margin * (high - low).max()
    # Pixel i covers [i - 0.5, i + 0.5): the box runs from the pixel under low - pad to the one under
    # high + pad, inclusive.
    start = np.floor(low - pad + 0.5).astype(int)
    stop = np.floor(high + pad + 0.5).astype(int) + 1
    if square:
        side = (stop - start).max()
        start -= (side - (stop - start)) // 2
        stop = start + side
    if clamp:
        canvas = np.array(poses.canvas)
        size = np.minimum(stop - start, canvas)
        start = np.clip(start, 0, canvas - size)
        stop = start + size
    return int(start[0]), int(start[1]), int(stop[0]), int(stop[1])


def crop_poses(poses: PoseSequence, box: Box, *, drop_outside: bool = False) -> PoseSequence:
    """Poses on the canvas of ``box``: joints move by ``(-x0, -y0)``.

    Args:
        poses: Any layout.
        box: ``(x0, y0, x1, y1)`` in whole pixels; may reach beyond the canvas.
        drop_outside: Mark joints outside the box missing. Default False (keep them).

    Returns:
        A sequence on an ``(x1 - x0) x (y1 - y0)`` canvas.
    """
    x0, y0, x1, y1 = _checked_box(box)
    keypoints = poses.keypoints.copy()
    keypoints[..., 0] -= x0
    keypoints[..., 1] -= y0
    if drop_outside:
        x, y = keypoints[..., 0], keypoints[..., 1]
        outside = (x < -0.5) | (x >= x1 - x0 - 0.5) | (y < -0.5) | (y >= y1 - y0 - 0.5)
        keypoints[outside] = (np.nan, np.nan, 0.0)
    return replace(poses, keypoints=keypoints, width=x1 - x0, height=y1 - y0)


def resize_poses(poses: PoseSequence, width: int, height: int) -> PoseSequence:
    """Poses on a ``width`` x ``height`` canvas, stretched like :func:`resize_image` stretches the image."""
    width, height = check_count("width", width), check_count("height", height)
    keypoints = poses.keypoints.copy()
    keypoints[..., 0] = (keypoints[..., 0] + 0.5) * (width / poses.width) - 0.5
    keypoints[..., 1] = (keypoints[..., 1] + 0.5) * (height / poses.height) - 0.5
    return replace(poses, keypoints=keypoints, width=width, height=height)


def crop_resize_poses(
    poses: PoseSequence, box: Box, size: tuple[int, int] | None = None, *, drop_outside: bool = False
) -> PoseSequence:
    """:func:`crop_poses` then, if ``size = (width, height)`` is given, :func:`resize_poses`; the pose twin
    of :func:`crop_resize_image`."""
    cropped = crop_poses(poses, box, drop_outside=drop_outside)
    return cropped if size is None else resize_poses(cropped, *size)


def crop_image(image: np.ndarray, box: Box, *, fill: float | tuple[float, ...] = 0) -> np.ndarray:
    """``image[y0:y1, x0:x1]``, padded with ``fill`` where the box reaches beyond the image.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array of any dtype.
        box: ``(x0, y0, x1, y1)`` in whole pixels.
        fill: Padding value, one number or one per channel. Default 0 (black).

    Returns:
        ``(y1 - y0, x1 - x0[, C])`` array of the image's dtype.
    """
    x0, y0, x1, y1 = _checked_box(box)
    image = _checked_image(image)
    out = np.empty((y1 - y0, x1 - x0, *image.shape[2:]), dtype=image.dtype)
    try:
        out[...] = fill
    except (TypeError, ValueError):
        raise ValueError(
            f"fill must be one number or one per channel (shape {image.shape[2:]}), got {fill!r}"
        ) from None
    height, width = image.shape[:2]
    # The part of the box that overlaps the image, in image and in output coordinates.
    left, top, right, bottom = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if left < right and top < bottom:
        out[top - y0 : bottom - y0, left - x0 : right - x0] = image[top:bottom, left:right]
    return out


def resize_image(image: np.ndarray, width: int, height: int, *, interpolation: str = "auto") -> np.ndarray:
    """Resize with OpenCV, whose pixel-centre mapping :func:`resize_poses` reproduces.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array (uint8, uint16, float32 ...).
        width: Output width in pixels.
        height: Output height in pixels.
        interpolation: One of ``INTERPOLATIONS`` (``nearest`` for label maps and masks, ``linear``,
            ``area``, ``cubic``), or ``"auto"`` (default): ``area`` when shrinking both sides (it averages
            instead of aliasing), else ``linear``.

    Returns:
        ``(height, width[, C])`` array of the image's dtype.
    """
    width, height = check_count("width", width), check_count("height", height)
    image = _checked_image(image)
    if interpolation == "auto":
        shrinking = width <= image.shape[1] and height <= image.shape[0]
        interpolation = "area" if shrinking else "linear"
    check_choice(interpolation, ["auto", *INTERPOLATIONS], "interpolation")
    if (width, height) == (image.shape[1], image.shape[0]):
        return image.copy()
    try:
        resized = cv2.resize(image, (width, height), interpolation=INTERPOLATIONS[interpolation])
    except cv2.error:
        raise ValueError(
            f"OpenCV cannot resize a {image.dtype} image of shape {image.shape}; use uint8 or float32"
        ) from None
    # OpenCV drops a trailing axis of size 1; keep the caller's shape.
    return resized.reshape(height, width, *image.shape[2:])


def crop_resize_image(
    image: np.ndarray,
    box: Box,
    size: tuple[int, int] | None = None,
    *,
    fill: float | tuple[float, ...] = 0,
    interpolation: str = "auto",
) -> np.ndarray:
    """:func:`crop_image` then, if ``size = (width, height)`` is given, :func:`resize_image`: the image
    twin of :func:`crop_resize_poses`, so a joint at ``(x, y)`` of the output poses lies at ``(x, y)`` of
    the output image."""
    cropped = crop_image(image, box, fill=fill)
    return cropped if size is None else resize_image(cropped, *size, interpolation=interpolation)


def _checked_box(box: Box) -> Box:
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValueError(f"box must be four whole numbers (x0, y0, x1, y1), got {box!r}") from None
    if len(values) != 4 or not all(np.isfinite(v) and v == int(v) for v in values):
        raise ValueError(f"box must be four whole numbers (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = (int(v) for v in values)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box (x0, y0, x1, y1) must have x1 > x0 and y1 > y0, got {box!r}")
    return x0, y0, x1, y1


def _checked_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or 0 in image.shape:
        raise ValueError(f"image must be a non-empty (H, W) or (H, W, C) array, got shape {image.shape}")
    return image
