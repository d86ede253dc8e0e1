"""PCKh: the fraction of the target pose's joints that a pose detector finds, on the generated frames, close
enough to where they should be.

Only joints present in the target count; a counted joint the detector misses is wrong. The score is the
number of correct joints over the number counted, pooled over all frames (as PATN's script pools them);
``per_frame`` holds each frame's own fraction, NaN for a frame with nothing counted.

Rules (``PCKH_RULES``), both with ``alpha = 0.5``:

- ``"patn"``: Pose-Transfer's ``tool/calPCKH_fashion.py`` / ``calPCKH_market.py`` (Zhu et al. 2019). The
  head box is the bounding box of the target's present nose, neck, eyes and ears (BODY_18 joints 0, 1,
  14-17); a frame with fewer than 2 of them is skipped entirely. A joint is correct when
  ``|dx| < alpha * box width`` and ``|dy| < alpha * box height``, each axis on its own, strictly. (A box of
  zero width or height therefore accepts nothing.)
- ``"standard"``: PCKh as on MPII (Andriluka et al. 2014): correct when the distance is at most
  ``alpha`` times the head segment. BODY_18 has no head top, so the segment runs from the neck to the mean
  of the present face joints (nose, eyes, ears), the head point ``toolkit.pose.skeleton`` gives MPII-14; it
  is shorter than MPII's upper-neck-to-head-top segment, so this threshold is the stricter. A frame without
  the neck or any face joint is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...checks import check_choice
from ...pose.detect import DETECTORS, DetectorError, detect_poses
from ...pose.skeleton import BODY_18, FACE_JOINTS
from .base import Metric, MetricInputs, MetricKind, MetricUnavailable, Score

_NECK = BODY_18.joints.index("neck")
_FACE = [BODY_18.joints.index(name) for name in FACE_JOINTS]
# PATN's PARTS_SEL: nose, neck, right and left eye, right and left ear.
PATN_HEAD_JOINTS = (0, 1, 14, 15, 16, 17)

# A rule maps detected and target ``(N, J, 3)`` poses and alpha to ``(N, J)`` bool: correct, counted.
Rule = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


def _present(poses: np.ndarray) -> np.ndarray:
    return (poses[..., 2] > 0) & np.isfinite(poses[..., :2]).all(axis=-1)


def patn_rule(detected: np.ndarray, target: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """PATN's head-box rule (see the module docstring): ``(N, J)`` correct and counted."""
    head = target[:, PATN_HEAD_JOINTS, :2]  # (N, 6, 2)
    on = _present(target[:, PATN_HEAD_JOINTS])  # (N, 6)
    with np.errstate(invalid="ignore"):
        low = np.where(on[..., None], head, np.inf).min(axis=1)  # (N, 2)
        high = np.where(on[..., None], head, -np.inf).max(axis=1)
    box = high - low  # (N, 2) width, height
    counted = _present(target) & (on.sum(axis=1) >= 2)[:, None]
    with np.errstate(invalid="ignore"):
        near = (np.abs(detected[..., :2] - target[..., :2]) < alpha * box[:, None, :]).all(axis=-1)
    return counted & _present(detected) & near, counted


def standard_rule(detected: np.ndarray, target: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """MPII's rule on BODY_18's neck-to-face head segment (see the module docstring)."""
    face_on = _present(target[:, _FACE])  # (N, 5)
    face_xy = np.where(face_on[..., None], target[:, _FACE, :2], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        head_point = face_xy.sum(axis=1) / face_on.sum(axis=1)[:, None]  # (N, 2)
        segment = np.linalg.norm(head_point - target[:, _NECK, :2], axis=-1)  # (N,)
        distance = np.linalg.norm(detected[..., :2] - target[..., :2], axis=-1)  # (N, J)
        near = distance <= alpha * segment[:, None]
    has_head = face_on.any(axis=1) & _present(target[:, _NECK])
    counted = _present(target) & has_head[:, None]
    return counted & _present(detected) & near, counted


PCKH_RULES: dict[str, Rule] = {"patn": patn_rule, "standard": standard_rule}


@dataclass(frozen=True)
class PCKh(Metric):
    """PCKh of poses re-detected on the generated frames against the target poses (module docstring).

    Settings:
        rule: ``"patn"`` (default, PATN's head box) or ``"standard"`` (MPII's head segment).
        alpha: Fraction of the head size. Default 0.5.
        detector: A name in ``toolkit.pose.detect.DETECTORS``. Default ``"mediapipe"``.
        detector_options: Passed to the detector, e.g. ``{"min_confidence": 0.5}`` or
            ``{"weights": "body_pose_model.pth"}`` for OpenPose.
        video: Let the detector track the person from frame to frame. Default False: each frame is
            detected on its own, as PATN scores unrelated images.
    """

    name: ClassVar[str] = "pckh"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = True
    requires: ClassVar[tuple[str, ...]] = ("poses",)

    rule: str = "patn"
    alpha: float = 0.5
    detector: str = "mediapipe"
    detector_options: dict[str, Any] = field(default_factory=dict)
    video: bool = False

    def __post_init__(self) -> None:
        check_choice(self.rule, PCKH_RULES, "PCKh rule")
        check_choice(self.detector, DETECTORS, "detector")
        if not self.alpha > 0:
            raise ValueError(f"PCKh alpha must be positive, got {self.alpha!r}")

    def score(self, inputs: MetricInputs) -> Score:
        target = inputs.poses.to_layout("body_18")  # type: ignore[union-attr]  # in ``requires``
        try:
            detected = detect_poses(
                list(inputs.generated), self.detector, fps=target.fps, video=self.video, progress=False,
                **self.detector_options,
            )  # fmt: skip
        except DetectorError as err:
            raise MetricUnavailable(f"cannot run: {err}") from None
        correct, counted = PCKH_RULES[self.rule](detected.keypoints, target.keypoints, self.alpha)
        total = counted.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            per_frame = correct.sum(axis=1) / counted.sum(axis=1)
        value = correct.sum() / total if total else np.nan
        return Score(float(value), per_frame, {"correct": int(correct.sum()), "counted": int(total)})
