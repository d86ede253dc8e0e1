"""Following one person through a clip when a detector reports several per frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import missing_pose

Box = tuple[float, float, float, float]


def pose_box(pose: np.ndarray) -> Box | None:
    """``(x0, y0, x1, y1)`` bounding box of the present joints of a ``(J, 3)`` pose; None if none is."""
    present = pose[:, 2] > 0
    if not present.any():
        return None
    xy = pose[present, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def box_area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes; 0 when the union has no area."""
    overlap = box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = box_area(a) + box_area(b) - overlap
    return overlap / union if union > 0 else 0.0


def prominence(pose: np.ndarray) -> float:
    """How much a person stands out: box area times mean confidence of the present joints."""
    box = pose_box(pose)
    return 0.0 if box is None else box_area(box) * float(pose[pose[:, 2] > 0, 2].mean())


class PersonTracker:
    """Pick the same person in every frame, matching boxes of visible joints by IoU.

    The first person taken is the most prominent (:func:`prominence`). In each later frame the person
    whose box overlaps the tracked one most is taken, if that overlap reaches ``min_iou``. When nobody
    overlaps (the person left, was hidden, or nobody is in view) the frame's pose is missing and the last
    box is kept, so the person is found again where they disappeared; after ``max_lost`` such frames in a
    row the tracker takes the most prominent person in view instead.

    Args:
        min_iou: Smallest box IoU that counts as the same person. Default 0.1.
        max_lost: Frames in a row the tracked person may be missing before another is taken. 0 switches
            at once, right for single-person detectors, whose one person is always the one to follow.
            Default 12 (half a second at 24 fps).
    """

    def __init__(self, *, min_iou: float = 0.1, max_lost: int = 12) -> None:
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        if max_lost < 0:
            raise ValueError(f"max_lost must be >= 0, got {max_lost}")
        self.min_iou = min_iou
        self.max_lost = max_lost
        self._box: Box | None = None
        self._lost = 0

    def update(self, people: Sequence[np.ndarray]) -> np.ndarray:
        """Choose the tracked person among one frame's detections.

        Args:
            people: ``(J, 3)`` poses found in the frame, in any order; poses without a present joint are
                ignored.

        Returns:
            A copy of the chosen ``(J, 3)`` pose, or a missing BODY_18 pose (all confidences 0) when the
            tracked person is not in this frame.
        """
        boxes = [pose_box(pose) for pose in people]
        found = [(pose, box) for pose, box in zip(people, boxes, strict=True) if box is not None]
        chosen = None
        if self._box is not None and found:
            overlaps = [box_iou(self._box, box) for _, box in found]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= self.min_iou:
                chosen = found[best]
        if chosen is None:
            self._lost += self._box is not None
            if found and (self._box is None or self._lost > self.max_lost):
                chosen = max(found, key=lambda item: prominence(item[0]))
        if chosen is None:
            return missing_pose()
        self._box, self._lost = chosen[1], 0
        return np.array(chosen[0], dtype=np.float32)
