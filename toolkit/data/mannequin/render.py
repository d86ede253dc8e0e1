"""Render a mannequin in a pose: RGB image, foreground mask, part labels and material labels.

Each piece (``body.py``, ``head.py``) is a signed distance field evaluated only inside its own bounding
box. Pieces are composited far to near with coverage alpha, which anti-aliases every outline without
supersampling; part and material labels are the exact pixel-centre tests of the same fields, so the label
maps are exact at output resolution and agree with the image wherever a pixel is more than half covered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ...errors import PoseFormatError
from ...pose.sequence import PoseSequence
from .backgrounds import Background, background_image
from .body import arm_pieces, leg_pieces, torso_pieces
from .head import head_pieces
from .parts import MATERIAL, Piece, PoseView
from .patterns import PATTERNS, Pattern
from .shapes import Surface
from .spec import Garment, MannequinSpec, MannequinSpecError

_EYE_COLOR = (38, 30, 28)
# Brightness at a piece's outline relative to its core: a soft darkening that makes capsules read as round.
_AMBIENT = 0.6


@dataclass(frozen=True)
class MannequinFrame:
    """One rendered frame.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB, anti-aliased.
        mask: ``(H, W)`` bool foreground, exactly ``parts > 0``.
        parts: ``(H, W)`` uint8 part labels; ``PART_NAMES[i]`` names label ``i`` (0 is background).
        materials: ``(H, W)`` uint8 material labels; ``MATERIAL_NAMES[i]`` names label ``i`` (0 is
            background): skin, hair, shirt, trousers, shoes or eyes.
    """

    image: np.ndarray
    mask: np.ndarray
    parts: np.ndarray
    materials: np.ndarray


@dataclass(frozen=True)
class _Material:
    """A base colour with an optional pattern whose period is ``period`` pixels."""

    color: np.ndarray  # (3,) float32
    pattern: Pattern | None = None
    pattern_color: np.ndarray | None = None
    period: float = 1.0

    @classmethod
    def solid(cls, color: tuple[int, int, int]) -> _Material:
        return cls(np.array(color, np.float32))

    @classmethod
    def of(cls, garment: Garment, figure_height: float) -> _Material:
        period = max(garment.pattern_scale * figure_height, 2.0)
        second = np.array(garment.pattern_color, np.float32)
        return cls(np.array(garment.color, np.float32), PATTERNS[garment.pattern], second, period)

    def paint(self, surface: Surface) -> np.ndarray:
        """Colour at each pixel: ``(h, w, 3)`` float32, or ``(3,)`` for a solid material."""
        if self.pattern is None:
            return self.color
        scale = 1.0 / self.period
        weight = self.pattern(surface.u * scale, surface.v * scale, scale)
        return self.color + weight[..., None] * (self.pattern_color - self.color)


def _materials(spec: MannequinSpec, figure_height: float) -> dict[str, _Material]:
    return {
        "skin": _Material.solid(spec.skin),
        "hair": _Material.solid(spec.hair),
        "shoes": _Material.solid(spec.shoes),
        "eyes": _Material.solid(_EYE_COLOR),
        "shirt": _Material.of(spec.shirt, figure_height),
        "trousers": _Material.of(spec.trousers, figure_height),
    }


def figure_pieces(spec: MannequinSpec, view: PoseView) -> list[Piece]:
    """Every piece of the figure in drawing order, farthest first; pieces at equal depth keep the order legs,
    torso, head, arms. (The torso counts as a little behind its joints, so limbs level with it, as in a
    front view, are drawn over it.)"""
    pieces = [
        *leg_pieces(view, spec, "right"),
        *leg_pieces(view, spec, "left"),
        *torso_pieces(view, spec),
        *head_pieces(view, spec),
        *arm_pieces(view, spec, "right"),
        *arm_pieces(view, spec, "left"),
    ]
    order = sorted(range(len(pieces)), key=lambda i: (-pieces[i].depth, i))
    return [pieces[i] for i in order]


def render_mannequin(
    spec: MannequinSpec,
    keypoints: np.ndarray,
    depth: np.ndarray | None,
    width: int,
    height: int,
    *,
    background: Background = None,
) -> MannequinFrame:
    """Draw ``spec`` in one pose on a ``width`` x ``height`` canvas.

    Args:
        spec: The subject.
        keypoints: ``(18, 3)`` BODY_18 x, y, confidence in pixels (confidence 0 = missing). A part is left
            out when a joint it needs is missing: head, hair and neck need the neck and any face joint
            (nose, eyes, ears); torso and hips the neck and a hip; an upper arm its shoulder and elbow; a
            forearm its elbow and wrist; a hand its wrist; a thigh its hip and knee; a shin its knee and
            ankle; a shoe its ankle.
        depth: ``(18,)`` distance of each joint from the camera in units of height, larger = farther; None
            draws a front view (legs, torso, head, then arms on top).
        width: Canvas width in pixels.
        height: Canvas height in pixels.
        background: None (``DEFAULT_BACKGROUND``, a plain light grey), a name in ``BACKGROUNDS``, an RGB
            triple or a ``(height, width, 3)`` uint8 image.

    Returns:
        A :class:`MannequinFrame`. The same arguments always give bit-identical frames.

    Raises:
        PoseFormatError: for keypoints or depth of the wrong shape or with non-finite present joints, or a
            bad canvas size; ``BackgroundError`` or ``MannequinSpecError`` for a bad background or spec.
    """
    _check_spec(spec)
    pose = _single_pose(keypoints, depth, width, height)
    frame_depth = None if pose.depth is None else pose.depth[0]
    return _render(
        spec, pose.keypoints[0], frame_depth, background_image(background, pose.width, pose.height)
    )


def render_sequence(
    spec: MannequinSpec, poses: PoseSequence, *, background: Background = None
) -> Iterator[MannequinFrame]:
    """Render every frame of ``poses`` (converted to BODY_18 if needed; ``poses.depth`` orders the limbs
    when present). Arguments are checked before the first frame is drawn; see :func:`render_mannequin`."""
    _check_spec(spec)
    if not isinstance(poses, PoseSequence):
        raise PoseFormatError(f"must be a PoseSequence, got {type(poses).__name__}", field="poses")
    poses = poses.to_layout("body_18")
    backdrop = background_image(background, poses.width, poses.height)

    def frames() -> Iterator[MannequinFrame]:
        for t in range(len(poses)):
            yield _render(spec, poses.keypoints[t], None if poses.depth is None else poses.depth[t], backdrop)

    return frames()


def _check_spec(spec: object) -> None:
    if not isinstance(spec, MannequinSpec):
        raise MannequinSpecError(
            f"spec must be a MannequinSpec (e.g. MannequinSpec.sample(seed)), got {spec!r}"
        )


def _single_pose(keypoints: object, depth: object, width: int, height: int) -> PoseSequence:
    """Validate one pose by wrapping it in a one-frame sequence."""
    try:
        points = np.asarray(keypoints, dtype=np.float32)
        distances = None if depth is None else np.asarray(depth, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise PoseFormatError(f"keypoints and depth must be numeric arrays ({err})") from None
    if points.shape != (18, 3):
        raise PoseFormatError(
            f"expected BODY_18 keypoints of shape (18, 3), got {points.shape}", field="keypoints"
        )
    if distances is not None and distances.shape != (18,):
        raise PoseFormatError(f"expected depth of shape (18,), got {distances.shape}", field="depth")
    return PoseSequence(points[None], width, height, depth=None if distances is None else distances[None])


def _render(
    spec: MannequinSpec, keypoints: np.ndarray, depth: np.ndarray | None, backdrop: np.ndarray
) -> MannequinFrame:
    """Draw validated ``(18, 3)`` keypoints and ``(18,)`` depth onto a copy of ``backdrop`` ``(H, W, 3)``."""
    height, width = backdrop.shape[:2]
    image = backdrop.copy()
    parts = np.zeros((height, width), np.uint8)
    materials = np.zeros((height, width), np.uint8)
    view = PoseView.build(keypoints, depth, spec.proportions, height)
    pieces = figure_pieces(spec, view)
    boxes = [_pixel_box(piece, width, height) for piece in pieces]
    drawn = [(piece, box) for piece, box in zip(pieces, boxes, strict=True) if box is not None]
    if drawn:
        # Work in float only inside the figure's bounding box.
        x0, y0 = min(box[0] for _, box in drawn), min(box[1] for _, box in drawn)
        x1, y1 = max(box[2] for _, box in drawn), max(box[3] for _, box in drawn)
        canvas = image[y0:y1, x0:x1].astype(np.float32)
        box = (slice(y0, y1), slice(x0, x1))
        _composite(drawn, _materials(spec, view.height), canvas, parts[box], materials[box], x0, y0)
        image[y0:y1, x0:x1] = np.rint(canvas).astype(np.uint8)
    return MannequinFrame(image=image, mask=parts > 0, parts=parts, materials=materials)


def _pixel_box(piece: Piece, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Pixel columns ``[x0, x1)`` and rows ``[y0, y1)`` a piece can touch (its outline plus the one-pixel
    anti-aliasing ramp), clipped to the canvas; None when it lies off the canvas."""
    bx0, by0, bx1, by1 = piece.shape.bounds()
    x0, y0 = max(int(np.floor(bx0)) - 1, 0), max(int(np.floor(by0)) - 1, 0)
    x1, y1 = min(int(np.ceil(bx1)) + 2, width), min(int(np.ceil(by1)) + 2, height)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _composite(
    drawn: list[tuple[Piece, tuple[int, int, int, int]]],
    paints: dict[str, _Material],
    canvas: np.ndarray,
    parts: np.ndarray,
    materials: np.ndarray,
    x0: int,
    y0: int,
) -> None:
    """Paint pieces far to near into ``canvas`` ``(h, w, 3)`` float32 and label them in ``parts`` and
    ``materials`` ``(h, w)`` uint8, all views of the frame whose top-left pixel is ``(x0, y0)``."""
    xs = np.arange(x0, x0 + canvas.shape[1], dtype=np.float32)[None, :]  # (1, w)
    ys = np.arange(y0, y0 + canvas.shape[0], dtype=np.float32)[:, None]  # (h, 1)
    for piece, (bx0, by0, bx1, by1) in drawn:
        cols, rows = slice(bx0 - x0, bx1 - x0), slice(by0 - y0, by1 - y0)
        surface = piece.shape.surface(xs[:, cols], ys[rows])
        color = paints[piece.material].paint(surface)
        label: int | np.ndarray = piece.part
        material: int | np.ndarray = MATERIAL[piece.material]
        if piece.split is not None:
            signed = piece.split.signed(surface)
            weight = np.clip(signed + 0.5, 0.0, 1.0)[..., None]
            color = color + weight * (paints[piece.second_material].paint(surface) - color)
            second = signed > 0
            label = np.where(second, np.uint8(piece.second_part), np.uint8(piece.part))
            material = np.where(second, np.uint8(MATERIAL[piece.second_material]), np.uint8(material))
        shade = _AMBIENT + (1.0 - _AMBIENT) * np.sqrt(1.0 - surface.n * surface.n)
        alpha = np.clip(0.5 - surface.sdf, 0.0, 1.0)[..., None]
        region = canvas[rows, cols]
        region += alpha * (color * shade[..., None] - region)
        inside = surface.sdf < 0
        np.copyto(parts[rows, cols], label, where=inside)
        np.copyto(materials[rows, cols], material, where=inside)
