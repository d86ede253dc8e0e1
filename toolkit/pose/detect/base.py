"""What every detector back-end shares: the ``Detector`` interface, its error, and input checks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

import numpy as np

from ...errors import ToolkitError
from ..skeleton import BODY_18


class DetectorError(ToolkitError):
    """A detector cannot run: a missing package or model file, a bad option, or an unusable image."""


class Detector(ABC):
    """A pose detector: one image in, every person found in it out, in BODY_18.

    Use it as a context manager, one instance per sequence, so that native resources are released::

        with MediaPipeDetector(video=True) as detector:
            people = [detector.detect(frame) for frame in frames]

    Subclasses set ``name``, ``max_people`` (1 for single-person models, ``None`` for no limit) and
    ``default_min_confidence``, and implement :meth:`detect` and :meth:`close`.
    """

    name: str
    max_people: int | None
    default_min_confidence: float

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Detect every person in one image.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.

        Returns:
            One ``(18, 3)`` float32 BODY_18 array per person, x, y in pixels of ``image`` (pixel centres),
            confidence in (0, 1]; a joint below the detector's minimum confidence or outside the image is
            missing (confidence 0, x, y NaN). Every person has at least one joint; an empty list means
            nobody was found.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the model. Called by ``__exit__``; safe to call twice."""

    def __enter__(self) -> Detector:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def checked_image(image: np.ndarray) -> np.ndarray:
    """``image`` as a C-contiguous ``(H, W, 3)`` uint8 array; raises ``DetectorError`` otherwise."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8 or 0 in image.shape:
        raise DetectorError(
            f"detectors take (H, W, 3) uint8 RGB images, got shape {image.shape} and dtype {image.dtype}"
        )
    return np.ascontiguousarray(image)


def checked_confidence(min_confidence: float) -> float:
    """``min_confidence`` as a float in [0, 1); raises ``DetectorError`` otherwise."""
    if not 0.0 <= min_confidence < 1.0:
        raise DetectorError(f"min_confidence must be in [0, 1), got {min_confidence}")
    return float(min_confidence)


def missing_pose() -> np.ndarray:
    """``(18, 3)`` float32 BODY_18 pose with every joint missing (confidence 0, x, y NaN)."""
    pose = np.full((BODY_18.num_joints, 3), np.nan, dtype=np.float32)
    pose[:, 2] = 0.0
    return pose


def mark_missing(pose: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """A float32 copy of ``pose`` ``(J, 3)`` whose joints flagged in ``missing`` ``(J,)`` are missing."""
    pose = pose.astype(np.float32, copy=True)
    pose[missing] = (np.nan, np.nan, 0.0)
    return pose
