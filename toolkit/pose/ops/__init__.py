"""Pose clean-up and transforms; each takes and returns a :class:`~toolkit.pose.PoseSequence`.

- ``smooth``: the One Euro filter and the ``SMOOTHERS`` registry (``"none"``, ``"one-euro"``).
- ``gaps``: linear interpolation over short gaps, median fill for the rest.
- ``normalize``: Everybody Dance Now's global normalisation onto a target subject's ankle range and height.
- ``retarget``: the driver's joint angles on the target's bone lengths.
- ``augment``: Ren et al.'s pose corruptions (dropped joints and limbs, jitter, limb scaling).
- ``crop``: crops and resizes applied identically to poses and images.

Missing joints (confidence 0, NaN x, y) stay missing unless an operation fills them on purpose; nothing
turns them into zeros. See ``docs/pose-cleanup.md``.
"""

from __future__ import annotations

from .augment import AugmentConfig, augment_poses, jitter_poses
from .crop import (
    INTERPOLATIONS,
    Box,
    crop_image,
    crop_poses,
    crop_resize_image,
    crop_resize_poses,
    person_box,
    resize_image,
    resize_poses,
)
from .gaps import FILLED_CONFIDENCE, interpolate_gaps, median_fill
from .normalize import AnkleRange, ankle_range, normalize_to_target
from .retarget import bone_lengths, proportion_lengths, retarget
from .smooth import SMOOTHERS, no_smoothing, one_euro_smooth

__all__ = [
    "FILLED_CONFIDENCE",
    "INTERPOLATIONS",
    "SMOOTHERS",
    "AnkleRange",
    "AugmentConfig",
    "Box",
    "ankle_range",
    "augment_poses",
    "bone_lengths",
    "crop_image",
    "crop_poses",
    "crop_resize_image",
    "crop_resize_poses",
    "interpolate_gaps",
    "jitter_poses",
    "median_fill",
    "no_smoothing",
    "normalize_to_target",
    "one_euro_smooth",
    "person_box",
    "proportion_lengths",
    "resize_image",
    "resize_poses",
    "retarget",
]
