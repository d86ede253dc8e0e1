"""Torso, arms and legs: the pieces below the neck, built from one pose.

Widths are fractions of the figure's apparent standing height (times the subject's ``limb_thickness``), so a
figure looks the same from 64 to 512 pixels. Every radius is at least one pixel so that thin limbs never
vanish and every present joint lies inside the figure's mask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .parts import PART, AlongCut, Piece, PoseView
from .shapes import Capsule, Hull, Point, unit

if TYPE_CHECKING:
    from .spec import MannequinSpec

# Radii at the first and second joint of each segment, as fractions of standing height.
_RADII: dict[str, tuple[float, float]] = {
    "upper_arm": (0.031, 0.024),
    "forearm": (0.024, 0.018),
    "hand": (0.019, 0.014),
    "thigh": (0.050, 0.034),
    "shin": (0.034, 0.024),
}
_CHEST_RADIUS = 0.068  # half the chest's depth: the torso never gets thinner than this in profile
_BELLY_RADIUS = 0.062
_HAND_LENGTH = 0.055
_TOE_REACH = 0.10  # how far the toe reaches ahead of the ankle in profile
_HEEL_REACH = 0.03
_TOE_OUT = 0.02  # sideways reach of the toe in a front view
_WAISTBAND = 0.82  # where the shirt meets the trousers, as a fraction of neck-to-hips
_SHORT_SLEEVE = 0.55  # of the upper arm
_SHORTS = 0.7  # of the thigh
# A torso's joints lie on its centre line, limbs' on theirs; pushing the torso back by this much (in units
# of height) draws arms and legs at the torso's own depth in front of it, as a front view needs.
_TORSO_BEHIND = 0.03
# Joints whose discs shape the torso hull, with the segment that sets each disc's radius.
_TORSO_DISCS = (
    ("right_shoulder", "upper_arm"),
    ("left_shoulder", "upper_arm"),
    ("right_hip", "thigh"),
    ("left_hip", "thigh"),
)


def _radius(fraction: float, scale: float) -> float:
    return max(fraction * scale, 1.0)


def _offset(p: Point, direction: Point, distance: float) -> Point:
    return p[0] + direction[0] * distance, p[1] + direction[1] * distance


def _segment(view: PoseView, a: str, b: str, radii: tuple[float, float], scale: float) -> Capsule:
    return Capsule(view.at(a), view.at(b), _radius(radii[0], scale), _radius(radii[1], scale))


def _length(view: PoseView, a: str, b: str) -> float:
    (ax, ay), (bx, by) = view.at(a), view.at(b)
    return float(np.hypot(bx - ax, by - ay))


def _direction(view: PoseView, a: str, b: str) -> Point:
    """Unit vector from joint ``a`` to the present joint ``b``; straight down when ``a`` is missing."""
    if not view.has(a):
        return 0.0, 1.0
    (ax, ay), (bx, by) = view.at(a), view.at(b)
    return unit(bx - ax, by - ay)


def torso_pieces(view: PoseView, spec: MannequinSpec) -> list[Piece]:
    """The torso (shirt) and hips (trousers) as one hull around shoulders, hips and a minimum chest and belly
    depth. Needs the neck and at least one hip."""
    hips = [h for h in ("right_hip", "left_hip") if view.has(h)]
    if not (view.has("neck") and hips):
        return []
    scale = view.height * spec.limb_thickness
    neck, hip = view.at("neck"), view.mean(*hips)
    axis = unit(hip[0] - neck[0], hip[1] - neck[1])
    length = float(np.hypot(hip[0] - neck[0], hip[1] - neck[1]))
    centers = [_offset(neck, axis, 0.22 * length), _offset(neck, axis, 0.75 * length)]
    radii = [_radius(_CHEST_RADIUS, scale), _radius(_BELLY_RADIUS, scale)]
    for joint, segment in _TORSO_DISCS:
        if view.has(joint):
            centers.append(view.at(joint))
            radii.append(_radius(_RADII[segment][0], scale))
    hull = Hull.around_discs(np.array(centers), np.array(radii), neck, axis)
    depth = view.z("neck", *(joint for joint, _ in _TORSO_DISCS)) + _TORSO_BEHIND
    waistband = AlongCut(_WAISTBAND * length)
    return [Piece(hull, depth, PART["torso"], "shirt", waistband, PART["hips"], "trousers")]


def arm_pieces(view: PoseView, spec: MannequinSpec, side: str) -> list[Piece]:
    """Upper arm (shoulder + elbow), forearm (elbow + wrist) and hand (wrist) of ``side`` ("right"/"left"),
    in sleeves of the shirt's length."""
    shoulder, elbow, wrist = f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"
    scale = view.height * spec.limb_thickness
    long_sleeves = spec.shirt.length == "long"
    pieces = []
    if view.has(shoulder, elbow):
        upper = _segment(view, shoulder, elbow, _RADII["upper_arm"], scale)
        sleeve_end = None if long_sleeves else AlongCut(_SHORT_SLEEVE * _length(view, shoulder, elbow))
        part = PART[f"{side}_upper_arm"]
        pieces.append(Piece(upper, view.z(shoulder, elbow), part, "shirt", sleeve_end, part, "skin"))
    if view.has(elbow, wrist):
        forearm = _segment(view, elbow, wrist, _RADII["forearm"], scale)
        material = "shirt" if long_sleeves else "skin"
        pieces.append(Piece(forearm, view.z(elbow, wrist), PART[f"{side}_forearm"], material))
    if view.has(wrist):
        w, direction = view.at(wrist), _direction(view, elbow, wrist)
        r0, r1 = (_radius(r, scale) for r in _RADII["hand"])
        start, end = _offset(w, direction, 0.25 * r0), _offset(w, direction, _HAND_LENGTH * view.height)
        pieces.append(Piece(Capsule(start, end, r0, r1), view.z(wrist), PART[f"{side}_hand"], "skin"))
    return pieces


