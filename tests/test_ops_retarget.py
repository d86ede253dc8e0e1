from dataclasses import replace

import numpy as np
import pytest

from toolkit.pose import BODY_18, BodyProportions, PoseSequence, make_motion
from toolkit.pose.ops import bone_lengths, proportion_lengths, retarget

PARENTS, CHILDREN = np.array(BODY_18.limbs).T
NECK, R_SHOULDER, R_ELBOW, R_WRIST = 1, 2, 3, 4


def _walk(seed: int, **kwargs) -> PoseSequence:
    proportions = BodyProportions.sample(np.random.default_rng(seed), spread=0.15)
    return make_motion("walk", frames=48, proportions=proportions, **kwargs)


def _bones(poses: PoseSequence) -> np.ndarray:
    """``(T, 17, 2)`` bone vectors, NaN unless both ends are seen."""
    xy = poses.keypoints[..., :2].astype(np.float64)
    return xy[:, CHILDREN] - xy[:, PARENTS]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def test_bone_lengths_are_medians_and_nan_when_never_seen():
    poses = _walk(0)
    lengths = bone_lengths(poses)
    assert lengths.shape == (17,)
    np.testing.assert_allclose(lengths[:12], np.median(np.linalg.norm(_bones(poses)[:, :12], axis=-1), 0))
    # At a three-quarter view the far ear is hidden, so the bone to it is never seen whole.
    assert np.isnan(lengths[BODY_18.limbs.index((15, 17))])


def test_retargeting_keeps_the_drivers_angles_on_the_targets_lengths():
    driver, target = _walk(1), _walk(2, width=300, height=420)
    wanted = bone_lengths(target)
    out = retarget(driver, target)
    bones, driver_bones = _bones(out), _bones(driver)
    both = np.isfinite(driver_bones).all(-1)  # (T, 17)
    measured = np.isfinite(wanted)
    lengths = np.linalg.norm(bones, axis=-1)  # (T, 17)
    check = both & measured
    np.testing.assert_allclose(lengths[check], np.broadcast_to(wanted, lengths.shape)[check], atol=1e-4)
    np.testing.assert_allclose(_unit(bones)[both], _unit(driver_bones)[both], atol=1e-5)
    np.testing.assert_array_equal(out.keypoints[:, NECK], driver.keypoints[:, NECK])
    np.testing.assert_array_equal(out.visible, driver.visible)
    assert out.canvas == driver.canvas

    # A bone the target never shows keeps the driver's length times the overall ratio.
    ratio = wanted[measured].sum() / bone_lengths(driver)[measured].sum()
    np.testing.assert_allclose(
        bone_lengths(out)[~measured], bone_lengths(driver)[~measured] * ratio, rtol=1e-5
    )


def test_missing_joints_stay_missing_and_descendants_follow_the_nearest_seen_ancestor():
    driver, target = _walk(1), _walk(2)
    keypoints = driver.keypoints.copy()
    keypoints[10:20, R_ELBOW] = (np.nan, np.nan, 0.0)
    keypoints[5, NECK] = (np.nan, np.nan, 0.0)
    driver = replace(driver, keypoints=keypoints)
    wanted = bone_lengths(target)
    out = retarget(driver, wanted)

    assert np.isnan(out.keypoints[10:20, R_ELBOW, :2]).all()
    assert np.isfinite(out.keypoints[..., :2][driver.visible]).all()
    reach = out.keypoints[10:20, R_WRIST, :2] - out.keypoints[10:20, R_SHOULDER, :2]
    upper, fore = BODY_18.limbs.index((R_SHOULDER, R_ELBOW)), BODY_18.limbs.index((R_ELBOW, R_WRIST))
    np.testing.assert_allclose(np.linalg.norm(reach, axis=-1), wanted[upper] + wanted[fore], atol=1e-4)
    driver_reach = driver.keypoints[10:20, R_WRIST, :2] - driver.keypoints[10:20, R_SHOULDER, :2]
    np.testing.assert_allclose(_unit(reach), _unit(driver_reach), atol=1e-5)
    # Without a neck, the joints hanging from it have no seen ancestor and keep the driver's places.
    for joint in (0, R_SHOULDER, 5, 8, 11):
        np.testing.assert_array_equal(out.keypoints[5, joint], driver.keypoints[5, joint])


def test_body_proportions_give_limb_lengths_at_the_drivers_size_or_a_given_height():
    driver = _walk(1)
    body = BodyProportions.sample(np.random.default_rng(7), spread=0.15)
    limbs = np.isfinite(proportion_lengths(body, 1.0))
    assert limbs.sum() == 12

    tall = retarget(driver, body, height=400.0)
    np.testing.assert_allclose(bone_lengths(tall)[limbs], proportion_lengths(body, 400.0)[limbs], atol=1e-4)
    kept = retarget(driver, body)
    assert bone_lengths(kept)[limbs].sum() == pytest.approx(bone_lengths(driver)[limbs].sum(), rel=1e-5)
    # Face bones, which proportions do not describe, keep the driver's lengths at the overall ratio.
    face = ~limbs & np.isfinite(bone_lengths(driver))
    np.testing.assert_allclose(bone_lengths(kept)[face], bone_lengths(driver)[face], rtol=1e-5)


def test_keep_foreshortening_scales_each_frames_bone_by_the_target_ratio():
    driver, target = _walk(1), _walk(2)
    wanted, own = bone_lengths(target), bone_lengths(driver)
    out = retarget(driver, wanted, keep_foreshortening=True)
    ratio = np.linalg.norm(_bones(out), axis=-1) / np.linalg.norm(_bones(driver), axis=-1)  # (T, 17)
    measured = np.isfinite(wanted) & np.isfinite(own)
    expected = np.broadcast_to(wanted / own, ratio.shape)
    seen = np.isfinite(ratio[:, measured])
    np.testing.assert_allclose(ratio[:, measured][seen], expected[:, measured][seen], rtol=1e-4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: retarget(d.to_layout("coco_17"), d), "retarget needs BODY_18 poses, got coco_17"),
        (lambda d: bone_lengths(d.to_layout("body_25")), "bone_lengths needs BODY_18"),
        (lambda d: retarget(d, np.ones(12)), r"shape \(17,\)"),
        (lambda d: retarget(d, -np.ones(17)), "finite numbers >= 0"),
        (lambda d: retarget(d, np.ones(17), height=300), "height applies only to a BodyProportions"),
        (lambda d: retarget(d, BodyProportions(), height=-3), "height must be a positive number"),
        (lambda d: retarget(d, "tall"), "target_lengths must be bone lengths"),
        (lambda d: retarget(d, np.full(17, np.nan)), "no measured bone in common"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(_walk(1))
