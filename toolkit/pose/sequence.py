"""`PoseSequence`: the one pose container every part of the toolkit passes around."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import PoseFormatError
from .skeleton import Skeleton, convert_keypoints, get_skeleton

MAX_CANVAS = 16384  # pixels on a side: a larger canvas is a unit mistake, and would not fit in memory drawn
REACH = 4  # present joints lie within this many canvas widths (heights) of the canvas


@dataclass(frozen=True, eq=False)
class PoseSequence:
    """A sequence of 2D poses on a canvas.

    Coordinates are pixels of a ``width`` x ``height`` canvas with (0, 0) at the centre of the top-left
    pixel, the convention of OpenPose and of OpenCV's drawing functions.

    Args:
        keypoints: ``(T, J, 3)`` array of x, y, confidence. A missing joint has confidence 0; its x, y are
            stored as NaN whatever was passed. A present joint may lie off the canvas, but within
            ``REACH`` (4) canvas widths and heights of it.
        width: Canvas width in pixels, 1 to ``MAX_CANVAS`` (16384).
        height: Canvas height in pixels, 1 to ``MAX_CANVAS``.
        fps: Frames per second, > 0. Default 24.
        layout: Keypoint layout name (see ``toolkit.pose.skeleton``). Default ``"body_18"``.
        depth: Optional ``(T, J)`` distance of each joint from the camera, in units of the subject's
            height (larger = farther). Procedural motions provide it; renderers use it to draw limbs in
            depth order.

    Raises:
        PoseFormatError: naming the frame and field that is invalid.
    """

    keypoints: np.ndarray
    width: int
    height: int
    fps: float = 24.0
    layout: str = "body_18"
    depth: np.ndarray | None = None

    def __post_init__(self) -> None:
        try:
            skeleton = get_skeleton(self.layout)
        except KeyError as err:
            raise PoseFormatError(str(err.args[0]), field="layout") from None
        keypoints = _validated_keypoints(self.keypoints, skeleton)
        object.__setattr__(self, "keypoints", keypoints)
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise PoseFormatError(f"must be a positive integer, got {value!r}", field=f"canvas.{name}")
            if value > MAX_CANVAS:
                raise PoseFormatError(
                    f"{value} pixels is more than the {MAX_CANVAS} a canvas may have; give the canvas the "
                    "poses were measured on in pixels (--canvas WxH)",
                    field=f"canvas.{name}",
                )
            object.__setattr__(self, name, int(value))
        _check_within_reach(keypoints, self.width, self.height, skeleton)
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise PoseFormatError(f"must be a positive number, got {self.fps!r}", field="fps")
        object.__setattr__(self, "fps", float(self.fps))
        if self.depth is not None:
            object.__setattr__(self, "depth", _validated_depth(self.depth, keypoints))

    # ---- sizes -------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[1]

    @property
    def skeleton(self) -> Skeleton:
        return get_skeleton(self.layout)

    @property
    def canvas(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.width, self.height

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self) / self.fps

    @property
    def visible(self) -> np.ndarray:
        """``(T, J)`` bool: which joints are present."""
        return self.keypoints[..., 2] > 0

    # ---- views and transforms (each returns a new sequence) --------------------------------------------

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> PoseSequence:
        """Frames by index, slice or index array; an integer gives a one-frame sequence."""
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1 if index != -1 else None)
        depth = None if self.depth is None else self.depth[index]
        return replace(self, keypoints=self.keypoints[index], depth=depth)

    def normalized(self) -> np.ndarray:
        """``(T, J, 3)`` with x / width and y / height in [0, 1] (the convention of ControlNet's
        annotators); confidence unchanged."""
        out = self.keypoints.copy()
        out[..., 0] /= self.width
        out[..., 1] /= self.height
        return out

    @classmethod
    def from_normalized(
        cls, keypoints: np.ndarray, width: int, height: int, **kwargs: object
    ) -> PoseSequence:
        """Build from ``(T, J, 3)`` keypoints with x, y in [0, 1] of a ``width`` x ``height`` canvas."""
        pixels = np.array(keypoints, dtype=np.float32)
        pixels[..., 0] *= width
        pixels[..., 1] *= height
        return cls(pixels, width, height, **kwargs)  # type: ignore[arg-type]

    def to_layout(self, layout: str) -> PoseSequence:
        """Convert to another keypoint layout (see ``skeleton.conversions()``). Depth is dropped unless the
        layout is unchanged, since converted joints have no single depth."""
        if layout == self.layout:
            return self
        return replace(self, keypoints=convert_keypoints(self.keypoints, self.layout, layout), layout=layout,
                       depth=None)  # fmt: skip

    def flipped(self) -> PoseSequence:
        """Mirror left-right: x -> width - 1 - x (matches ``image[:, ::-1]``) and left/right joints swap."""
        perm = self.skeleton.flip_permutation()
        keypoints = self.keypoints[:, perm].copy()
        keypoints[..., 0] = (self.width - 1) - keypoints[..., 0]
        depth = None if self.depth is None else self.depth[:, perm]
        return replace(self, keypoints=keypoints, depth=depth)

    def fit_to_canvas(self, width: int, height: int) -> PoseSequence:
        """Move to a ``width`` x ``height`` canvas, scaling the old canvas uniformly to fit inside the new
        one and centring it (letterboxing), so the aspect ratio of the body is kept."""
        scale = min(width / self.width, height / self.height)
        offset = np.array([(width - self.width * scale) / 2, (height - self.height * scale) / 2], np.float32)
        keypoints = self.keypoints.copy()
        # Scale pixel centres: a point at pixel centre c maps to (c + 0.5) * scale - 0.5.
        keypoints[..., :2] = (keypoints[..., :2] + 0.5) * scale - 0.5 + offset
        return replace(self, keypoints=keypoints, width=width, height=height)

    def with_fps(self, fps: float) -> PoseSequence:
        """The same frames labelled with another frame rate (no resampling)."""
        return replace(self, fps=fps)

    @staticmethod
    def concatenate(sequences: Sequence[PoseSequence]) -> PoseSequence:
        """Join sequences end to end; canvas, fps and layout must agree."""
        if not sequences:
            raise ValueError("concatenate needs at least one sequence")
        first = sequences[0]
        for other in sequences[1:]:
            if (other.canvas, other.fps, other.layout) != (first.canvas, first.fps, first.layout):
                raise ValueError(
                    f"cannot join {other.layout} {other.canvas} at {other.fps} fps "
                    f"to {first.layout} {first.canvas} at {first.fps} fps"
                )
        has_depth = all(s.depth is not None for s in sequences)
        return replace(
            first,
            keypoints=np.concatenate([s.keypoints for s in sequences]),
            depth=np.concatenate([s.depth for s in sequences]) if has_depth else None,  # type: ignore[misc]
        )


def _validated_keypoints(keypoints: object, skeleton: Skeleton) -> np.ndarray:
    """Check shape and values; return a float32 copy whose missing joints have NaN coordinates."""
    try:
        array = np.array(keypoints, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise PoseFormatError(f"not a numeric array ({err})", field="keypoints") from None
    if array.ndim != 3 or array.shape[1:] != (skeleton.num_joints, 3):
        raise PoseFormatError(
            f"expected shape (frames, {skeleton.num_joints}, 3) for {skeleton.name}, got {array.shape}",
            field="keypoints",
        )
    confidence = array[..., 2]
    bad = ~np.isfinite(confidence) | (confidence < 0)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise PoseFormatError(
            f"confidence must be a finite number >= 0, got {confidence[t, j]}",
            frame=int(t),
            field=f"keypoints[{j}] ({skeleton.joints[j]})",
        )
    present = confidence > 0
    bad = present & ~np.isfinite(array[..., :2]).all(-1)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise PoseFormatError(
            f"x, y must be finite for a joint with confidence {confidence[t, j]:g}, got {array[t, j, :2]}",
            frame=int(t),
            field=f"keypoints[{j}] ({skeleton.joints[j]})",
        )
    array[..., :2][~present] = np.nan
    return array


def _check_within_reach(keypoints: np.ndarray, width: int, height: int, skeleton: Skeleton) -> None:
    """Raise ``PoseFormatError`` for a present joint more than ``REACH`` canvas sizes off the canvas
    (x = 1e30, or normalised coordinates read as pixels of a huge canvas): it would be drawn nowhere, and
    overflows the drawing code's integers."""
    xy = keypoints[..., :2]
    size = np.array([width, height], np.float32)
    far = (keypoints[..., 2] > 0) & ((xy < -REACH * size) | (xy > (REACH + 1) * size)).any(-1)
    if far.any():
        t, j = np.argwhere(far)[0]
        raise PoseFormatError(
            f"x, y = {xy[t, j].tolist()} is more than {REACH} canvas sizes outside the {width}x{height} "
            "canvas; are the coordinates pixels of this canvas?",
            frame=int(t),
            field=f"keypoints[{j}] ({skeleton.joints[j]})",
        )


def _validated_depth(depth: object, keypoints: np.ndarray) -> np.ndarray:
    array = np.array(depth, dtype=np.float32)
    if array.shape != keypoints.shape[:2]:
        raise PoseFormatError(f"expected shape {keypoints.shape[:2]}, got {array.shape}", field="depth")
    bad = (keypoints[..., 2] > 0) & ~np.isfinite(array)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise PoseFormatError("must be finite for a present joint", frame=int(t), field=f"depth[{j}]")
    return array
