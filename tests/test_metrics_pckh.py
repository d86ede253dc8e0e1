"""PCKh: both thresholding rules on fabricated keypoints, then MediaPipe on mannequin renders."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from toolkit.data.mannequin import MannequinSpec, render_sequence
from toolkit.eval.metrics import MetricInputs, build_metric
from toolkit.eval.metrics.pckh import patn_rule, standard_rule
from toolkit.pose.motions import make_motion

# Head joints of the target: nose, neck, eyes, ears. PATN's head box is x 6..14 (width 8), y 8..20
# (height 12); the standard head segment runs from the neck (10, 20) to the face joints' mean (10, 8.8).
HEAD = {0: (10, 10), 1: (10, 20), 14: (8, 8), 15: (12, 8), 16: (6, 9), 17: (14, 9)}


def fabricated() -> tuple[np.ndarray, np.ndarray]:
    """Two frames of target and detected poses. Frame 0 has a full head; frame 1 only its nose."""
    target = np.zeros((2, 18, 3), np.float32)
    target[..., 0] = np.arange(18) * 3.0
    target[..., 1] = 30.0
    target[..., 2] = 1.0
    for joint, xy in HEAD.items():
        target[0, joint, :2] = xy
    target[:, 6] = (np.nan, np.nan, 0)  # missing in the target: never counted
    target[1, [1, 14, 15, 16, 17]] = (np.nan, np.nan, 0)
    detected = target.copy()
    detected[:, 6] = (0, 0, 1)
    detected[0, 2, 0] += 3.9  # inside both thresholds
    detected[0, 3, 0] += 4.0  # exactly PATN's x bound, inside the standard radius of 5.6
    detected[0, 4, 1] += 5.9  # inside PATN's y bound, outside the standard radius
    detected[0, 5] = (np.nan, np.nan, 0)  # missed by the detector
    return detected, target


def test_patn_rule_uses_the_head_box_per_axis_and_strictly() -> None:
    detected, target = fabricated()
    correct, counted = patn_rule(detected, target, 0.5)
    assert counted[0].sum() == 17 and not counted[0, 6]
    assert not counted[1].any()  # fewer than two head joints: the frame is skipped
    assert correct[0, 2] and not correct[0, 3] and correct[0, 4] and not correct[0, 5]
    assert correct[0].sum() == 15


def test_standard_rule_uses_the_neck_to_face_segment() -> None:
    detected, target = fabricated()
    correct, counted = standard_rule(detected, target, 0.5)
    assert counted[0].sum() == 17 and not counted[1].any()  # frame 1 has no neck
    assert correct[0, 2] and correct[0, 3] and not correct[0, 4] and not correct[0, 5]
    assert correct[0].sum() == 15


def test_pckh_without_poses_or_detector_model_is_unavailable() -> None:
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    assert build_metric("pckh").compute(MetricInputs(frames, frames)).reason == (
        "pckh needs the target poses (MetricInputs.poses)"
    )
    poses = make_motion("wave", frames=2, width=32, height=32)
    openpose = build_metric("pckh", detector="openpose").compute(MetricInputs(frames, frames, poses=poses))
    assert not openpose.available
    assert openpose.reason.startswith("pckh cannot run: the openpose detector needs its model")
    with pytest.raises(ValueError, match="unknown PCKh rule"):
        build_metric("pckh", rule="mpii")


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe not installed")
def test_mediapipe_finds_the_mannequins_pose_and_misses_a_shifted_one() -> None:
    poses = make_motion("wave", frames=4, width=128, height=128)
    frames = np.stack([f.image for f in render_sequence(MannequinSpec.sample(2), poses)])
    truth = build_metric("pckh").compute(MetricInputs(frames, frames, poses=poses))
    assert truth.available and truth.value > 0.9
    assert truth.details["counted"] == 4 * 18
    shifted = np.roll(frames, 20, axis=2)
    assert (
        build_metric("pckh", rule="standard").compute(MetricInputs(shifted, frames, poses=poses)).value < 0.2
    )
