"""Part labels, the pieces a figure is drawn from, and one pose prepared for building them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from ...pose.proportions import PROPORTION_BONES, BodyProportions
from ...pose.skeleton import BODY_18, FACE_JOINTS
from .shapes import Point, Shape, Surface, unit

# Label table of ``MannequinFrame.parts``. Labels are anatomical whatever the clothes: a short sleeve's
# bare skin is still the upper arm. "right"/"left" are the subject's own sides, as in BODY_18.
# fmt: off
PART_NAMES: tuple[str, ...] = (
    "background",       # 0
    "head",             # 1  face and skin of the head, with nose and eyes
    "hair",             # 2  hair on the head, buns and long hair hanging down the back
    "neck",             # 3
    "torso",            # 4  shoulders to the waistband (the shirt)
    "hips",             # 5  waistband to the legs (the top of the trousers)
    "right_upper_arm",  # 6
    "left_upper_arm",   # 7
    "right_forearm",    # 8
    "left_forearm",     # 9
    "right_hand",       # 10
    "left_hand",        # 11
    "right_thigh",      # 12
    "left_thigh",       # 13
    "right_shin",       # 14
    "left_shin",        # 15
    "right_shoe",       # 16
    "left_shoe",        # 17
)
# fmt: on
PART: dict[str, int] = {name: i for i, name in enumerate(PART_NAMES)}

# Label table of ``MannequinFrame.materials``: what each pixel is painted with, whatever the body part. It
# tells a short sleeve's cloth from the bare arm below it, which the anatomical labels above cannot.
MATERIAL_NAMES: tuple[str, ...] = ("background", "skin", "hair", "shirt", "trousers", "shoes", "eyes")
MATERIAL: dict[str, int] = {name: i for i, name in enumerate(MATERIAL_NAMES)}


class Split(Protocol):
    def signed(self, surface: Surface) -> np.ndarray:
        """``(h, w)`` pixels, > 0 where a piece's second part and material take over."""
        ...


@dataclass(frozen=True)
class AlongCut:
    """Splits a piece across its axis ``at`` pixels from its origin (a sleeve end, a waistband)."""

    at: float

    def signed(self, surface: Surface) -> np.ndarray:
        return surface.u - self.at


@dataclass(frozen=True)
class Piece:
    """One shape of the figure with what to paint it with.

    Args:
        shape: The outline and surface frame.
        depth: Distance from the camera in units of height; farther pieces are drawn first.
        part: Label (index into ``PART_NAMES``) of the piece.
        material: Material name, a key of ``MATERIAL`` other than ``background``.
        split: Optional split into a second region, labelled ``second_part`` and painted ``second_material``.
    """

    shape: Shape
    depth: float
    part: int
    material: str
    split: Split | None = None
    second_part: int = 0
    second_material: str = ""


@dataclass(frozen=True)
class PoseView:
    """One BODY_18 pose, ready for building pieces; make it with :meth:`build`.

    Attributes:
        xy: ``(18, 2)`` float64 pixel positions, NaN where missing.
        present: ``(18,)`` bool.
        depth: ``(18,)`` float64 distance from the camera in units of height (zeros when unknown).
        has_depth: Whether ``depth`` came with the pose.
        height: Apparent standing height of the figure in pixels.
    """

    xy: np.ndarray
    present: np.ndarray
    depth: np.ndarray
    has_depth: bool
    height: float

    @classmethod
    def build(
        cls, keypoints: np.ndarray, depth: np.ndarray | None, proportions: BodyProportions, canvas_height: int
    ) -> PoseView:
        """From validated ``(18, 3)`` keypoints and optional ``(18,)`` depth."""
        present = keypoints[:, 2] > 0
        xy = np.where(present[:, None], keypoints[:, :2], np.nan).astype(np.float64)
        z = np.zeros(18) if depth is None else np.where(present, depth, 0.0).astype(np.float64)
        height = _apparent_height(xy, present, proportions, fallback=0.8 * canvas_height)
        return cls(xy, present, z, depth is not None, height)

    def has(self, *names: str) -> bool:
        return all(self.present[BODY_18.index(name)] for name in names)

    def at(self, name: str) -> Point:
        x, y = self.xy[BODY_18.index(name)]
        return float(x), float(y)

    def z(self, *names: str) -> float:
        """Mean depth of the named joints that are present (0 if none is)."""
        idx = [BODY_18.index(n) for n in names if self.has(n)]
        return float(self.depth[idx].mean()) if idx else 0.0

    def mean(self, *names: str) -> Point:
        """Mean position of the named joints that are present (they must not all be missing)."""
        idx = [BODY_18.index(n) for n in names if self.has(n)]
        x, y = self.xy[idx].mean(axis=0)
        return float(x), float(y)

    def face_joints(self) -> tuple[str, ...]:
        return tuple(name for name in FACE_JOINTS if self.has(name))

    @cached_property
    def facing(self) -> Point:
        """Unit vector ``(image x, towards the camera)`` of where the figure faces.

        From the nose's offset to the midpoint of the ears when all three are present; else, with depth,
        from the shoulder line (one ear alone is too far off the head's centre to use in 3D); else from the
        nose's sideways offset to one ear, assuming the face is turned towards the camera; else straight at
        the camera.
        """
        ears = [e for e in ("right_ear", "left_ear") if self.has(e)]
        if self.has("nose") and len(ears) == 2:
            dx = self.at("nose")[0] - self.mean(*ears)[0]
            if self.has_depth:
                return unit(dx, (self.z(*ears) - self.z("nose")) * self.height, default=(0.0, 1.0))
        elif self.has_depth and self.has("right_shoulder", "left_shoulder"):
            # The body faces the right-to-left shoulder vector turned a quarter towards the camera.
            sx = self.at("left_shoulder")[0] - self.at("right_shoulder")[0]
            sz = (self.z("right_shoulder") - self.z("left_shoulder")) * self.height
            return unit(-sz, sx, default=(0.0, 1.0))
        elif self.has("nose") and ears:
            dx = self.at("nose")[0] - self.at(ears[0])[0]
        else:
            return 0.0, 1.0
        # In profile the nose sits about half a head length (0.07 of height) ahead of the ears.
        fx = float(np.clip(dx / (0.07 * self.height), -1.0, 1.0))
        return fx, float(np.sqrt(1.0 - fx * fx))


def _apparent_height(
    xy: np.ndarray, present: np.ndarray, proportions: BodyProportions, fallback: float
) -> float:
    """Standing height in pixels implied by the visible segments.

    Foreshortening only shortens a segment, so large estimates are the trustworthy ones; the second largest
    is used (when there are three or more) so that one misplaced joint cannot inflate the figure.
    """
    index = BODY_18.index
    estimates = []
    for a, b, name in PROPORTION_BONES:
        if present[index(a)] and present[index(b)]:
            estimates.append(np.linalg.norm(xy[index(a)] - xy[index(b)]) / getattr(proportions, name))
    if present[[index("neck"), index("right_hip"), index("left_hip")]].all():
        hips = 0.5 * (xy[index("right_hip")] + xy[index("left_hip")])
        estimates.append(np.linalg.norm(hips - xy[index("neck")]) / proportions.torso)
    estimates.sort()
    height = estimates[-2] if len(estimates) >= 3 else (estimates[-1] if estimates else 0.0)
    return float(height) if height >= 4.0 else float(fallback)
