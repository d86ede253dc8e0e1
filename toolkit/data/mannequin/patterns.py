"""Cloth patterns in a body part's own coordinates, so the texture moves and turns with the part.

A pattern maps surface coordinates ``(u, v)`` (along and across the part, in units of the pattern period)
to the weight of the garment's second colour, in [0, 1]. ``pixel`` is the size of one pixel in the same
units: edges are ramped over one pixel so patterns are anti-aliased at every resolution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Pattern = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _bands(t: np.ndarray, pixel: float) -> np.ndarray:
    """1 on half of each unit period of ``t`` and 0 on the other, with one-pixel ramps between."""
    distance = np.abs(t - np.floor(t) - 0.5) - 0.25  # signed, in periods: > 0 near integer t
    return np.clip(distance / pixel + 0.5, 0.0, 1.0)


def stripes(u: np.ndarray, v: np.ndarray, pixel: float) -> np.ndarray:
    """Bands across the part (horizontal on an upright torso, rings on a limb)."""
    return _bands(u, pixel)


def checks(u: np.ndarray, v: np.ndarray, pixel: float) -> np.ndarray:
    """A checkerboard: the soft XOR of bands along and across."""
    a, b = _bands(u, pixel), _bands(v, pixel)
    return a + b - 2.0 * a * b


def dots(u: np.ndarray, v: np.ndarray, pixel: float) -> np.ndarray:
    """Round dots, 0.56 of a period across, on a square lattice."""
    du, dv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
    return np.clip((0.28 - np.sqrt(du * du + dv * dv)) / pixel + 0.5, 0.0, 1.0)


# "solid" has no function: a solid garment is drawn with its base colour and no per-pixel work.
PATTERNS: dict[str, Pattern | None] = {"solid": None, "stripes": stripes, "checks": checks, "dots": dots}
