"""Reference methods that check the harness: the best and a trivially bad answer.

- ``ground-truth`` returns the true frames, so every metric must report a perfect score (SSIM 1,
  silhouette IoU 1, FID about 0). It needs the truth, which no real method sees: the harness hands it a
  :class:`CaseTruth` for the subject being evaluated (:meth:`GroundTruth.attach_truth`) and then calls
  ``fit`` and ``transfer`` exactly as for any other method. ``transfer`` looks the true frames up by the
  target poses it is asked for, so it cannot return frames of a clip other than the one requested.
- ``copy-source`` returns the (first) source image for every target pose: what a method that ignores the
  pose would score.

Neither learns anything: ``fit`` is a no-op, ``save`` writes only a ``config.json`` naming the method, and
``needs_training = False`` lets the harness run them on benchmarks that have no training frames.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import cv2
import numpy as np

from ..atomic import write_json_atomic
from ..data.subject import SubjectFrames
from ..errors import ToolkitError
from ..methods import register_method
from ..pose.sequence import PoseSequence
from .benchmarks import EvalCase

CONFIG_NAME = "config.json"


def pose_fingerprint(poses: PoseSequence) -> str:
    """A digest of the keypoints and canvas: equal for the same target poses, different otherwise."""
    digest = hashlib.sha1(np.ascontiguousarray(poses.keypoints, dtype=np.float32).tobytes())
    digest.update(f"{poses.width}x{poses.height}".encode())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class CaseTruth:
    """The true frames of one subject's clips, looked up by the target poses of the clip.

    Build it with :meth:`from_case`; the harness does so for methods that declare :class:`TruthAware`.
    """

    frames: Mapping[str, np.ndarray]

    @classmethod
    def from_case(cls, case: EvalCase) -> CaseTruth:
        return cls({pose_fingerprint(clip.target_poses): clip.truth for clip in case.clips})

    def lookup(self, target_poses: PoseSequence) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 true frames of the clip whose target poses are ``target_poses``."""
        try:
            return self.frames[pose_fingerprint(target_poses)]
        except KeyError:
            raise ToolkitError(
                "ground-truth can only render the target poses of a benchmark clip; these are not one"
            ) from None


@runtime_checkable
class TruthAware(Protocol):
    """A method that is given the truth of the subject being evaluated, before ``fit``."""

    def attach_truth(self, truth: CaseTruth) -> None: ...


class _Stateless:
    """What both reference methods share: a config, a no-op ``fit`` and a config-only ``save``/``load``."""

    name: ClassVar[str]
    needs_training: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = dict(config or {})

    def fit(
        self, train_data: SubjectFrames, config: Mapping[str, Any] | None = None, accelerator: Any = None
    ) -> None:
        """Nothing to learn."""

    def save(self, directory: Path) -> None:
        write_json_atomic(Path(directory) / CONFIG_NAME, {"method": self.name, "config": self.config})

    @classmethod
    def load(cls, directory: Path) -> _Stateless:
        path = Path(directory) / CONFIG_NAME
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ToolkitError(f"{path}: cannot read the saved {cls.name} method ({err})") from None
        if saved.get("method") != cls.name:
            raise ToolkitError(f"{path}: holds the method {saved.get('method')!r}, not {cls.name!r}")
        return cls(saved.get("config"))


@register_method("ground-truth")
class GroundTruth(_Stateless):
    """Returns the true frames of the requested clip (an upper bound for every metric)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._truth: CaseTruth | None = None

    def attach_truth(self, truth: CaseTruth) -> None:
        self._truth = truth

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """``(T, H, W, 3)`` uint8: a copy of the true frames for ``target_poses``."""
        if self._truth is None:
            raise ToolkitError("ground-truth has no truth to return: run it through the evaluation harness")
        return self._truth.lookup(target_poses).copy()


@register_method("copy-source")
class CopySource(_Stateless):
    """Returns the first source image for every target pose (what ignoring the pose scores)."""

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """``(T, H, W, 3)`` uint8: ``source_images[0]``, resized to the target canvas if it differs."""
        source = source_images[0]
        if source.shape[:2] != (target_poses.height, target_poses.width):
            source = cv2.resize(source, target_poses.canvas, interpolation=cv2.INTER_AREA)
        return np.repeat(source[None], len(target_poses), axis=0)
