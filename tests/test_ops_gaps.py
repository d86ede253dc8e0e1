import numpy as np
import pytest

from toolkit.pose import PoseSequence
from toolkit.pose.ops import FILLED_CONFIDENCE, interpolate_gaps, median_fill

FRAMES = 40
# Missing frames of joint 0: a leading gap, gaps of 1, 3 and 5 frames, and a trailing gap.
LEADING, SHORT, MEDIUM, LONG, TRAILING = [0, 1], [6], [10, 11, 12], [20, 21, 22, 23, 24], [38, 39]


def _linear_poses(with_depth: bool = False) -> tuple[PoseSequence, np.ndarray]:
    t = np.arange(FRAMES, dtype=np.float32)
    keypoints = np.zeros((FRAMES, 18, 3), np.float32)
    keypoints[..., 0] = (3 * t + 1)[:, None] + np.arange(18)
    keypoints[..., 1] = (-2 * t + 150)[:, None]
    keypoints[..., 2] = 0.9
    depth = (4 + 0.01 * t)[:, None] * np.ones(18, np.float32) if with_depth else None
    truth = keypoints.copy()
    for frames in (LEADING, SHORT, MEDIUM, LONG, TRAILING):
        keypoints[frames, 0] = (np.nan, np.nan, 0.0)
    return PoseSequence(keypoints, 256, 256, depth=depth), truth


def test_linear_fill_is_exact_on_a_linear_path_up_to_max_gap():
    poses, truth = _linear_poses(with_depth=True)
    filled = interpolate_gaps(poses, max_gap=3)
    for frames in (SHORT, MEDIUM):
        np.testing.assert_allclose(filled.keypoints[frames, 0, :2], truth[frames, 0, :2], atol=1e-4)
        np.testing.assert_allclose(filled.keypoints[frames, 0, 2], FILLED_CONFIDENCE)
        np.testing.assert_allclose(filled.depth[frames, 0], 4 + 0.01 * np.array(frames), atol=1e-5)
    for frames in (LEADING, LONG, TRAILING):
        assert np.isnan(filled.keypoints[frames, 0, :2]).all() and (filled.keypoints[frames, 0, 2] == 0).all()
    np.testing.assert_array_equal(filled.keypoints[poses.visible], poses.keypoints[poses.visible])

    longer = interpolate_gaps(poses, max_gap=5, confidence=0.3)
    np.testing.assert_allclose(longer.keypoints[LONG, 0, :2], truth[LONG, 0, :2], atol=1e-4)
    np.testing.assert_allclose(longer.keypoints[LONG, 0, 2], 0.3)
    assert np.isnan(longer.keypoints[LEADING + TRAILING, 0, :2]).all()


def test_median_fill_fills_what_interpolation_leaves():
    poses, _ = _linear_poses()
    interpolated = interpolate_gaps(poses, max_gap=3)
    filled = median_fill(interpolated)
    assert filled.visible.all()
    median = np.median(interpolated.keypoints[interpolated.visible[:, 0], 0, :2], axis=0)
    for frames in (LEADING, LONG, TRAILING):
        np.testing.assert_allclose(filled.keypoints[frames, 0, :2], np.broadcast_to(median, (len(frames), 2)))
        np.testing.assert_allclose(filled.keypoints[frames, 0, 2], FILLED_CONFIDENCE)


def test_windowed_median_uses_the_frames_around_each_gap():
    poses, _ = _linear_poses()
    filled = median_fill(poses, window=9)
    x = poses.keypoints[:, 0, 0]
    for frame in LEADING + SHORT + MEDIUM + LONG + TRAILING:
        window = x[max(frame - 4, 0) : frame + 5]
        assert filled.keypoints[frame, 0, 0] == pytest.approx(np.nanmedian(window))
    assert median_fill(poses, window=1).visible.sum() == poses.visible.sum()


def test_a_joint_never_seen_stays_missing():
    poses, _ = _linear_poses()
    keypoints = poses.keypoints.copy()
    keypoints[:, 5] = (np.nan, np.nan, 0.0)
    poses = PoseSequence(keypoints, 256, 256)
    for filled in (median_fill(poses), median_fill(poses, window=5), interpolate_gaps(poses)):
        assert np.isnan(filled.keypoints[:, 5, :2]).all() and not filled.visible[:, 5].any()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: interpolate_gaps(p, max_gap=0), "max_gap must be an integer >= 1"),
        (lambda p: interpolate_gaps(p, max_gap=2.5), "max_gap must be an integer"),
        (lambda p: median_fill(p, window=4), "window must be an odd number"),
        (lambda p: median_fill(p, confidence=0), "confidence must be a positive number"),
    ],
)
def test_bad_parameters_are_named(call, message):
    poses, _ = _linear_poses()
    with pytest.raises(ValueError, match=message):
        call(poses)
