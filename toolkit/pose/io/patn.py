"""PATN's pose annotation CSV (Zhu et al. 2019, tengteng95/Pose-Transfer): ``name:keypoints_y:keypoints_x``.

Each row holds one image: its file name and two lists of 18 integers in BODY_18 order, rows (y) then
columns (x), with -1 for a missing joint. The file states no canvas: Market-1501 crops are 64 wide x 128
high, DeepFashion's 176 x 256.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...atomic import write_text_atomic
from ...errors import MissingCanvasError
from ..sequence import PoseSequence
from ..skeleton import BODY_18
from .common import Source, build_sequence, number_array, read_text, resolve_canvas

HEADER = ("name", "keypoints_y", "keypoints_x")
MISSING = -1


def read_patn_csv(
    path: str | Path, *, width: int | None = None, height: int | None = None, fps: float = 24.0
) -> tuple[list[str], PoseSequence]:
    """Read a PATN annotation CSV.

    A joint is missing when either of its coordinates is -1 (PATN's own test); present joints get
    confidence 1.

    Args:
        path: The CSV file.
        width, height: Canvas in pixels, required: PATN files state none (Market-1501: 64 x 128,
            DeepFashion: 176 x 256).
        fps: Frame rate given to the sequence. Default 24. The rows are unrelated images, not a video.

    Returns:
        ``(names, poses)``: the image name of each row and a BODY_18 sequence with one frame per row.

    Raises:
        PoseFormatError: naming the file, the row (as the frame) and the field that is malformed.
    """
    path = Path(path)
    whole = Source(path)
    if width is None or height is None:
        raise MissingCanvasError(
            "PATN annotations state no canvas; give it: --canvas deepfashion (176x256), --canvas market "
            "(64x128) or --canvas WxH (width=, height= in Python)",
            path=path,
        )
    canvas = resolve_canvas([], width, height, whole, None)
    rows = [row for row in csv.reader(read_text(whole).splitlines(), delimiter=":") if row]
    if not rows or tuple(cell.strip() for cell in rows[0]) != HEADER:
        got = ":".join(rows[0]) if rows else "an empty file"
        raise whole.error(f"expected the header {':'.join(HEADER)!r}, got {got!r}", "header")
    if len(rows) == 1:
        raise whole.error("no rows after the header")
    names = []
    keypoints = np.empty((len(rows) - 1, BODY_18.num_joints, 3), np.float32)
    for t, row in enumerate(rows[1:]):
        src = Source(path, t)
        if len(row) != len(HEADER):
            raise src.error(
                f"expected {len(HEADER)} colon-separated fields {':'.join(HEADER)}, got {len(row)}"
            )
        names.append(row[0].strip())
        ys = _coordinates(row[1], src, "keypoints_y")
        xs = _coordinates(row[2], src, "keypoints_x")
        missing = (ys == MISSING) | (xs == MISSING)
        keypoints[t] = np.stack([xs, ys, np.ones_like(xs)], axis=-1)
        keypoints[t, missing] = (np.nan, np.nan, 0.0)
    return names, build_sequence(keypoints, *canvas, fps, path)


def _coordinates(text: str, src: Source, field: str) -> np.ndarray:
    """A list such as ``"[12, -1, 40, ...]"`` -> ``(18,)`` float64."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        raise src.error(
            f"expected a list of {BODY_18.num_joints} integers, got {text.strip()[:40]!r}", field
        ) from None
    array = number_array(values, src, field)
    if array.size != BODY_18.num_joints:
        raise src.error(f"expected {BODY_18.num_joints} values (BODY_18), got {array.size}", field)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise src.error(
            f"must be a finite number (-1 marks a missing joint), got {json.dumps(array[bad[0]])}",
            f"{field}[{bad[0]}]",
        )
    return array


def write_patn_csv(path: str | Path, poses: PoseSequence, *, names: Sequence[str] | None = None) -> None:
    """Write ``poses`` as a PATN annotation CSV, atomically.

    Coordinates are rounded to the nearest integer pixel, so reading back gives x, y within 0.5 px and
    confidence 1 for every present joint. A joint whose rounded position falls off the canvas is written
    as missing: PATN's annotations are detections inside the image, and its -1 marker lies just outside.

    Args:
        path: Output ``.csv`` file.
        poses: Any layout with a converter to BODY_18.
        names: One image name per frame. Default ``000000.jpg``, ``000001.jpg``, ...
    """
    body = poses.to_layout(BODY_18.name)
    names = [f"{t:06d}.jpg" for t in range(len(body))] if names is None else list(names)
    if len(names) != len(body):
        raise ValueError(f"got {len(names)} names for {len(body)} frames")
    for name in names:
        if not name or any(char in name for char in ':"\r\n'):
            raise ValueError(
                f'image name {name!r} cannot be written to a PATN CSV (empty, or has : " or a newline)'
            )
    xy = np.rint(np.nan_to_num(body.keypoints[..., :2], nan=MISSING))  # (T, 18, 2)
    inside = body.visible & (xy >= 0).all(-1) & (xy < (body.width, body.height)).all(-1)
    xy = np.where(inside[..., None], xy, MISSING).astype(np.int64)
    lines = [":".join(HEADER)]
    lines += [
        f"{name}: {ys}: {xs}"
        for name, ys, xs in zip(names, xy[..., 1].tolist(), xy[..., 0].tolist(), strict=True)
    ]
    write_text_atomic(path, "\n".join(lines) + "\n")
