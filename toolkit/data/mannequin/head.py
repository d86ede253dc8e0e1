"""Head, neck, hair, nose and eyes.

The head is an ellipse around the face joints, its long axis along neck -> head. Hair is the part of the
head that lies above a hairline or faces away from the viewer, modelled as a sphere; so the face shows from
the front, the back of the head is hair from behind, and profiles show both. Eyes are dark dots at the eye
joints and the nose a small capsule to the nose joint, each drawn only when it faces the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .parts import PART, Piece, PoseView
from .shapes import Capsule, Ellipse, Point, Surface, unit

if TYPE_CHECKING:
    from .spec import MannequinSpec


@dataclass(frozen=True)
class HairStyle:
    """Where hair grows, in head coordinates (fractions of the head's semi-axes; +1 is the crown).

    Args:
        covers: False for bald: no hair at all.
        top: Hair above this height on the head.
        back: Hair where the head surface's facing (-1 away from the viewer .. 1 towards) is below this.
        nape: Never below this height, so jaw and neck stay skin.
        hangs: Long hair hangs behind the neck to this many semi-axes below the head's centre (0: none).
        bun: Radius of a bun on the crown in head half-widths (0: none).
    """

    covers: bool = True
    top: float = 0.35
    back: float = 0.0
    nape: float = -0.45
    hangs: float = 0.0
    bun: float = 0.0


HAIR_STYLES: dict[str, HairStyle] = {
    "bald": HairStyle(covers=False),
    "short": HairStyle(),
    "long": HairStyle(top=0.2, back=0.15, nape=-0.6, hangs=2.6),
    "bun": HairStyle(top=0.3, bun=0.42),
}

# Head width (ear to ear) and depth (front to back) over head height (crown to chin).
_HEAD_WIDTH = 0.72
_HEAD_DEPTH = 0.88
_NECK_RADIUS = 0.026
_FACE_INSIDE = 0.85  # face joints lie at most this far out on the head's normalised radius


@dataclass(frozen=True)
class HairSplit:
    """Splits the head ellipse into face (skin) and hair.

    Args:
        style: Where hair grows.
        semi_up: The head's semi-axis along its axis, pixels.
        semi_across: The other semi-axis, pixels.
        facing: Where the body faces, in head coordinates: (along the head axis, across it, towards camera).
    """

    style: HairStyle
    semi_up: float
    semi_across: float
    facing: tuple[float, float, float]

    def signed(self, surface: Surface) -> np.ndarray:
        a, c = surface.u * (1.0 / self.semi_up), surface.v * (1.0 / self.semi_across)
        z = np.sqrt(np.maximum(1.0 - a * a - c * c, 0.0))  # the sphere's depth towards the camera
        towards = a * self.facing[0] + c * self.facing[1] + z * self.facing[2]
        # The hairline dips towards the temples rather than cutting straight across the forehead.
        above_hairline = a - self.style.top + 0.4 * c * c
        hair = np.minimum(np.maximum(above_hairline, self.style.back - towards), a - self.style.nape)
        return hair * float(np.sqrt(self.semi_up * self.semi_across))


def head_pieces(view: PoseView, spec: MannequinSpec) -> list[Piece]:
    """Hanging hair or bun (if the style has them), neck, head with hair, nose and the eyes that face the
    camera.

    Needs the neck and at least one face joint (nose, eyes, ears); returns no pieces otherwise.
    """
    face = view.face_joints()
    if not (view.has("neck") and face):
        return []
    neck = view.at("neck")
    fx, fz = view.facing
    back: Point = (-fx, 0.0)  # image direction of the back of the head
    head_length = spec.proportions.head * spec.head_size * view.height  # crown to chin, pixels
    ears, center_depth = _ear_level_center(view, face, head_length)
    up = unit(ears[0] - neck[0], ears[1] - neck[1], default=(0.0, -1.0))
    # The ears sit a little below and behind the middle of the head.
    center = _along(ears, up, 0.08 * head_length, back, -0.05 * head_length)
    # The head is wider seen from the side (front to back) than from the front (ear to ear).
    aspect = float(np.hypot(_HEAD_WIDTH * fz, _HEAD_DEPTH * fx))
    semi_up = 0.5 * head_length
    outer = [name for name in face if name != "nose"]  # the nose may stick out: it gets its own piece
    if outer:
        semi_up *= max(1.0, _reach(view, outer, center, up, semi_up, aspect) / _FACE_INSIDE)
    semi_up = max(semi_up, 1.5)
    semi_across = aspect * semi_up
    # The head is never drawn under its own neck, even seen from behind.
    depth = min(view.z(*face), view.z("neck") + 0.01)

    style = HAIR_STYLES[spec.hair_style]
    pieces = []
    if style.hangs > 0:
        # Long hair falls down the back: behind the torso when the figure faces the camera, over it when
        # it faces away. Seen from the side it hangs behind the head.
        top = _along(center, up, -0.2 * semi_up, back, 0.45 * semi_across)
        bottom = _along(center, up, -style.hangs * semi_up, back, 0.5 * semi_across)
        hanging = Capsule(top, bottom, 0.95 * semi_across, 0.8 * semi_across)
        pieces.append(Piece(hanging, view.z("neck") + 0.1 * fz, PART["hair"], "hair"))
    if style.bun > 0:
        radius = style.bun * semi_across
        bun = Ellipse(_along(center, up, 0.95 * semi_up, back, 0.3 * semi_across), up, radius, radius)
        pieces.append(Piece(bun, center_depth + 0.05 * fz, PART["hair"], "hair"))

    chin = _along(center, up, -0.45 * semi_up, back, 0.0)
    radius = max(_NECK_RADIUS * spec.limb_thickness * view.height, 1.0)
    pieces.append(Piece(Capsule(neck, chin, radius, radius), view.z("neck") + 0.02, PART["neck"], "skin"))

    split = HairSplit(style, semi_up, semi_across, (fx * up[0], -fx * up[1], fz)) if style.covers else None
    head = Ellipse(center, up, semi_up, semi_across)
    pieces.append(
        Piece(
            head, depth, PART["head"], "skin", split=split, second_part=PART["hair"], second_material="hair"
        )
    )

    def faces_camera(joint: str) -> bool:
        return view.has(joint) and (not view.has_depth or view.z(joint) < center_depth)

    if faces_camera("nose"):
        tip = view.at("nose")
        root = (0.5 * (center[0] + tip[0]), 0.5 * (center[1] + tip[1]))
        nose = Capsule(root, tip, max(0.14 * semi_across, 1.0), max(0.1 * semi_across, 1.0))
        pieces.append(Piece(nose, depth, PART["head"], "skin"))
    eye_radius = max(0.09 * semi_across, 0.6)
    for eye in ("right_eye", "left_eye"):
        if faces_camera(eye):
            pieces.append(
                Piece(Ellipse(view.at(eye), up, eye_radius, eye_radius), depth, PART["head"], "eyes")
            )
    return pieces


def _ear_level_center(view: PoseView, face: tuple[str, ...], head_length: float) -> tuple[Point, float]:
    """Image position and depth of the head's axis at ear level, from whichever face joints are present."""
    fx, fz = view.facing
    ears = [e for e in ("right_ear", "left_ear") if view.has(e)]
    if len(ears) == 2:
        return view.mean(*ears), view.z(*ears)
    if ears:
        # Half a head width from the ear towards the other one, along the figure's left or right; the
        # figure's left is (fz, fx) in (image x, depth).
        x, y = view.at(ears[0])
        reach = (0.5 if ears[0] == "right_ear" else -0.5) * _HEAD_WIDTH * head_length
        return (x + reach * fz, y), view.z(ears[0]) + reach * fx / view.height
    # Eyes and nose lie forward of the axis, by about 0.35 of a head length on average.
    x, y = view.mean(*face)
    reach = 0.35 * head_length
    return (x - reach * fx, y), view.z(*face) + reach * fz / view.height


def _along(center: Point, up: Point, rise: float, side: Point, shift: float) -> Point:
    """``center`` moved ``rise`` pixels along ``up`` and ``shift`` pixels along ``side``."""
    return center[0] + up[0] * rise + side[0] * shift, center[1] + up[1] * rise + side[1] * shift


def _reach(
    view: PoseView, joints: list[str], center: Point, up: Point, semi_up: float, aspect: float
) -> float:
    """How far out ``joints`` reach on a head of half-height ``semi_up`` (1 = on its outline)."""
    xy = np.array([view.at(name) for name in joints]) - np.asarray(center)  # (F, 2)
    a = (xy @ np.asarray(up)) / semi_up
    c = (xy @ np.array([-up[1], up[0]])) / (aspect * semi_up)
    return float(np.sqrt(a * a + c * c).max())
