"""Backdrops for mannequin renders: a plain colour, an image, or a procedural one from ``BACKGROUNDS``."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ...checks import check_choice
from ...errors import ToolkitError

RGB = tuple[int, int, int]

# The backdrop when a render asks for none: a light studio grey. Sampled clothing, hair and shoe colours keep
# away from it, so a silhouette can be recovered by comparing a frame with this colour.
DEFAULT_BACKGROUND: RGB = (236, 236, 236)

Background = str | RGB | np.ndarray | None


class BackgroundError(ToolkitError, ValueError):
    """A background argument is not a known name, an RGB triple or a matching image."""


def _vertical_blend(top: RGB, bottom: RGB, width: int, height: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]  # (H, 1, 1)
    column = (1.0 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return np.broadcast_to(np.rint(column).astype(np.uint8), (height, width, 3))


def plain(width: int, height: int) -> np.ndarray:
    """``DEFAULT_BACKGROUND`` everywhere."""
    return np.broadcast_to(np.array(DEFAULT_BACKGROUND, np.uint8), (height, width, 3))


def gradient(width: int, height: int) -> np.ndarray:
    """A pale sky blue fading to warm white towards the bottom."""
    return _vertical_blend((196, 212, 232), (240, 234, 224), width, height)


def floor(width: int, height: int) -> np.ndarray:
    """A wall above a darker wooden floor whose horizon is 72% of the way down."""
    horizon = int(round(0.72 * height))
    wall = _vertical_blend((218, 212, 202), (200, 194, 184), width, horizon)
    ground = _vertical_blend((150, 122, 96), (118, 92, 70), width, height - horizon)
    return np.concatenate([wall, ground], axis=0)


BACKGROUNDS: dict[str, Callable[[int, int], np.ndarray]] = {
    "plain": plain,
    "gradient": gradient,
    "floor": floor,
}


@lru_cache(maxsize=16)
def _procedural(name: str, width: int, height: int) -> np.ndarray:
    image = np.ascontiguousarray(BACKGROUNDS[name](width, height))
    image.flags.writeable = False
    return image


def background_image(background: Background, width: int, height: int) -> np.ndarray:
    """Resolve a background argument to a ``(height, width, 3)`` uint8 RGB image (read-only; copy it).

    Args:
        background: ``None`` for ``DEFAULT_BACKGROUND``; a name in ``BACKGROUNDS``; an RGB triple of ints in
            0..255; or a ``(height, width, 3)`` uint8 image.
    """
    if background is None:
        return _procedural("plain", width, height)
    if isinstance(background, str):
        check_choice(background, BACKGROUNDS, "background", BackgroundError)
        return _procedural(background, width, height)
    if isinstance(background, np.ndarray) and background.ndim == 3:
        if background.shape != (height, width, 3) or background.dtype != np.uint8:
            raise BackgroundError(
                f"background image must be ({height}, {width}, 3) uint8 to match the canvas, got "
                f"{background.shape} {background.dtype}; resize or convert it first"
            )
        return background
    try:
        values = np.asarray(background) if isinstance(background, (tuple, list, np.ndarray)) else None
    except ValueError:  # a ragged sequence
        values = None
    if (
        values is None
        or values.shape != (3,)
        or not np.issubdtype(values.dtype, np.integer)
        or values.min() < 0
        or values.max() > 255
    ):
        raise BackgroundError(
            f"background must be None, a name ({', '.join(BACKGROUNDS)}), three ints in 0..255 or an "
            f"(H, W, 3) uint8 image; got {background!r}"
        )
    return np.broadcast_to(values.astype(np.uint8), (height, width, 3))
