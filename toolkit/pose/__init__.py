"""The shared pose module: layouts, sequences, file formats, encoders and procedural motions.

Every method imports its pose handling from here; none re-implements it.
"""

from .proportions import BodyProportions
from .sequence import PoseSequence
from .skeleton import BODY_18, OPENPOSE_COLORS, SKELETONS, Skeleton, convert_keypoints, get_skeleton

__all__ = [
    "BODY_18",
    "OPENPOSE_COLORS",
    "SKELETONS",
    "BodyProportions",
    "PoseSequence",
    "Skeleton",
    "convert_keypoints",
    "get_skeleton",
]
