"""The detector registry and :func:`detect_poses`, which turns frames into a tracked ``PoseSequence``."""

from __future__ import annotations

import contextlib
import inspect
import itertools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...checks import lookup
from ..sequence import PoseSequence
from .base import Detector, DetectorError
from .mediapipe_pose import MediaPipeDetector
from .openpose import OpenPoseDetector
from .tracking import PersonTracker

# Back-end modules import their heavy packages (mediapipe, torch) only when a detector is created.
DETECTORS: dict[str, type[Detector]] = {
    MediaPipeDetector.name: MediaPipeDetector,
    OpenPoseDetector.name: OpenPoseDetector,
}


def create_detector(name: str, **options: Any) -> Detector:
    """Build the detector registered as ``name`` (see ``DETECTORS``) with its options.

    Every back-end takes ``video`` (consecutive frames of one clip, default False) and ``min_confidence``
    (default: the back-end's ``default_min_confidence``); see each class for the rest.

    Raises:
        DetectorError: an unknown name or option, or a back-end that cannot start.
    """
    factory = lookup(DETECTORS, name, "detector", DetectorError)
    accepted = list(inspect.signature(factory).parameters)
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise DetectorError(
            f"the {name} detector has no option {unknown[0]!r}; it takes {', '.join(accepted)}"
        )
    return factory(**options)


def detect_poses(
    frames: Iterable[np.ndarray],
    detector: str | Detector = "mediapipe",
    *,
    fps: float,
    every: int = 1,
    video: bool = True,
    total: int | None = None,
    max_lost: int | None = None,
    progress: bool = True,
    **detector_options: Any,
) -> PoseSequence:
    """Detect and track one person through a sequence of frames.

    Args:
        frames: ``(H, W, 3)`` uint8 RGB images, all the same size; consumed one at a time, so a generator
            that decodes a long video keeps memory flat.
        detector: A name in ``DETECTORS`` (default ``"mediapipe"``), or a ready ``Detector``, which the
            caller keeps and closes (then ``detector_options`` must be empty).
        fps: Frame rate of ``frames``, > 0.
        every: Keep every ``every``-th frame, starting with the first; the result's fps is ``fps / every``.
            Default 1.
        video: True (default) when the frames are consecutive frames of one clip, so a tracking detector
            may follow the person; False for unrelated images.
        total: Number of input frames if known, for the progress bar (``len(frames)`` is used otherwise).
        max_lost: :class:`PersonTracker`'s patience in kept frames; default 0 for single-person detectors
            and 12 otherwise.
        progress: Show a tqdm progress bar on stderr. Default True.
        **detector_options: Passed to :func:`create_detector`, e.g. ``min_confidence=0.5`` or
            ``weights="body_pose_model.pth"``.

    Returns:
        A BODY_18 ``PoseSequence`` with one pose per kept frame on the frames' canvas. A frame without the
        tracked person has every joint missing.

    Raises:
        DetectorError: no frames, frames of different sizes, or a detector that cannot start.
        ValueError: ``every`` < 1 or ``fps`` <= 0.
    """
    from ...progress import progress_bar

    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number >= 1 (keep every N-th frame), got {every!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if total is None and hasattr(frames, "__len__"):
        total = len(frames)  # type: ignore[arg-type]
    if isinstance(detector, Detector):
        if detector_options:
            raise ValueError("pass detector options when naming a detector, not with a ready one")
        context: contextlib.AbstractContextManager[Detector] = contextlib.nullcontext(detector)
    else:
        context = create_detector(detector, video=video, **detector_options)

    poses, size = [], None
    bar = progress_bar(
        itertools.islice(frames, 0, None, every),
        total=None if total is None else math.ceil(total / every),
        desc="detecting poses",
        unit="frame",
        disable=not progress,
        leave=False,
    )
    with context as active, bar:
        default_lost = 0 if active.max_people == 1 else 12
        tracker = PersonTracker(max_lost=default_lost if max_lost is None else max_lost)
        for index, frame in enumerate(bar):
            frame_size = np.shape(frame)[:2]
            size = size or frame_size
            if frame_size != size:
                raise DetectorError(
                    f"frame {index * every} is {frame_size[1]}x{frame_size[0]} but the first frame is "
                    f"{size[1]}x{size[0]}; every frame must have the same size"
                )
            poses.append(tracker.update(active.detect(frame)))
    if size is None:
        raise DetectorError("no frames to detect poses in")
    return PoseSequence(np.stack(poses), width=size[1], height=size[0], fps=fps / every)
