"""Keypoint layouts and the converters between them.

BODY_18 (OpenPose's COCO order) is the toolkit's canonical layout: every method, encoder and file format
speaks it. Other layouts exist only at the edges, to read what detectors and datasets produce
(BODY_25, COCO-17, MediaPipe-33) or to feed methods that were designed for fewer joints (MPII-14 for
posewarp, upper-body-7).

Keypoint arrays everywhere have shape ``(..., J, 3)`` holding ``x, y, confidence``. A missing joint has
confidence 0 and NaN coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..checks import lookup


@dataclass(frozen=True)
class Skeleton:
    """A named keypoint layout.

    Args:
        name: Registry key, e.g. ``"body_18"``.
        joints: Joint names in index order.
        limbs: Pairs of joint indices drawn or encoded as bones.
        flip_pairs: Left/right joint pairs swapped by a horizontal flip.
    """

    name: str
    joints: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {name: i for i, name in enumerate(self.joints)})

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Index of a joint by name; raises ``KeyError`` naming the layout for an unknown joint."""
        try:
            return self._index[joint]
        except KeyError:
            raise KeyError(
                f"{self.name} has no joint {joint!r}; joints are {', '.join(self.joints)}"
            ) from None

    def flip_permutation(self) -> np.ndarray:
        """``(J,)`` index array ``perm``: ``keypoints[..., perm, :]`` swaps every left/right pair."""
        perm = np.arange(self.num_joints)
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm


