from dataclasses import replace

import numpy as np
import pytest

from toolkit.pose import BodyProportions, PoseSequence, make_motion
from toolkit.pose.ops import ankle_range, normalize_to_target


def _walk_in_depth(poses: PoseSequence, rise: float, shrink: float) -> PoseSequence:
    """Walk towards the back of the scene and return: ankles rise by up to ``rise`` px on screen while
    the body shrinks by up to ``shrink`` of its size, as under a perspective camera."""
    far = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(len(poses)) / len(poses)))[:, None]  # (T, 1) 0 = close
    ground = np.nanmax(poses.keypoints[..., 1])
    centre = np.nanmedian(poses.keypoints[:, 1, 0])
    scale = 1 - shrink * far
    keypoints = poses.keypoints.copy()
    keypoints[..., 0] = centre + scale * (keypoints[..., 0] - centre)
    keypoints[..., 1] = ground - rise * far + scale * (keypoints[..., 1] - ground)
    return replace(poses, keypoints=keypoints)


def _width(poses: PoseSequence) -> np.ndarray:
    """``(T,)`` horizontal extent of each frame's seen joints."""
    return np.nanmax(poses.keypoints[..., 0], axis=1) - np.nanmin(poses.keypoints[..., 0], axis=1)


def _target() -> PoseSequence:
    return _walk_in_depth(make_motion("walk", frames=96, width=512, height=512), rise=60, shrink=0.3)


def test_a_scaled_and_shifted_copy_of_the_target_normalises_back_to_it():
    target = _target()
    keypoints = target.keypoints.copy()
    keypoints[..., 0] = 1.6 * keypoints[..., 0] + 40
    keypoints[..., 1] = 1.6 * keypoints[..., 1] - 30
    driver = PoseSequence(keypoints, 900, 800, fps=target.fps)
    out = normalize_to_target(driver, target)
    assert out.canvas == target.canvas
    np.testing.assert_allclose(out.keypoints, target.keypoints, atol=1e-3)


def test_another_subjects_ankle_range_and_height_map_onto_the_targets():
    target = _target()
    other = make_motion(
        "walk", frames=72, width=700, height=900, proportions=BodyProportions.sample(np.random.default_rng(2))
    )
    driver = _walk_in_depth(other, rise=150, shrink=0.5)
    out = normalize_to_target(driver, target)
    got, want = ankle_range(out), ankle_range(target)
    print(f"\nEDN: target {want}\n     output {got}")
    assert got.close == pytest.approx(want.close, abs=1.0)
    assert got.far == pytest.approx(want.far, abs=1.0)
    assert got.close_height == pytest.approx(want.close_height, rel=0.03)
    assert got.far_height == pytest.approx(want.far_height, rel=0.03)
    assert got.centre_x == pytest.approx(want.centre_x, abs=1.0)
    np.testing.assert_array_equal(out.visible, driver.visible)


def test_a_driver_standing_at_one_distance_takes_the_targets_close_scale():
    target = _target()
    driver = make_motion("walk", frames=48, width=300, height=300)
    out = normalize_to_target(driver, target)
    got, want = ankle_range(out), ankle_range(target)
    assert got.close == pytest.approx(want.close, abs=1.0)
    assert got.close_height == pytest.approx(want.close_height, rel=0.03)
    # One uniform scale: the driver's pose is the same shape, only bigger.
    ratio = want.close_height / ankle_range(driver).close_height
    np.testing.assert_allclose(_width(out), ratio * _width(driver), rtol=1e-4)


def test_bad_input_is_named():
    target = _target()
    with pytest.raises(ValueError, match="needs BODY_18 poses, got coco_17"):
        normalize_to_target(target.to_layout("coco_17"), target)
    keypoints = target.keypoints.copy()
    keypoints[:, [10, 13]] = (np.nan, np.nan, 0.0)
    with pytest.raises(ValueError, match="no frame has both the neck and an ankle"):
        normalize_to_target(replace(target, keypoints=keypoints), target)
    with pytest.raises(ValueError, match="min_range must be"):
        normalize_to_target(target, target, min_range=-1)
    with pytest.raises(ValueError, match="percentile must be in"):
        ankle_range(target, percentile=60)
