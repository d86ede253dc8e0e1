"""COCO keypoints JSON: the dataset style (images + annotations) and the results style (a detection list)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sequence import PoseSequence
from .common import (
    Person,
    Source,
    build_sequence,
    canvas_side,
    describe,
    person_keypoints,
    pick_people,
    read_json,
    resolve_canvas,
    stack_people,
)

ImageId = int | str

_LAYOUTS = {51: "coco_17"}
# COCO-WholeBody (DWPose's output): 17 body, 6 foot, 68 face and 42 hand points; the body comes first.
WHOLEBODY_NUMBERS = 133 * 3


def _body(keypoints: object) -> object:
    """A COCO-WholeBody keypoint list cut to its 17 body points (feet, face and hands are dropped: BODY_18
    has no place for them); any other value as it is."""
    if isinstance(keypoints, list) and len(keypoints) == WHOLEBODY_NUMBERS:
        return keypoints[: 17 * 3]
    return keypoints


VISIBILITY_CONFIDENCE: dict[float, float] = {0: 0.0, 1: 0.5, 2: 1.0}
"""Confidence given to COCO's visibility flags: 0 unlabelled (missing), 1 labelled but occluded, 2 visible.
Occluded joints are kept at half confidence, so ``threshold=0.75`` drops them."""


def read_coco_keypoints(
    path: str | Path,
    *,
    person: Person = "largest",
    threshold: float = 0.0,
    width: int | None = None,
    height: int | None = None,
    fps: float = 24.0,
) -> tuple[list[ImageId], PoseSequence]:
    """Read COCO person keypoints as one BODY_18 frame per image.

    Two styles are read, with COCO-17 keypoints or COCO-WholeBody's 133 (DWPose's; its feet, face and hands
    are dropped):

    - dataset: ``{"images": [{"id", "width", "height", ...}], "annotations": [{"image_id",
      "keypoints": [x, y, v] * 17, ...}]}``; one frame per entry of ``images``, in file order. ``v`` is a
      visibility flag, turned into a confidence by ``VISIBILITY_CONFIDENCE``.
    - results: ``[{"image_id", "keypoints": [x, y, score] * 17, "score"}, ...]``; one frame per distinct
      ``image_id``, in order of first appearance; the third value is the joint's confidence.

    COCO-17 becomes BODY_18 with the neck at the shoulders' midpoint, present only when both shoulders
    are. Coordinates are pixels, taken as given. A frame without the chosen person is all missing; it is
    an error when no frame has one.

    Args:
        path: The JSON file.
        person: Which person to keep per image, as in :func:`~toolkit.pose.io.read_openpose`. Default
            ``"largest"``.
        threshold: Joints with confidence below it become missing. Default 0.
        width, height: Canvas in pixels. The dataset style states one per image, and every image must
            state the same (a ``PoseSequence`` has one canvas); the results style states none, so they are
            required there.
        fps: Frame rate of the sequence. Default 24.

    Returns:
        ``(image_ids, poses)``: the image id of each frame and the BODY_18 sequence.

    Raises:
        PoseFormatError: naming the file, the frame and the field that is malformed.
    """
    path = Path(path)
    whole = Source(path)
    data = read_json(whole)
    if isinstance(data, dict):
        ids, frames, stated = _dataset_style(data, path)
    elif isinstance(data, list):
        ids, frames, stated = *_results_style(data, path), []
    else:
        raise whole.error(f"expected a COCO dataset object or a results list, got {describe(data)}")
    keypoints = pick_people(frames, person, threshold, whole)
    canvas_field = "images.width" if isinstance(data, dict) else None
    canvas_width, canvas_height = resolve_canvas(stated, width, height, whole, canvas_field)
    return ids, build_sequence(keypoints, canvas_width, canvas_height, fps, path)


def _dataset_style(
    data: dict, path: Path
) -> tuple[list[ImageId], list[np.ndarray], list[tuple[Source, tuple[int, int]]]]:
    whole = Source(path)
    images, annotations = (_list(data, key, whole) for key in ("images", "annotations"))
    frame_of: dict[ImageId, int] = {}
    stated = []
    for t, image in enumerate(images):
        src, field = Source(path, t), f"images[{t}]"
        if not isinstance(image, dict):
            raise src.error(f"expected an object, got {describe(image)}", field)
        image_id = _image_id(image.get("id"), src, f"{field}.id")
        if image_id in frame_of:
            raise src.error(f"repeats the id of images[{frame_of[image_id]}]", f"{field}.id")
        frame_of[image_id] = t
        if "width" in image or "height" in image:
            size = canvas_side(image.get("width"), src, f"{field}.width")
            stated.append((src, (size, canvas_side(image.get("height"), src, f"{field}.height"))))
    people: list[list[np.ndarray]] = [[] for _ in frame_of]
    for k, annotation in enumerate(annotations):
        field = f"annotations[{k}]"
        if not isinstance(annotation, dict):
            raise whole.error(f"expected an object, got {describe(annotation)}", field)
        image_id = _image_id(annotation.get("image_id"), whole, f"{field}.image_id")
        if image_id not in frame_of:
            raise whole.error(f"image {image_id!r} is not in 'images'", f"{field}.image_id")
        t = frame_of[image_id]
        keypoints = _body(annotation.get("keypoints"))
        src = Source(path, t)
        people[t].append(
            person_keypoints(keypoints, src, f"{field}.keypoints", _LAYOUTS, VISIBILITY_CONFIDENCE)
        )
    return list(frame_of), [stack_people(p) for p in people], stated


def _results_style(data: list, path: Path) -> tuple[list[ImageId], list[np.ndarray]]:
    frame_of: dict[ImageId, int] = {}
    people: list[list[np.ndarray]] = []
    for k, detection in enumerate(data):
        field = f"[{k}]"
        if not isinstance(detection, dict):
            raise Source(path).error(f"expected a detection object, got {describe(detection)}", field)
        image_id = _image_id(detection.get("image_id"), Source(path), f"{field}.image_id")
        if image_id not in frame_of:
            frame_of[image_id] = len(people)
            people.append([])
        t = frame_of[image_id]
        src = Source(path, t)
        keypoints = _body(detection.get("keypoints"))
        people[t].append(person_keypoints(keypoints, src, f"{field}.keypoints", _LAYOUTS))
    return list(frame_of), [stack_people(p) for p in people]


def _list(data: dict, key: str, whole: Source) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise whole.error(f"expected a list, got {describe(value)}", key)
    return value


def _image_id(value: object, src: Source, field: str) -> ImageId:
    if type(value) not in (int, str):
        raise src.error(f"expected an integer or string id, got {describe(value)}", field)
    return value  # type: ignore[return-value]
