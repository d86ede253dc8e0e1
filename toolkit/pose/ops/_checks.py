"""The BODY_18 check the pose operations share; numeric checks live in :mod:`toolkit.checks`."""

from __future__ import annotations

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
