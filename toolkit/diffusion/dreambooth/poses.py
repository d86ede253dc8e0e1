"""The instance photos' poses (detected, or read from a file) and the body proportions measured from them.

Proportions estimate: in each photo where the neck, both hips and at least one whole leg (hip-knee-ankle)
are seen, the vertical chain ``torso + thigh + shin`` is measured in pixels, and the body's height is
taken as that chain divided by its average share of height (0.779 for the default
:class:`BodyProportions`), since the crown and soles are not joints. Every measurable segment (torso,
thigh, shin, upper arm, forearm, shoulder and hip width) is divided by that height; the subject's value
is the median over the photos, and head, neck and ankle height keep their averages. 2D lengths shrink
when a limb points towards the camera, so photos of a person standing upright and facing the camera
give the best estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from ...errors import ToolkitError
from ...pose.proportions import PROPORTION_BONES, BodyProportions
from ...pose.sequence import PoseSequence
from ...pose.skeleton import BODY_18

_DEFAULT = BodyProportions()
_CHAIN_SHARE = _DEFAULT.torso + _DEFAULT.thigh + _DEFAULT.shin
_J = {name: i for i, name in enumerate(BODY_18.joints)}


def detect_instance_poses(images: Sequence[np.ndarray], detector: str) -> list[PoseSequence | None]:
    """Detect one person per photo with ``detector`` (a ``DETECTORS`` name); ``None`` for a photo where
    nobody is found."""
    from ...pose.detect import create_detector, detect_poses

    poses: list[PoseSequence | None] = []
    with create_detector(detector, video=False) as active:
        for image in images:
            found = detect_poses([image], active, fps=1.0, video=False, progress=False)
            poses.append(found if found.visible.any() else None)
    return poses


def read_instance_poses(path: Path, images: Sequence[np.ndarray]) -> list[PoseSequence | None]:
    """One pose per photo from a pose file (any format ``load_poses`` reads), frame ``i`` for photo ``i``
    in natural file order. A canvas that differs from a photo's size is stretched onto it, so poses may
    be given in normalised or resized coordinates; a file that states no canvas (raw OpenPose) is taken
    to be on the photos' own, when they share one. A frame with no joint seen gives ``None``."""
    from ...pose.io import load_poses
    from ...pose.ops import resize_poses

    sizes = {(image.shape[1], image.shape[0]) for image in images}
    fallback = sizes.pop() if len(sizes) == 1 else None  # a file that states no canvas is on the photos'
    poses = load_poses(path, fallback_canvas=fallback).to_layout("body_18")
    if len(poses) != len(images):
        raise ToolkitError(
            f"{path}: {len(poses)} poses for {len(images)} instance photos; give one frame per photo, "
            "in the photos' natural file order"
        )
    out: list[PoseSequence | None] = []
    for i, image in enumerate(images):
        height, width = image.shape[:2]
        frame = poses[i]
        out.append(resize_poses(frame, width, height) if frame.visible.any() else None)
    return out


def _distance(xy: np.ndarray, a: str, b: str) -> float:
    return float(np.linalg.norm(xy[_J[a]] - xy[_J[b]]))


def _photo_lengths(pose: PoseSequence) -> dict[str, float] | None:
    """Segment lengths as fractions of the estimated height in one photo, or ``None`` when the chain
    neck - hips - knee - ankle is not seen."""
    xy = pose.keypoints[0, :, :2].astype(np.float64)  # (18, 2), NaN when missing
    mid_hip = (xy[_J["right_hip"]] + xy[_J["left_hip"]]) / 2
    torso = float(np.linalg.norm(xy[_J["neck"]] - mid_hip))
    legs = [
        _distance(xy, f"{s}_hip", f"{s}_knee") + _distance(xy, f"{s}_knee", f"{s}_ankle")
        for s in ("right", "left")
    ]
    legs = [v for v in legs if np.isfinite(v)]
    if not np.isfinite(torso) or not legs or torso <= 0:
        return None
    height = (torso + max(legs)) / _CHAIN_SHARE
    lengths = {"torso": torso / height}
    for a, b, name in PROPORTION_BONES:
        value = _distance(xy, a, b)
        if np.isfinite(value) and value > 0:
            # Of a left/right pair, the longer is the less foreshortened.
            lengths[name] = max(lengths.get(name, 0.0), value / height)
    return lengths


def estimate_proportions(poses: Sequence[PoseSequence | None]) -> BodyProportions | None:
    """The subject's :class:`BodyProportions` from its photos' poses (see the module docstring), or
    ``None`` when no photo shows the neck, both hips and a whole leg."""
    measured = [m for m in (_photo_lengths(p) for p in poses if p is not None) if m is not None]
    if not measured:
        return None
    values = _DEFAULT.to_dict()
    for f in fields(BodyProportions):
        samples = [m[f.name] for m in measured if f.name in m]
        if samples:
            values[f.name] = float(np.median(samples))
    body = BodyProportions(**values).normalized()
    return BodyProportions(**{k: round(v, 6) for k, v in body.to_dict().items()})
