"""k-NN retrieval: show, for every driving pose, the subject's own frame whose pose is nearest.

The oldest pose-transfer baseline, and the one every learnt method must beat on poses the subject was
filmed in. For each target pose the bank frame with the nearest pose (``toolkit.pose.match``, in limb-angle
or joint-position space) is picked; *frame thresholding* keeps the previous pick unless the new nearest
frame is better by more than ``lam`` (``threshold_matches``), which trades the flicker of plain
nearest-neighbour retrieval between near-equal frames for holds. Optical-flow interpolation
(``toolkit.data.flow.interpolate_frames``) can then smooth the holds (``smoothing="flow"``) or insert
in-between frames for target sequences sparser than the video wanted (``inbetweens``).

``fit`` only stores the bank (frames and poses); ``save`` writes the frames as one uint8 safetensors tensor,
the poses as toolkit pose JSON, and the config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from toolkit.checks import check_choice, check_count, check_number
from toolkit.data.datasets import Letterbox
from toolkit.data.flow import FLOW_METHODS, interpolate_frames
from toolkit.data.subject import SubjectFrames
from toolkit.errors import ToolkitError
from toolkit.methods import register_method
from toolkit.nn.io import config_from_dict, read_method, write_method
from toolkit.pose.io import load_poses, save_poses
from toolkit.pose.match import FEATURES, pose_distances, threshold_matches
from toolkit.pose.sequence import PoseSequence

POSES_NAME = "poses.json"


@dataclass(frozen=True)
class KnnConfig:
    """Settings of the k-NN baseline.

    Args:
        feature: Pose feature space, a key of ``toolkit.pose.match.FEATURES``: ``"angle"`` (default; limb
            directions, blind to the body's proportions) or ``"position"``.
        lam: Frame-thresholding hysteresis in the feature's distance units (``threshold_matches``); 0 is
            plain nearest-neighbour retrieval. Default 0.003, about 3 degrees RMS of limb angle.
        smoothing: A key of ``SMOOTHING``: ``"none"`` (default) shows the picked frames as they are;
            ``"flow"`` places each picked frame at the middle of its hold and fills the frames between two
            picks with optical-flow interpolation, so a switch becomes a motion instead of a jump.
        inbetweens: Flow-interpolated frames inserted between consecutive target poses, for target
            sequences sparser than the output video; ``transfer`` then returns ``T + (T - 1) *
            inbetweens`` frames. Default 0 (one frame per target pose, as the evaluation harness needs).
        flow_method: Optical flow for the interpolation, a key of ``toolkit.data.flow.FLOW_METHODS``.
            Default ``"dis"``.
    """

    feature: str = "angle"
    lam: float = 0.003
    smoothing: str = "none"
    inbetweens: int = 0
    flow_method: str = "dis"

    def __post_init__(self) -> None:
        choices = {"feature": FEATURES, "smoothing": SMOOTHING, "flow_method": FLOW_METHODS}
        for name, registry in choices.items():
            check_choice(getattr(self, name), registry, name)
        check_number("lam", self.lam, lambda lam: lam >= 0, "a finite number >= 0")
        check_count("inbetweens", self.inbetweens, minimum=0)


# ---- smoothing ----------------------------------------------------------------------------------------


def _hold(images: np.ndarray, picks: np.ndarray, flow_method: str) -> np.ndarray:
    return images[picks]


def _flow_between_holds(images: np.ndarray, picks: np.ndarray, flow_method: str) -> np.ndarray:
    """Each run of equal picks becomes one keyframe at the run's middle; the frames between two keyframes
    are interpolated between them, and the frames before the first and after the last hold them."""
    starts = np.flatnonzero(np.r_[True, picks[1:] != picks[:-1]])  # (R,) first frame of each run
    ends = np.r_[starts[1:], len(picks)]  # one past the last
    centres = (starts + ends - 1) // 2
    out = images[picks].copy()
    for k in range(len(starts) - 1):
        a, b = centres[k], centres[k + 1]
        if b - a > 1:
            first, second = images[picks[starts[k]]], images[picks[starts[k + 1]]]
            out[a + 1 : b] = interpolate_frames(first, second, int(b - a - 1), method=flow_method)
    return out


SMOOTHING: dict[str, Callable[[np.ndarray, np.ndarray, str], np.ndarray]] = {
    "none": _hold,
    "flow": _flow_between_holds,
}


def insert_inbetweens(frames: np.ndarray, count: int, flow_method: str = "dis") -> np.ndarray:
    """``(T, H, W, 3)`` frames with ``count`` flow-interpolated frames between each consecutive pair:
    ``(T + (T - 1) * count, H, W, 3)``. Equal neighbours are repeated rather than interpolated."""
    if count == 0 or len(frames) < 2:
        return frames
    out = [frames[0]]
    for a, b in zip(frames[:-1], frames[1:], strict=True):
        out += [a] * count if np.array_equal(a, b) else interpolate_frames(a, b, count, method=flow_method)
        out.append(b)
    return np.stack(out)


# ---- the method ---------------------------------------------------------------------------------------


@register_method("knn")
class KnnRetrieval:
    """Nearest-pose retrieval from the subject's own frames, with frame thresholding.

    Args:
        config: A :class:`KnnConfig` or a mapping of its fields. Default ``KnnConfig()``.
    """

    name: ClassVar[str]
    # The bank holds the subject; with thresholding and smoothing a frame depends on its neighbours.
    uses_source: ClassVar[bool] = False
    frame_independent: ClassVar[bool] = False

    def __init__(self, config: KnnConfig | Mapping[str, Any] | None = None) -> None:
        self.config = config if isinstance(config, KnnConfig) else config_from_dict(KnnConfig, config)
        self.bank: SubjectFrames | None = None

    def fit(
        self, train_data: SubjectFrames, config: Mapping[str, Any] | None = None, accelerator: Any = None
    ) -> None:
        """Store ``train_data`` as the bank; a non-empty ``config`` replaces the settings."""
        if config:
            self.config = config_from_dict(KnnConfig, config)
        if not len(train_data):
            raise ValueError("the k-NN bank needs at least one frame")
        self.bank = SubjectFrames(
            train_data.images, train_data.poses.to_layout("body_18"), None, train_data.name
        )

    def retrieve(self, target_poses: PoseSequence) -> np.ndarray:
        """``(T,)`` int64 bank index picked for each target pose, thresholded with ``lam``."""
        bank = self._bank()
        distances = pose_distances(target_poses, bank.poses, feature=self.config.feature)
        return threshold_matches(distances, self.config.lam)

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """Bank frames for every target pose: ``(T + (T - 1) * inbetweens, H, W, 3)`` uint8 on the target
        canvas (bank frames of another canvas are letterboxed into it). The source images are not used:
        the subject is the bank's."""
        bank = self._bank()
        picks = self.retrieve(target_poses)
        used = np.unique(picks)
        box = Letterbox(*bank.poses.canvas, *target_poses.canvas)
        # Only the frames that are shown are resized, once each.
        fitted = np.zeros((len(bank), target_poses.height, target_poses.width, 3), np.uint8)
        fitted[used] = [box.image(bank.images[i]) for i in used]
        frames = SMOOTHING[self.config.smoothing](fitted, picks, self.config.flow_method)
        return insert_inbetweens(frames, self.config.inbetweens, self.config.flow_method)

    def save(self, directory: Path) -> None:
        """Write ``model.safetensors`` (the bank frames, ``images`` uint8 ``(N, H, W, 3)``), ``poses.json``
        and ``config.json``."""
        bank = self._bank()
        save_poses(Path(directory) / POSES_NAME, bank.poses)
        write_method(directory, self.name, self.config, {"images": torch.from_numpy(bank.images)},
                     extra={"subject": bank.name})  # fmt: skip

    @classmethod
    def load(cls, directory: Path) -> KnnRetrieval:
        record, tensors = read_method(directory, cls.name)
        method = cls(record["config"])
        poses = load_poses(Path(directory) / POSES_NAME)
        method.bank = SubjectFrames(tensors["images"].numpy(), poses, None, record.get("subject", ""))
        return method

    def _bank(self) -> SubjectFrames:
        if self.bank is None:
            raise ToolkitError(
                "the k-NN method has no bank yet: call fit() with the subject's frames, or load()"
            )
        return self.bank