def leg_pieces(view: PoseView, spec: MannequinSpec, side: str) -> list[Piece]:
    """Thigh (hip + knee), shin (knee + ankle) and shoe (ankle) of ``side``, in trousers or shorts."""
    hip, knee, ankle = f"{side}_hip", f"{side}_knee", f"{side}_ankle"
    scale = view.height * spec.limb_thickness
    long_legs = spec.trousers.length == "long"
    pieces = []
    if view.has(hip, knee):
        thigh = _segment(view, hip, knee, _RADII["thigh"], scale)
        hem = None if long_legs else AlongCut(_SHORTS * _length(view, hip, knee))
        part = PART[f"{side}_thigh"]
        pieces.append(Piece(thigh, view.z(hip, knee), part, "trousers", hem, part, "skin"))
    if view.has(knee, ankle):
        shin = _segment(view, knee, ankle, _RADII["shin"], scale)
        material = "trousers" if long_legs else "skin"
        pieces.append(Piece(shin, view.z(knee, ankle), PART[f"{side}_shin"], material))
    if view.has(ankle):
        pieces.append(Piece(_shoe(view, spec, side), view.z(ankle), PART[f"{side}_shoe"], "shoes"))
    return pieces


def _shoe(view: PoseView, spec: MannequinSpec, side: str) -> Capsule:
    """A capsule from heel to toe under the ankle, tilted with the shin. The toe points where the body
    faces; seen from the front the feet turn out a little, as people stand."""
    ankle = view.at(f"{side}_ankle")
    down = _direction(view, f"{side}_knee", f"{side}_ankle")
    facing_x = view.facing[0]
    hips = [h for h in ("right_hip", "left_hip") if view.has(h)]
    outward = float(np.sign(ankle[0] - view.mean(*hips)[0])) if hips else 0.0
    toe_x = (facing_x * _TOE_REACH + outward * _TOE_OUT * (1.0 - abs(facing_x))) * view.height
    heel_x = -facing_x * _HEEL_REACH * view.height
    sole = spec.proportions.ankle_height * view.height
    heel, toe = _offset(ankle, down, 0.4 * sole), _offset(ankle, down, 0.55 * sole)
    return Capsule(
        (heel[0] + heel_x, heel[1]), (toe[0] + toe_x, toe[1]), max(0.62 * sole, 1.0), max(0.52 * sole, 1.0)
    )
