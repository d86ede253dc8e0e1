"""Flicker and warping error on a rendered mannequin clip."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data.mannequin import MannequinSpec, render_sequence
from toolkit.eval.metrics import MetricInputs, build_metric
from toolkit.eval.metrics.temporal import consistent_flow
from toolkit.pose.motions import make_motion


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    poses = make_motion("walk", frames=8, width=128, height=128)
    return np.stack([frame.image for frame in render_sequence(MannequinSpec.sample(0), poses)])


def test_flicker_is_zero_for_the_truth_and_signed_otherwise(clip: np.ndarray) -> None:
    truth = build_metric("flicker").compute(MetricInputs(clip, clip))
    assert truth.per_frame.tolist() == [0.0] * 7 and truth.higher_is_better is None
    noisy = np.clip(clip + np.random.default_rng(0).normal(0, 8, clip.shape), 0, 255).astype(np.uint8)
    assert build_metric("flicker").compute(MetricInputs(noisy, clip)).value > 0.01
    frozen = np.repeat(clip[:1], len(clip), axis=0)
    true_motion = [np.abs(clip[t].astype(int) - clip[t - 1]).mean() / 255 for t in range(1, 8)]
    frozen_flicker = build_metric("flicker").compute(MetricInputs(frozen, clip))
    np.testing.assert_allclose(frozen_flicker.per_frame, -np.array(true_motion))


def test_warp_error_is_small_for_the_truth_and_larger_for_a_frozen_video(clip: np.ndarray) -> None:
    truth = build_metric("warp_error").compute(MetricInputs(clip, clip))
    frozen = build_metric("warp_error").compute(MetricInputs(np.repeat(clip[:1], 8, axis=0), clip))
    assert truth.per_frame.shape == (7,)
    assert truth.value < 0.015
    assert frozen.value > 2 * truth.value
    assert truth.settings == {"flow": "dis", "occlusion": True, "alpha": 0.01, "beta": 0.5}


def test_consistent_flow_drops_pixels_leaving_the_frame_or_disagreeing() -> None:
    forward = np.zeros((6, 8, 2), np.float32)
    backward = np.zeros_like(forward)
    assert consistent_flow(forward, backward, 0.01, 0.5).all()
    forward[:, :, 0] = 3.0  # everything moves 3 px right; the last 3 columns leave the frame
    backward[:, :, 0] = -3.0
    valid = consistent_flow(forward, backward, 0.01, 0.5)
    assert valid[:, :5].all() and not valid[:, 5:].any()
    backward[:, :, 0] = 3.0  # the reverse flow disagrees
    assert not consistent_flow(forward, backward, 0.01, 0.5).any()


def test_sequence_metrics_need_two_frames(clip: np.ndarray) -> None:
    result = build_metric("warp_error").compute(MetricInputs(clip[:1], clip[:1]))
    assert not result.available and result.reason == "warp_error needs 2 or more frames"
    with pytest.raises(ValueError, match="unknown flow method"):
        build_metric("warp_error", flow="raft")
