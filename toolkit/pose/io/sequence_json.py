"""The toolkit's own pose sequence JSON (``walk.json``), ``toolkit.poses/1``: see docs/pose-format.md."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ...atomic import write_text_atomic
from ...errors import PoseFormatError
from ..sequence import PoseSequence
from ..skeleton import SKELETONS, Skeleton
from .common import Source, canvas_side, check_joints, describe, float32_text, number_array, read_json

FORMAT = "toolkit.poses/1"
_FORMAT_FAMILY = "toolkit.poses/"
_FIELDS = ("format", "fps", "canvas", "layout", "joints", "frames", "depth")


def write_sequence_json(path: str | Path, poses: PoseSequence) -> None:
    """Write ``poses`` as ``toolkit.poses/1`` JSON, atomically.

    The file is indented JSON with one frame per line. Numbers are the shortest decimals that read back as
    the same float32, so :func:`read_sequence_json` returns exactly ``poses``: keypoints, missing joints
    (written ``[null, null, 0]``), depth (null for a missing joint), fps, canvas and layout.
    """
    lines = [
        "{",
        f'  "format": "{FORMAT}",',
        f'  "fps": {float(poses.fps)!r},',
        f'  "canvas": {{"width": {poses.width}, "height": {poses.height}}},',
        f'  "layout": "{poses.layout}",',
        '  "joints": [' + ", ".join(f'"{name}"' for name in poses.skeleton.joints) + "],",
        '  "frames": [' + _rows(_frame_text(frame) for frame in poses.keypoints) + "]",
    ]
    if poses.depth is not None:
        depth = np.where(poses.visible, poses.depth, np.nan)
        lines[-1] += ","
        lines.append('  "depth": [' + _rows(_numbers_text(row) for row in depth) + "]")
    lines.append("}")
    write_text_atomic(path, "\n".join(lines) + "\n")


def _rows(rows: Iterable[str]) -> str:
    """Items of a JSON list, one per line."""
    body = ",\n".join(f"    {row}" for row in rows)
    return f"\n{body}\n  " if body else ""


def _frame_text(keypoints: np.ndarray) -> str:
    """``(J, 3)`` -> ``[[x, y, c], [null, null, 0], ...]`` on one line."""
    joints = (
        f"[{float32_text(x)}, {float32_text(y)}, {float32_text(c)}]" if c > 0 else "[null, null, 0]"
        for x, y, c in keypoints
    )
    return "[" + ", ".join(joints) + "]"


def _numbers_text(values: np.ndarray) -> str:
    return "[" + ", ".join(float32_text(v) if np.isfinite(v) else "null" for v in values) + "]"


def read_sequence_json(path: str | Path) -> PoseSequence:
    """Read a ``toolkit.poses/1`` file (the layout it states, usually BODY_18).

    Raises:
        PoseFormatError: naming the file, the frame and the field that is malformed; an unknown format
            version or an unknown top-level field is an error.
    """
    path = Path(path)
    whole = Source(path)
    data = read_json(whole)
    if not isinstance(data, dict):
        raise whole.error(f"expected a {FORMAT} object, got {describe(data)}")
    _check_format(data, whole)
    unknown = [key for key in data if key not in _FIELDS]
    if unknown:
        raise whole.error(f"unknown field; {FORMAT} has {', '.join(_FIELDS)}", unknown[0])
    skeleton = _skeleton(data, whole)
    fps = _required(data, "fps", whole)
    if type(fps) not in (int, float) or not 0 < fps < float("inf"):
        raise whole.error(f"must be a positive number, got {describe(fps)}", "fps")
    width, height = _canvas(_required(data, "canvas", whole), whole)
    frames = _required(data, "frames", whole)
    if not isinstance(frames, list):
        raise whole.error(f"expected a list of frames, got {describe(frames)}", "frames")
    keypoints = np.empty((len(frames), skeleton.num_joints, 3))
    for t, rows in enumerate(frames):
        keypoints[t] = _frame(rows, Source(path, t), skeleton)
    depth = _depth(data["depth"], len(frames), skeleton, path) if "depth" in data else None
    try:
        return PoseSequence(keypoints, width, height, fps=fps, layout=skeleton.name, depth=depth)
    except PoseFormatError as err:
        raise err.at(path) from None


def _required(data: dict, key: str, whole: Source) -> object:
    if key not in data:
        raise whole.error("is missing", key)
    return data[key]


def _check_format(data: dict, whole: Source) -> None:
    name = _required(data, "format", whole)
    if name == FORMAT:
        return
    if isinstance(name, str) and name.startswith(_FORMAT_FAMILY):
        raise whole.error(
            f"unknown format version {name!r}: this toolkit reads {FORMAT!r}; upgrade the toolkit", "format"
        )
    raise whole.error(f"expected {FORMAT!r}, got {describe(name)}", "format")


def _skeleton(data: dict, whole: Source) -> Skeleton:
    layout = _required(data, "layout", whole)
    if layout not in SKELETONS:
        raise whole.error(f"unknown layout {describe(layout)}; known: {', '.join(SKELETONS)}", "layout")
    skeleton = SKELETONS[layout]  # type: ignore[index]
    joints = _required(data, "joints", whole)
    if joints != list(skeleton.joints):
        raise whole.error(
            f"must list the {skeleton.name} joints in order: {', '.join(skeleton.joints)}", "joints"
        )
    return skeleton


def _canvas(canvas: object, whole: Source) -> tuple[int, int]:
    if not isinstance(canvas, dict):
        raise whole.error(f'expected {{"width": ..., "height": ...}}, got {describe(canvas)}', "canvas")
    sides = []
    for key in ("width", "height"):
        if key not in canvas:
            raise whole.error("is missing", f"canvas.{key}")
        sides.append(canvas_side(canvas[key], whole, f"canvas.{key}"))
    return sides[0], sides[1]


def _frame(rows: object, src: Source, skeleton: Skeleton) -> np.ndarray:
    """One frame, ``[[x, y, c], ...]`` -> ``(J, 3)`` float64; null coordinates become NaN."""
    field = f"frames[{src.frame}]"
    if not isinstance(rows, list) or len(rows) != skeleton.num_joints:
        got = f"{len(rows)} joints" if isinstance(rows, list) else describe(rows)
        raise src.error(
            f"expected a list of {skeleton.num_joints} joints [x, y, confidence], got {got}", field
        )
    keypoints = np.empty((skeleton.num_joints, 3))
    for j, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 3:
            got = f"{len(row)} values" if isinstance(row, list) else describe(row)
            raise src.error(f"expected [x, y, confidence], got {got}", f"{field}[{j}]")
        keypoints[j] = number_array(row, src, f"{field}[{j}]", nullable=True)
    check_joints(keypoints, src, lambda j: f"{field}[{j}] ({skeleton.joints[j]})")
    return keypoints


def _depth(depth: object, frames: int, skeleton: Skeleton, path: Path) -> np.ndarray:
    """``depth``: one list of J numbers (null for a missing joint) per frame -> ``(T, J)``."""
    if not isinstance(depth, list) or len(depth) != frames:
        got = f"{len(depth)} rows" if isinstance(depth, list) else describe(depth)
        raise Source(path).error(f"expected one list per frame ({frames}), got {got}", "depth")
    out = np.empty((frames, skeleton.num_joints))
    for t, row in enumerate(depth):
        src = Source(path, t)
        values = number_array(row, src, f"depth[{t}]", nullable=True)
        if values.size != skeleton.num_joints:
            raise src.error(f"expected {skeleton.num_joints} values, got {values.size}", f"depth[{t}]")
        out[t] = values
    return out
