"""The shared pose module: layouts, sequences, file formats, encoders and procedural motions.

Every method imports its pose handling from here; none re-implements it. The encoders need torch, so they
are imported on first use and ``import toolkit.pose`` stays fast for the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

from .io import load_poses, save_poses
from .motions import MOTIONS, list_motions, make_motion
from .proportions import BodyProportions
from .sequence import PoseSequence
from .skeleton import BODY_18, OPENPOSE_COLORS, SKELETONS, Skeleton, convert_keypoints, get_skeleton

_LAZY = {
    name: ".encode"
    for name in ("gaussian_heatmaps", "limb_maps", "limb_masks", "patn_body_mask", "posewarp_limb_masks",
                 "render_openpose")
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BODY_18",
    "MOTIONS",
    "OPENPOSE_COLORS",
    "SKELETONS",
    "BodyProportions",
    "PoseSequence",
    "Skeleton",
    "convert_keypoints",
    "get_skeleton",
    "list_motions",
    "load_poses",
    "make_motion",
    "save_poses",
    *_LAZY,
]