def _pairs(skeleton_joints: tuple[str, ...], names: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    index = {name: i for i, name in enumerate(skeleton_joints)}
    return tuple((index[a], index[b]) for a, b in names)


def _left_right_pairs(joints: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Pair every ``left_*`` joint with its ``right_*`` twin, in index order of the left one."""
    index = {name: i for i, name in enumerate(joints)}
    return tuple(
        (i, index["right_" + name[len("left_") :]])
        for i, name in enumerate(joints)
        if name.startswith("left_")
    )


# BODY_18's face joints, which carry the head's position and orientation.
FACE_JOINTS: tuple[str, ...] = ("nose", "right_eye", "left_eye", "right_ear", "left_ear")

# Layout tables are laid out by hand for reading; the formatter leaves them alone.
# fmt: off
_BODY_18_JOINTS = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

BODY_18 = Skeleton(
    name="body_18",
    joints=_BODY_18_JOINTS,
    # OpenPose's limb order: ControlNet's skeleton images colour limb i with OPENPOSE_COLORS[i].
    limbs=(
        (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
        (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
    ),
    flip_pairs=_left_right_pairs(_BODY_18_JOINTS),
)

# OpenPose's colour table (RGB): joint i is drawn in colour i, limb i in 60% of colour i.
OPENPOSE_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)

_BODY_25_JOINTS = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)

BODY_25 = Skeleton(
    name="body_25",
    joints=_BODY_25_JOINTS,
    limbs=_pairs(
        _BODY_25_JOINTS,
        [
            ("neck", "right_shoulder"), ("neck", "left_shoulder"),
            ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
            ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
            ("neck", "mid_hip"), ("mid_hip", "right_hip"), ("right_hip", "right_knee"),
            ("right_knee", "right_ankle"), ("mid_hip", "left_hip"), ("left_hip", "left_knee"),
            ("left_knee", "left_ankle"), ("neck", "nose"), ("nose", "right_eye"),
            ("right_eye", "right_ear"), ("nose", "left_eye"), ("left_eye", "left_ear"),
            ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"), ("left_ankle", "left_heel"),
            ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"),
            ("right_ankle", "right_heel"),
        ],
    ),
    flip_pairs=_left_right_pairs(_BODY_25_JOINTS),
)

_COCO_17_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

COCO_17 = Skeleton(
    name="coco_17",
    joints=_COCO_17_JOINTS,
    limbs=_pairs(
        _COCO_17_JOINTS,
        [
            ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
            ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
            ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
            ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"),
            ("right_elbow", "right_wrist"), ("left_eye", "right_eye"), ("nose", "left_eye"),
            ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
        ],
    ),
    flip_pairs=_left_right_pairs(_COCO_17_JOINTS),
)

_MEDIAPIPE_33_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "left_mouth", "right_mouth",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

MEDIAPIPE_33 = Skeleton(
    name="mediapipe_33",
    joints=_MEDIAPIPE_33_JOINTS,
    limbs=_pairs(
        _MEDIAPIPE_33_JOINTS,
        [
            ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
            ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
            ("left_shoulder", "left_hip"),
            ("right_shoulder", "right_hip"), ("left_hip", "right_hip"), ("left_hip", "left_knee"),
            ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
            ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("right_ankle", "right_heel"),
            ("right_heel", "right_foot_index"), ("nose", "left_eye"), ("nose", "right_eye"),
            ("left_eye", "left_ear"), ("right_eye", "right_ear"),
        ],
    ),
    flip_pairs=_left_right_pairs(_MEDIAPIPE_33_JOINTS),
)

_MPII_14_JOINTS = (
    "head", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
)

# posewarp's 14 joints. Its tenth limb, the torso, is the quad (2, 5, 8, 11); pairs here are the nine bones.
MPII_14 = Skeleton(
    name="mpii_14",
    joints=_MPII_14_JOINTS,
    limbs=((0, 1), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13)),
    flip_pairs=_left_right_pairs(_MPII_14_JOINTS),
)

_UPPER_BODY_7_JOINTS = (
    "head",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
)

UPPER_BODY_7 = Skeleton(
    name="upper_body_7",
    joints=_UPPER_BODY_7_JOINTS,
    limbs=((1, 2), (2, 3), (4, 5), (5, 6)),
    flip_pairs=_left_right_pairs(_UPPER_BODY_7_JOINTS),
)

# fmt: on

SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (BODY_18, BODY_25, COCO_17, MEDIAPIPE_33, MPII_14, UPPER_BODY_7)
}


def get_skeleton(name: str) -> Skeleton:
    """Look a layout up by name (``body_18``, ``body_25``, ``coco_17``, ``mediapipe_33``, ``mpii_14``,
    ``upper_body_7``); raises ``KeyError`` listing the known names."""
    return lookup(SKELETONS, name, "keypoint layout", KeyError)


# --------------------------------------------------------------------------------------------------------
# Converters. A recipe lists, for each joint of the target layout, where it comes from in the source:
#   "name"            copy that joint;
#   Midpoint(a, b)    the midpoint, present only when both are present (e.g. OpenPose's neck from COCO);
#   MeanOf(a, b, ...) the mean of whichever are present (e.g. a head point from the face joints);
#   None              always missing.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Midpoint:
    """Target joint = midpoint of two source joints; missing unless both are present."""

    a: str
    b: str


@dataclass(frozen=True)
class MeanOf:
    """Target joint = mean of the present source joints; missing only when none is present."""

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", names)


JointSource = str | Midpoint | MeanOf | None


def _by_name(target: Skeleton, **overrides: JointSource) -> tuple[JointSource, ...]:
    return tuple(overrides.get(name, name) for name in target.joints)


# fmt: off
_HEAD = MeanOf(*FACE_JOINTS)

_RECIPES: dict[tuple[str, str], tuple[JointSource, ...]] = {
    ("body_25", "body_18"): _by_name(BODY_18),
    ("body_18", "body_25"): _by_name(
        BODY_25,
        mid_hip=Midpoint("right_hip", "left_hip"),
        left_big_toe=None, left_small_toe=None, left_heel=None,
        right_big_toe=None, right_small_toe=None, right_heel=None,
    ),
    ("coco_17", "body_18"): _by_name(BODY_18, neck=Midpoint("right_shoulder", "left_shoulder")),
    ("body_18", "coco_17"): _by_name(COCO_17),
    ("mediapipe_33", "body_18"): _by_name(BODY_18, neck=Midpoint("right_shoulder", "left_shoulder")),
    # posewarp's head joint sits on the face; BODY_18 has no head top, so the face joints stand in for it.
    ("body_18", "mpii_14"): _by_name(MPII_14, head=_HEAD),
    ("body_18", "upper_body_7"): _by_name(UPPER_BODY_7, head=_HEAD),
}
# fmt: on


def conversions() -> list[tuple[str, str]]:
    """The (source, target) layout pairs that :func:`convert_keypoints` supports, besides identity."""
    return list(_RECIPES)


def convert_keypoints(keypoints: np.ndarray, source: str, target: str) -> np.ndarray:
    """Convert keypoints between layouts.

    Args:
        keypoints: ``(..., J_source, 3)`` array of x, y, confidence; missing joints have confidence 0.
        source: Name of the source layout.
        target: Name of the target layout.

    Returns:
        ``(..., J_target, 3)`` float32 array. Midpoints take the smaller confidence of their two joints,
        means the mean confidence of the joints present. Missing joints have confidence 0 and NaN x, y.
    """
    src, dst = get_skeleton(source), get_skeleton(target)
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.shape[-2:] != (src.num_joints, 3):
        raise ValueError(
            f"{source} keypoints must have shape (..., {src.num_joints}, 3), got {keypoints.shape}"
        )
    if source == target:
        return keypoints.copy()
    try:
        recipe = _RECIPES[(source, target)]
    except KeyError:
        raise ValueError(
            f"no converter from {source} to {target}; available: "
            + ", ".join(f"{a}->{b}" for a, b in _RECIPES)
        ) from None

    out = np.full((*keypoints.shape[:-2], dst.num_joints, 3), np.nan, dtype=np.float32)
    out[..., 2] = 0.0
    present = keypoints[..., 2] > 0  # (..., J_source)
    for j, how in enumerate(recipe):
        if how is None:
            continue
        if isinstance(how, str):
            i = src.index(how)
            out[..., j, :] = keypoints[..., i, :]
        elif isinstance(how, Midpoint):
            a, b = src.index(how.a), src.index(how.b)
            both = present[..., a] & present[..., b]
            mid = 0.5 * (keypoints[..., a, :2] + keypoints[..., b, :2])
            conf = np.minimum(keypoints[..., a, 2], keypoints[..., b, 2])
            out[..., j, :2] = np.where(both[..., None], mid, np.nan)
            out[..., j, 2] = np.where(both, conf, 0.0)
        else:
            idx = [src.index(n) for n in how.names]
            weight = present[..., idx].astype(np.float32)  # (..., K)
            count = weight.sum(-1)
            safe = np.maximum(count, 1.0)
            xy = np.nan_to_num(keypoints[..., idx, :2]) * weight[..., None]
            mean_xy = xy.sum(-2) / safe[..., None]
            mean_conf = (keypoints[..., idx, 2] * weight).sum(-1) / safe
            out[..., j, :2] = np.where((count > 0)[..., None], mean_xy, np.nan)
            out[..., j, 2] = np.where(count > 0, mean_conf, 0.0)
    out[..., :2] = np.where(out[..., 2:3] > 0, out[..., :2], np.nan)
    return out
