"""Per-bone retargeting: the driver's joint angles on the target's bone lengths.

BODY_18's 17 limbs form a tree rooted at the neck (joint 1); each limb ``(parent, child)`` is a bone, and
bone lengths are listed in ``BODY_18.limbs`` order. Retargeting walks the tree from the neck outwards and
puts each child at its (retargeted) parent plus the driver's bone direction times the target's length, so
a tall dancer's motion fits a short subject without changing any joint angle.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...checks import check_number
from ..proportions import PROPORTION_BONES, BodyProportions
from ..sequence import PoseSequence
from ..skeleton import BODY_18
from ._checks import require_body_18

NUM_BONES = len(BODY_18.limbs)
ROOT = BODY_18.index("neck")


def _tree_order() -> tuple[tuple[int, int, int], ...]:
    """``(bone, parent, child)`` for every bone, each parent placed before its children (breadth first)."""
    order, placed = [], {ROOT}
    while len(order) < NUM_BONES:
        order += [(b, p, c) for b, (p, c) in enumerate(BODY_18.limbs) if p in placed and c not in placed]
        placed |= {c for _, _, c in order}
    return tuple(order)


# BODY_18's bones as (bone index, parent, child), every parent placed before its children.
TREE_ORDER: tuple[tuple[int, int, int], ...] = _tree_order()


def bone_lengths(poses: PoseSequence) -> np.ndarray:
    """Robust length of each BODY_18 bone in pixels.

    Args:
        poses: A BODY_18 sequence.

    Returns:
        ``(17,)`` float64 in ``BODY_18.limbs`` order: the median over the frames where both ends of the
        bone are seen; NaN for a bone never seen whole.
    """
    require_body_18(poses, "bone_lengths")
    parents, children = np.array(BODY_18.limbs).T
    xy = poses.keypoints[..., :2].astype(np.float64)
    lengths = np.linalg.norm(xy[:, children] - xy[:, parents], axis=-1)  # (T, 17), NaN unless both seen
    out = np.full(NUM_BONES, np.nan)
    seen = np.isfinite(lengths).any(axis=0)
    out[seen] = np.nanmedian(lengths[:, seen], axis=0)
    return out


def proportion_lengths(proportions: BodyProportions, height: float) -> np.ndarray:
    """BODY_18 bone lengths in pixels of a body with ``proportions`` standing ``height`` pixels tall.

    The neck joint sits midway between the shoulders, and each hip half a hip width to the side of the
    point ``torso`` below the neck (as the procedural motions build the body), so a neck-to-shoulder bone
    is half the shoulder width and a neck-to-hip bone is ``hypot(torso, hip_width / 2)``.

    Returns:
        ``(17,)`` float64 in ``BODY_18.limbs`` order; NaN for the five face bones, which
        ``BodyProportions`` does not describe.
    """
    body = proportions.normalized()
    by_pair = {(a, b): getattr(body, name) for a, b, name in PROPORTION_BONES}
    neck_to_hip = float(np.hypot(body.torso, body.hip_width / 2))
    for side in ("right", "left"):
        by_pair[("neck", f"{side}_shoulder")] = body.shoulder_width / 2
        by_pair[("neck", f"{side}_hip")] = neck_to_hip
    names = BODY_18.joints
    return height * np.array([by_pair.get((names[p], names[c]), np.nan) for p, c in BODY_18.limbs])


def retarget(
    driver: PoseSequence,
    target_lengths: np.ndarray | PoseSequence | BodyProportions,
    *,
    height: float | None = None,
    keep_foreshortening: bool = False,
) -> PoseSequence:
    """Give the driver's motion the target's bone lengths, keeping every bone's direction.

    The neck stays where the driver's is; each other joint is placed from its parent along the driver's
    bone direction at the target's length. Missing joints:

    - a joint missing in the driver stays missing;
    - a seen joint whose parent is missing is placed from its nearest seen ancestor, along the driver's
      direction from that ancestor, at the sum of the target lengths of the bones in between;
    - a seen joint with no seen ancestor (the neck itself, or a subtree when the neck is missing) keeps
      the driver's position.

    Bones the target does not give (NaN lengths, and the face bones of ``BodyProportions``) keep the
    driver's median length scaled by the overall ratio, the sum of the target's lengths over the sum of
    the driver's over the bones both have. A bone of zero length in the driver has no direction and stays
    at zero length.

    Args:
        driver: BODY_18 sequence whose motion is kept.
        target_lengths: Bone lengths to use: a ``(17,)`` array in pixels in ``BODY_18.limbs`` order (NaN =
            unknown), a BODY_18 sequence of the target subject (its :func:`bone_lengths`), or
            ``BodyProportions``, scaled to ``height``.
            ``BodyProportions`` describe a body seen square-on; for a driver filmed at an angle, whose
            widths look narrower, a sequence of the target filmed from a similar view fits better.
        height: Only with ``BodyProportions``: the target's standing height in pixels. Default: the
            height that keeps the driver's overall size (the sum of the arm, leg and torso bones), so only
            the proportions change.
        keep_foreshortening: Scale each frame's bone by the driver's length in that frame over its median,
            so bones foreshortened in the driver (a limb pointing at the camera, shoulders of a body
            turned sideways) stay foreshortened. Default False: every bone has exactly the target's length.

    Returns:
        A sequence on the driver's canvas, with its fps, confidences and depth.

    Raises:
        ValueError: for non-BODY_18 poses, a malformed length array, or nothing to compare lengths on.
    """
    require_body_18(driver, "retarget")
    driver_lengths = bone_lengths(driver)
    lengths = _target_lengths(target_lengths, height, driver_lengths)
    shared = np.isfinite(lengths) & np.isfinite(driver_lengths) & (driver_lengths > 0)
    if not shared.any():
        raise ValueError("retarget: the driver and the target have no measured bone in common")
    ratio = lengths[shared].sum() / driver_lengths[shared].sum()
    lengths = np.where(np.isfinite(lengths), lengths, driver_lengths * ratio)

    xy = driver.keypoints[..., :2].astype(np.float64)  # (T, 18, 2)
    seen = driver.visible  # (T, 18)
    frames = np.arange(len(driver))
    out = np.where(seen[..., None], xy, np.nan)  # joints without a seen ancestor keep the driver's place
    ancestor = np.full(seen.shape, -1)  # nearest seen ancestor per frame and joint
    target_chain = np.zeros(seen.shape)  # summed target lengths from that ancestor
    driver_chain = np.zeros(seen.shape)  # summed driver median lengths from that ancestor
    for bone, parent, child in TREE_ORDER:
        parent_seen = seen[:, parent]
        ancestor[:, child] = np.where(parent_seen, parent, ancestor[:, parent])
        target_chain[:, child] = lengths[bone] + np.where(parent_seen, 0.0, target_chain[:, parent])
        driver_chain[:, child] = driver_lengths[bone] + np.where(parent_seen, 0.0, driver_chain[:, parent])

        anchor = np.clip(ancestor[:, child], 0, None)
        offset = xy[:, child] - xy[frames, anchor]  # (T, 2) driver's vector from the ancestor
        distance = np.linalg.norm(offset, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            length = target_chain[:, child]
            if keep_foreshortening:
                length = length * distance / driver_chain[:, child]
            # A chain through bones of unknown length scales the driver's distance by the overall ratio.
            length = np.where(np.isfinite(length), length, distance * ratio)
            direction = np.where(distance[:, None] > 0, offset / distance[:, None], 0.0)
        placed = seen[:, child] & (ancestor[:, child] >= 0)
        out[placed, child] = (out[frames, anchor] + direction * length[:, None])[placed]

    keypoints = driver.keypoints.copy()
    keypoints[..., :2] = out
    return replace(driver, keypoints=keypoints)


def _target_lengths(
    target: np.ndarray | PoseSequence | BodyProportions, height: float | None, driver_lengths: np.ndarray
) -> np.ndarray:
    """``(17,)`` target bone lengths in pixels, NaN where unknown."""
    if height is not None and not isinstance(target, BodyProportions):
        raise ValueError("retarget: height applies only to a BodyProportions target")
    if isinstance(target, PoseSequence):
        return bone_lengths(target)
    if isinstance(target, BodyProportions):
        unit = proportion_lengths(target, 1.0)
        if height is None:
            both = np.isfinite(unit) & np.isfinite(driver_lengths)
            if not both.any():
                raise ValueError("retarget: the driver has no arm, leg or torso bone to measure height on")
            height = driver_lengths[both].sum() / unit[both].sum()
        height = check_number("height", height, lambda v: v > 0, "a positive number of pixels")
        return unit * height
    try:
        lengths = np.asarray(target, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "retarget: target_lengths must be bone lengths, a PoseSequence or BodyProportions, "
            f"got {type(target).__name__}"
        ) from None
    if lengths.shape != (NUM_BONES,):
        raise ValueError(
            f"target bone lengths must have shape ({NUM_BONES},) in BODY_18.limbs order, got {lengths.shape}"
        )
    if (np.isinf(lengths) | (lengths < 0)).any():
        raise ValueError("target bone lengths must be finite numbers >= 0, or NaN for unknown")
    return lengths
