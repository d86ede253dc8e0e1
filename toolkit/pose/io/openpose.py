"""OpenPose JSON: one file, a list of frame objects in one file, or a folder of per-frame files."""

from __future__ import annotations

import glob
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...atomic import is_hidden, write_json_atomic
from ...paths import natural_sorted
from ..sequence import PoseSequence
from ..skeleton import BODY_18, get_skeleton
from .common import (
    Person,
    Source,
    build_sequence,
    canvas_side,
    describe,
    float32_values,
    person_keypoints,
    pick_people,
    read_json,
    resolve_canvas,
    stack_people,
)

_LAYOUTS = {3 * get_skeleton(name).num_joints: name for name in ("body_18", "body_25")}  # 54, 75
_FRAME_GLOB = "*_keypoints.json"
_WRITTEN_VERSION = 1.3


def _pixels(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    return xy


def _unit(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    # ControlNet's annotators divide by the canvas size (PoseSequence.normalized does the same).
    return xy * np.array([width, height], np.float32)


def _signed(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    # OpenPose's --keypoint_scale 4 maps pixel centre 0 to -1 and pixel centre size - 1 to +1.
    return (xy + 1) / 2 * np.array([width - 1, height - 1], np.float32)


COORDINATES: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "pixel": _pixels,
    "unit": _unit,
    "signed": _signed,
}
"""Coordinate conventions of OpenPose files: name -> ``(xy, width, height) -> pixel xy``."""


def detect_coordinates(keypoints: np.ndarray) -> str:
    """Guess the coordinate convention of ``(..., J, 3)`` keypoints from all their present joints at once.

    Returns ``"unit"`` when every present x and y lies in [0, 1], ``"signed"`` when they all lie in
    [-1, 1] and some are negative, else ``"pixel"`` (also with no present joint). A pixel pose never fits
    inside [-1, 1]: it would be a person one pixel tall. The one ambiguity is a [-1, 1] pose whose joints
    all sit in the lower-right quarter of the canvas, which reads as ``"unit"``: pass ``coords="signed"``
    for such files.
    """
    xy = keypoints[..., :2][keypoints[..., 2] > 0]
    if xy.size == 0:
        return "pixel"
    low, high = float(xy.min()), float(xy.max())
    if low >= 0 and high <= 1:
        return "unit"
    if low >= -1 and high <= 1:
        return "signed"
    return "pixel"


def read_openpose(
    path: str | Path,
    *,
    person: Person = "largest",
    threshold: float = 0.0,
    coords: str = "auto",
    width: int | None = None,
    height: int | None = None,
    fps: float = 24.0,
) -> PoseSequence:
    """Read OpenPose JSON as a BODY_18 sequence.

    ``path`` is one of:

    - a file holding one frame, ``{"people": [{"pose_keypoints_2d": [x0, y0, c0, ...]}, ...]}``;
    - a file holding a list of such frame objects (what pose editors export);
    - a folder of per-frame ``*_keypoints.json`` files, taken in natural order (``frame_2`` before
      ``frame_10``).

    Each person's ``pose_keypoints_2d`` holds 54 numbers (BODY_18) or 75 (BODY_25, converted to BODY_18 by
    dropping mid-hip and the feet). OpenPose writes a missing joint as ``0, 0, 0``; any joint with
    confidence 0 is missing. A person with an empty or null ``pose_keypoints_2d`` (hands or face only) is
    skipped. A frame without the chosen person becomes an all-missing frame; it is an error when no frame
    has one, which includes a one-frame file with an empty ``people`` list.

    Args:
        path: File or folder.
        person: Which person to keep in each frame: an index, ``"largest"`` (bounding box of the present
            joints) or ``"most_confident"`` (mean confidence over all joints, missing counting 0). Default
            ``"largest"``.
        threshold: Joints with confidence below it become missing; applied before choosing. Default 0.
        coords: ``"pixel"``, ``"unit"`` (x, y in [0, 1] of the canvas: x_pixel = x * width, the convention
            of ControlNet's annotators), ``"signed"`` (in [-1, 1], OpenPose's ``--keypoint_scale 4``:
            x_pixel = (x + 1) / 2 * (width - 1)) or ``"auto"`` (default), which decides once for the whole
            file or folder from all its chosen joints (see :func:`detect_coordinates`): ``"unit"`` only if
            every present coordinate lies in [0, 1], ``"signed"`` only if every one lies in [-1, 1], else
            ``"pixel"``.
        width, height: Canvas size in pixels, needed when the file has no ``canvas_width`` and
            ``canvas_height`` (controlnet-aux and sd-webui-openpose-editor write them; OpenPose does not).
            When the file states a canvas they may be left out, and must agree with it if passed.
        fps: Frame rate of the sequence (OpenPose files do not store one). Default 24.

    Returns:
        A BODY_18 ``PoseSequence`` in pixels.

    Raises:
        PoseFormatError: naming the file, the frame and the field that is malformed.
    """
    path = Path(path)
    if coords != "auto" and coords not in COORDINATES:
        raise ValueError(f"coords must be 'auto' or one of {', '.join(COORDINATES)}; got {coords!r}")
    frames, stated = [], []
    for src, document in _frame_documents(path):
        people, canvas = _parse_frame(document, src)
        frames.append(people)
        if canvas is not None:
            stated.append((src, canvas))
    whole = Source(path)
    keypoints = pick_people(frames, person, threshold, whole)  # (T, 18, 3)
    canvas_width, canvas_height = resolve_canvas(stated, width, height, whole, "canvas_width")
    mode = detect_coordinates(keypoints) if coords == "auto" else coords
    keypoints[..., :2] = COORDINATES[mode](keypoints[..., :2], canvas_width, canvas_height)
    return build_sequence(keypoints, canvas_width, canvas_height, fps, path)


def _frame_documents(path: Path) -> list[tuple[Source, object]]:
    """The parsed frame objects of a file or folder, each with where it came from."""
    if path.is_dir():
        files = natural_sorted(p for p in path.glob(_FRAME_GLOB) if not is_hidden(p))
        if not files:
            raise Source(path).error(f"the folder has no {_FRAME_GLOB} files")
        return [(Source(file, t), read_json(Source(file, t))) for t, file in enumerate(files)]
    data = read_json(Source(path))
    if isinstance(data, list):
        return [(Source(path, t), document) for t, document in enumerate(data)]
    return [(Source(path, 0), data)]


def _parse_frame(document: object, src: Source) -> tuple[np.ndarray, tuple[int, int] | None]:
    """One frame object -> ``(P, 18, 3)`` people and the canvas it states, if any."""
    if not isinstance(document, dict):
        raise src.error(f"expected an OpenPose object with a 'people' list, got {describe(document)}")
    if "people" not in document:
        raise src.error("is missing", "people")
    people = document["people"]
    if not isinstance(people, list):
        raise src.error(f"expected a list, got {describe(people)}", "people")
    bodies = []
    for i, entry in enumerate(people):
        if not isinstance(entry, dict):
            raise src.error(f"expected an object, got {describe(entry)}", f"people[{i}]")
        values = entry.get("pose_keypoints_2d")
        if values is None or values == []:
            continue
        bodies.append(person_keypoints(values, src, f"people[{i}].pose_keypoints_2d", _LAYOUTS))
    return stack_people(bodies), _stated_canvas(document, src)


def _stated_canvas(document: dict, src: Source) -> tuple[int, int] | None:
    keys = ("canvas_width", "canvas_height")
    if not any(key in document for key in keys):
        return None
    for key, other in (keys, keys[::-1]):
        if key not in document:
            raise src.error(f"is missing although {other} is given", key)
    return canvas_side(document[keys[0]], src, keys[0]), canvas_side(document[keys[1]], src, keys[1])


def write_openpose(folder: str | Path, poses: PoseSequence, *, stem: str | None = None) -> list[Path]:
    """Write one OpenPose JSON file per frame: ``{folder}/{stem}_{i:012d}_keypoints.json``.

    Each file holds one BODY_18 person in pixel coordinates (missing joints as ``0, 0, 0``; a frame with
    no present joint gets an empty ``people`` list), ``canvas_width``/``canvas_height`` and
    ``"version": 1.3``. Numbers keep float32 precision, so :func:`read_openpose` reads the same keypoints
    back. Each file is written atomically; files of an earlier, longer sequence written with the same
    stem are removed, so the folder reads back as exactly this sequence.

    Args:
        folder: Output folder, created if needed.
        poses: Any layout with a converter to BODY_18.
        stem: File name prefix. Default: the folder's name.

    Returns:
        The written files, in frame order.
    """
    folder = Path(folder)
    stem = folder.name if stem is None else stem
    body = poses.to_layout(BODY_18.name)
    written = []
    for t, keypoints in enumerate(body.keypoints):
        present = keypoints[:, 2:3] > 0
        flat = float32_values(np.where(present, keypoints, 0.0))
        people = [_person_entry(flat)] if present.any() else []
        document = {
            "version": _WRITTEN_VERSION,
            "canvas_width": body.width,
            "canvas_height": body.height,
            "people": people,
        }
        file = folder / f"{stem}_{t:012d}_keypoints.json"
        write_json_atomic(file, document, indent=None)
        written.append(file)
    _remove_frames_after(folder, stem, len(written))
    return written


def _person_entry(pose: list[float]) -> dict[str, object]:
    """An OpenPose person with only body keypoints; the other arrays are empty as OpenPose leaves them."""
    empty = (
        "face_keypoints_2d",
        "hand_left_keypoints_2d",
        "hand_right_keypoints_2d",
        "pose_keypoints_3d",
        "face_keypoints_3d",
        "hand_left_keypoints_3d",
        "hand_right_keypoints_3d",
    )
    return {"person_id": [-1], "pose_keypoints_2d": pose, **{key: [] for key in empty}}


def _remove_frames_after(folder: Path, stem: str, count: int) -> None:
    pattern = re.compile(re.escape(stem) + r"_(\d{12})_keypoints\.json")
    for file in folder.glob(f"{glob.escape(stem)}_*_keypoints.json"):
        match = pattern.fullmatch(file.name)
        if match and int(match.group(1)) >= count:
            file.unlink()
