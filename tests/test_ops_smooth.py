from dataclasses import replace

import numpy as np
import pytest

from toolkit.pose import PoseSequence, make_motion
from toolkit.pose.ops import SMOOTHERS, one_euro_smooth


def _noisy_walk(sigma: float = 2.0, seed: int = 0) -> tuple[PoseSequence, PoseSequence]:
    clean = make_motion("walk", frames=96, width=256, height=256)
    keypoints = clean.keypoints.copy()
    keypoints[..., :2] += np.random.default_rng(seed).normal(0.0, sigma, keypoints[..., :2].shape)
    return clean, replace(clean, keypoints=keypoints)


def _rmse(poses: PoseSequence, clean: PoseSequence) -> float:
    seen = clean.visible
    return float(np.sqrt(((poses.keypoints[..., :2] - clean.keypoints[..., :2])[seen] ** 2).sum(-1).mean()))


def _acceleration(poses: PoseSequence) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| over coordinates of joints seen in all three frames."""
    xy, seen = poses.keypoints[..., :2], poses.visible
    accel = np.abs(xy[2:] - 2 * xy[1:-1] + xy[:-2])
    return float(accel[seen[2:] & seen[1:-1] & seen[:-2]].mean())


@pytest.mark.parametrize("causal", [False, True])
def test_one_euro_brings_a_jittered_walk_closer_to_the_clean_one(causal):
    clean, noisy = _noisy_walk()
    smoothed = one_euro_smooth(noisy, causal=causal)
    rmse_noisy, rmse_smoothed = _rmse(noisy, clean), _rmse(smoothed, clean)
    accel_noisy, accel_smoothed = _acceleration(noisy), _acceleration(smoothed)
    drop = 1 - accel_smoothed / accel_noisy
    print(
        f"\none-euro (causal={causal}): RMSE to clean {rmse_noisy:.2f} px noisy -> {rmse_smoothed:.2f} px "
        f"smoothed; acceleration {accel_noisy:.2f} -> {accel_smoothed:.2f} px/frame^2 ({drop:.0%} drop; "
        f"clean {_acceleration(clean):.2f})"
    )
    assert rmse_smoothed < rmse_noisy
    assert drop >= 0.5
    assert smoothed.canvas == noisy.canvas and smoothed.fps == noisy.fps
    np.testing.assert_array_equal(smoothed.keypoints[..., 2], noisy.keypoints[..., 2])
    np.testing.assert_array_equal(smoothed.depth, noisy.depth)


def _reference_one_euro(values, fps, min_cutoff, beta, d_cutoff):
    """Casiez et al.'s pseudo-code for one scalar signal, written out plainly."""

    def alpha(cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * fps)

    out, x_prev, dx_prev = [], None, 0.0
    for x in values:
        if x_prev is None:
            x_hat = x
        else:
            dx = (x - x_prev) * fps
            dx_prev = dx_prev + alpha(d_cutoff) * (dx - dx_prev)
            cutoff = min_cutoff + beta * abs(dx_prev)
            x_hat = x_prev + alpha(cutoff) * (x - x_prev)
        out.append(x_hat)
        x_prev = x_hat
    return np.array(out)


def test_causal_filter_matches_the_papers_pseudo_code():
    rng = np.random.default_rng(1)
    keypoints = np.zeros((40, 18, 3), np.float32)
    keypoints[..., :2] = np.cumsum(rng.normal(0, 3, (40, 18, 2)), axis=0) + 100
    keypoints[..., 2] = 1
    poses = PoseSequence(keypoints, 256, 256, fps=30)
    settings = {"min_cutoff": 0.7, "beta": 0.03, "d_cutoff": 2.0}
    smoothed = one_euro_smooth(poses, causal=True, **settings)
    for joint, axis in [(0, 0), (7, 1), (17, 0)]:
        expected = _reference_one_euro(keypoints[:, joint, axis].astype(np.float64), 30, **settings)
        np.testing.assert_allclose(smoothed.keypoints[:, joint, axis], expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("causal", [False, True])
def test_gaps_stay_missing_and_the_filter_restarts_after_them(causal):
    _, noisy = _noisy_walk()
    wrist = 4
    keypoints = noisy.keypoints.copy()
    keypoints[30:40, wrist] = (np.nan, np.nan, 0.0)
    gappy = replace(noisy, keypoints=keypoints)
    smoothed = one_euro_smooth(gappy, causal=causal)

    assert np.isnan(smoothed.keypoints[30:40, wrist, :2]).all()
    assert (smoothed.keypoints[30:40, wrist, 2] == 0).all()
    assert np.isfinite(smoothed.keypoints[..., :2][gappy.visible]).all()
    assert np.isnan(smoothed.keypoints[..., :2][~gappy.visible]).all()

    # Nothing is smeared across the gap: changing the wrist before it leaves the frames after it alone.
    moved = keypoints.copy()
    moved[:30, wrist, :2] += 50.0
    after = one_euro_smooth(replace(gappy, keypoints=moved), causal=causal)
    np.testing.assert_array_equal(after.keypoints[40:, wrist], smoothed.keypoints[40:, wrist])
    if causal:
        np.testing.assert_array_equal(smoothed.keypoints[40, wrist], keypoints[40, wrist])


def test_smoothers_registry():
    _, noisy = _noisy_walk()
    assert SMOOTHERS["none"](noisy) is noisy
    np.testing.assert_array_equal(SMOOTHERS["one-euro"](noisy).keypoints, one_euro_smooth(noisy).keypoints)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("min_cutoff", 0.0, "min_cutoff must be a positive frequency"),
        ("beta", -0.1, "beta must be a number >= 0"),
        ("d_cutoff", float("nan"), "d_cutoff must be a positive frequency"),
        ("beta", "fast", "beta must be"),
    ],
)
def test_bad_parameters_are_named(option, value, message):
    _, noisy = _noisy_walk()
    with pytest.raises(ValueError, match=message):
        one_euro_smooth(noisy, **{option: value})
