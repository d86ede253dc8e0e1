"""The pose JSON of the A1111 ``openpose-editor`` extension: one pose, on a stated canvas.

    {"width": 512, "height": 512, "keypoints": [[241, 77], [241, 120], ...]}

``keypoints`` holds ``[x, y]`` pixel pairs, 18 per person in BODY_18 (OpenPose COCO) order, people one
after another. The editor has no notion of a missing joint or a confidence: every joint is present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...atomic import write_json_atomic
from ..sequence import PoseSequence
from ..skeleton import BODY_18
from .common import (
    Person,
    Source,
    build_sequence,
    canvas_side,
    describe,
    pick_people,
    read_json,
    resolve_canvas,
)


def read_openpose_editor(
    path: str | Path,
    *,
    person: Person = "largest",
    width: int | None = None,
    height: int | None = None,
    fps: float = 24.0,
) -> PoseSequence:
    """Read an openpose-editor JSON file as a one-frame BODY_18 sequence.

    Args:
        path: The JSON file.
        person: Which of its people to keep, as in :func:`~toolkit.pose.io.read_openpose`.
        width, height: Must agree with the file's canvas if given.
        fps: Frame rate of the sequence. Default 24.

    Raises:
        PoseFormatError: naming the file and the field that is malformed.
    """
    path = Path(path)
    whole = Source(path, 0)
    data = read_json(whole)
    if not isinstance(data, dict) or not isinstance(data.get("keypoints"), list):
        raise whole.error(f"expected an object with a 'keypoints' list, got {describe(data)}", "keypoints")
    stated = (
        canvas_side(data.get("width"), whole, "width"),
        canvas_side(data.get("height"), whole, "height"),
    )
    canvas = resolve_canvas([(whole, stated)], width, height, whole, "width")
    pairs = data["keypoints"]
    if not pairs or len(pairs) % BODY_18.num_joints:
        raise whole.error(f"expected 18 [x, y] pairs per person, got {len(pairs)} pairs", "keypoints")
    people = np.ones((len(pairs) // BODY_18.num_joints, BODY_18.num_joints, 3), np.float32)
    for k, pair in enumerate(pairs):
        ok = isinstance(pair, list) and len(pair) >= 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair[:2])
        if not ok or not np.isfinite(pair[:2]).all():
            raise whole.error(f"expected an [x, y] pair of numbers, got {describe(pair)}", f"keypoints[{k}]")
        people[divmod(k, BODY_18.num_joints)][:2] = pair[:2]
    keypoints = pick_people([people], person, 0.0, whole)
    return build_sequence(keypoints, *canvas, fps, path)


def write_openpose_editor(path: str | Path, poses: PoseSequence, *, frame: int | None = None) -> Path:
    """Write one frame of ``poses`` (any layout; stored as BODY_18) for openpose-editor, atomically:
    ``frame``, or the only one. The editor cannot mark a joint missing, so a frame with one missing is an
    error, as is a sequence of several frames without ``frame``."""
    if frame is None:
        if len(poses) != 1:
            raise ValueError(f"an openpose-editor file holds one pose; pick one of the {len(poses)} frames")
        frame = 0
    keypoints = poses.to_layout("body_18").keypoints[frame]
    if not (keypoints[:, 2] > 0).all():
        missing = [BODY_18.joints[j] for j in np.flatnonzero(keypoints[:, 2] <= 0)]
        raise ValueError(
            f"openpose-editor files cannot mark joints missing; frame {frame} lacks {', '.join(missing)}"
        )
    pairs = [[round(float(x), 2), round(float(y), 2)] for x, y in keypoints[:, :2]]
    write_json_atomic(path, {"width": poses.width, "height": poses.height, "keypoints": pairs})
    return Path(path)
