"""Argument checks shared by the pose operations; each failure is a one-line ``ValueError``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..sequence import PoseSequence


def require_body_18(poses: PoseSequence, operation: str) -> None:
    """Raise unless ``poses`` are BODY_18, whose limb tree ``operation`` relies on."""
    if not isinstance(poses, PoseSequence):
        raise ValueError(f"{operation} needs a PoseSequence, got {type(poses).__name__}")
    if poses.layout != "body_18":
        raise ValueError(
            f"{operation} needs BODY_18 poses, got {poses.layout}; convert them first with "
            "poses.to_layout('body_18')"
        )


def check_number(name: str, value: object, valid: Callable[[float], bool], expected: str) -> float:
    """``value`` as a float if it is a finite real number that passes ``valid``; else ``ValueError``."""
    is_real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not (is_real and np.isfinite(value) and valid(float(value))):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer >= ``minimum``; else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
