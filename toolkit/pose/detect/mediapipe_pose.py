"""MediaPipe Pose (BlazePose) back-end: the default detector, bundled with ``mediapipe==0.10.21``.

BlazePose finds one person per image and reports 33 landmarks with a visibility score. In video mode it
tracks that person from frame to frame (a landmark model run on the previous frame's region) and only
runs its person detector again when tracking is lost, which is both faster and steadier than detecting
every frame afresh.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from ..skeleton import convert_keypoints
from .base import Detector, DetectorError, checked_confidence, checked_image, mark_missing

# MediaPipe's own drawing code hides landmarks below this visibility.
DEFAULT_MIN_CONFIDENCE = 0.5


def body18_from_blazepose(
    landmarks: np.ndarray, width: int, height: int, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> np.ndarray:
    """Turn BlazePose's 33 landmarks into a BODY_18 pose in pixels.

    Args:
        landmarks: ``(33, 3)`` normalised x, y (0 to 1 across the image, edges included) and visibility,
            in MediaPipe's order (the ``mediapipe_33`` layout).
        width: Image width in pixels.
        height: Image height in pixels.
        min_confidence: Landmarks with a lower visibility are missing. Default 0.5.

    Returns:
        ``(18, 3)`` float32 x, y, confidence in pixel-centre coordinates; the neck is the midpoint of the
        shoulders with the smaller of their confidences. Landmarks outside the image are missing.
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    pixels = landmarks.copy()
    # Normalised coordinates measure from the image's edge; pixel centres sit half a pixel inside it.
    pixels[:, 0] = landmarks[:, 0] * width - 0.5
    pixels[:, 1] = landmarks[:, 1] * height - 0.5
    inside = (landmarks[:, :2] >= 0.0).all(axis=1) & (landmarks[:, :2] <= 1.0).all(axis=1)
    missing = ~inside | (landmarks[:, 2] < min_confidence) | (landmarks[:, 2] <= 0.0)
    return convert_keypoints(mark_missing(pixels, missing), "mediapipe_33", "body_18")


class MediaPipeDetector(Detector):
    """MediaPipe Pose with its bundled full model (``model_complexity=1``).

    Args:
        video: True for consecutive frames of one clip: MediaPipe tracks the person between frames.
            False (default) for unrelated images: each is detected on its own.
        min_confidence: Landmarks with a lower visibility score are missing. Default 0.5.
        min_detection_confidence: MediaPipe's threshold for finding a person. Default 0.5.
        min_tracking_confidence: MediaPipe's threshold below which video mode re-detects. Default 0.5.

    Raises:
        DetectorError: mediapipe (or one of the packages it needs) is not installed.
    """

    name = "mediapipe"
    max_people = 1
    default_min_confidence = DEFAULT_MIN_CONFIDENCE

    def __init__(
        self,
        *,
        video: bool = False,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        self.min_confidence = checked_confidence(min_confidence)
        solutions = _import_pose_solution()
        with _native_stderr_captured():
            # Complexities 0 and 2 are not bundled: mediapipe would try to download them.
            self._pose: Any = solutions.Pose(
                static_image_mode=not video,
                model_complexity=1,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            # The graph opens its models on the first image, in threads that log as they go. A blank
            # image makes that happen now; nobody is found in it, so no tracking state is left behind.
            self._pose.process(np.zeros((64, 64, 3), np.uint8))
        # The landmark model logs once more, on the first image in which a person is found.
        self._first_person_pending = True

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Detect the person in ``image`` ``(H, W, 3)`` uint8 RGB; returns ``[]`` or ``[(18, 3) pose]``."""
        if self._pose is None:
            raise DetectorError("this MediaPipe detector is closed; create a new one")
        image = checked_image(image)
        if self._first_person_pending:
            with _native_stderr_captured():
                result = self._pose.process(image)
            self._first_person_pending = result.pose_landmarks is None
        else:
            result = self._pose.process(image)
        if result.pose_landmarks is None:
            return []
        landmarks = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
        height, width = image.shape[:2]
        pose = body18_from_blazepose(landmarks, width, height, min_confidence=self.min_confidence)
        return [pose] if (pose[:, 2] > 0).any() else []

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None


def _import_pose_solution() -> ModuleType:
    try:
        import mediapipe as mp
    except ImportError as err:
        missing = err.name or "mediapipe"
        raise DetectorError(
            f"the mediapipe detector cannot import {missing!r}; install mediapipe 0.10.21, the newest "
            "release that bundles its pose model: pip install --no-deps mediapipe==0.10.21 && "
            'pip install absl-py attrs flatbuffers "protobuf<5" matplotlib'
        ) from None
    return mp.solutions.pose


@contextmanager
def _native_stderr_captured() -> Iterator[None]:
    """Hold back what native code writes to stderr (file descriptor 2) while the block runs.

    MediaPipe's C++ start-up logs a dozen lines (TensorFlow Lite delegates, absl warnings) that no
    environment variable silences in 0.10.21. They are kept in a temporary file and shown only if the
    block raises, so a real failure keeps its diagnostics.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
