import numpy as np
import pytest

from toolkit.pose import BODY_18, PoseSequence, make_motion
from toolkit.pose.ops import AugmentConfig, augment_poses, jitter_poses

PARENTS, CHILDREN = np.array(BODY_18.limbs).T
NECK, R_ELBOW, R_WRIST = 1, 3, 4
ONLY = {"drop_joint": 0.0, "drop_limb": 0.0, "jitter": 0.0, "limb_scale": 0.0}


def _walk(frames: int = 48) -> PoseSequence:
    return make_motion("walk", frames=frames, width=256, height=256)


def _only(**strengths: float) -> AugmentConfig:
    return AugmentConfig(**{**ONLY, **strengths})


def test_a_seed_fixes_the_augmentation():
    poses = _walk()
    first = augment_poses(poses, 3)
    np.testing.assert_array_equal(first.keypoints, augment_poses(poses, 3).keypoints)
    np.testing.assert_array_equal(first.keypoints, augment_poses(poses, np.random.default_rng(3)).keypoints)
    assert not np.array_equal(first.keypoints, augment_poses(poses, 4).keypoints, equal_nan=True)
    assert first.canvas == poses.canvas and first.fps == poses.fps


def test_all_off_is_the_identity():
    poses = _walk()
    np.testing.assert_array_equal(augment_poses(poses, 0, _only()).keypoints, poses.keypoints)


def test_drop_probabilities_hold_over_many_draws():
    poses = _walk(frames=400)
    seen = poses.visible
    joints = augment_poses(poses, 1, _only(drop_joint=0.2))
    assert (~joints.visible[seen]).mean() == pytest.approx(0.2, abs=0.02)
    np.testing.assert_array_equal(joints.keypoints[joints.visible], poses.keypoints[joints.visible])

    limbs = augment_poses(poses, 2, _only(drop_limb=0.1))
    # A wrist goes with any of the three bones from the neck to it, an elbow with two, the neck never.
    assert (~limbs.visible[:, R_WRIST]).mean() == pytest.approx(1 - 0.9**3, abs=0.04)
    assert (~limbs.visible[:, R_ELBOW]).mean() == pytest.approx(1 - 0.9**2, abs=0.04)
    assert limbs.visible[:, NECK].all()
    assert not (limbs.visible[:, R_WRIST] & ~limbs.visible[:, R_ELBOW]).any()


def test_jitter_has_the_requested_spread():
    poses = _walk(frames=200)
    moved = augment_poses(poses, 5, _only(jitter=3.0))
    offsets = (moved.keypoints[..., :2] - poses.keypoints[..., :2])[poses.visible]
    assert offsets.std() == pytest.approx(3.0, rel=0.05)
    assert abs(offsets.mean()) < 0.1


def test_detector_jitter_alone_is_seeded_and_keeps_missing_joints_missing():
    poses = augment_poses(_walk(frames=200), 7, _only(drop_joint=0.1))  # some joints missing
    moved = jitter_poses(poses, 2.0, np.random.default_rng(8))
    again = jitter_poses(poses, 2.0, np.random.default_rng(8))
    np.testing.assert_array_equal(moved.keypoints, again.keypoints)
    np.testing.assert_array_equal(moved.visible, poses.visible)
    offsets = (moved.keypoints[..., :2] - poses.keypoints[..., :2])[poses.visible]
    assert offsets.std() == pytest.approx(2.0, rel=0.05)
    np.testing.assert_array_equal(moved.keypoints[..., 2], poses.keypoints[..., 2])
    with pytest.raises(ValueError, match="pixels must be a number of pixels >= 0"):
        jitter_poses(poses, -1.0, np.random.default_rng(0))


def test_limb_scaling_keeps_the_skeleton_connected():
    poses = _walk()
    scaled = augment_poses(poses, 6, _only(limb_scale=0.2))
    before = poses.keypoints[:, CHILDREN, :2] - poses.keypoints[:, PARENTS, :2]  # (T, 17, 2)
    after = scaled.keypoints[:, CHILDREN, :2] - scaled.keypoints[:, PARENTS, :2]
    ratio = np.linalg.norm(after, axis=-1) / np.linalg.norm(before, axis=-1)  # (T, 17)
    measured = np.isfinite(ratio).any(axis=0)
    ratio = ratio[:, measured]
    factors = np.nanmedian(ratio, axis=0)
    # One factor per bone for the whole clip, in range, and every bone keeps its direction.
    seen = np.isfinite(ratio)
    np.testing.assert_allclose(ratio[seen], np.broadcast_to(factors, ratio.shape)[seen], rtol=1e-4)
    assert ((factors >= 0.8) & (factors <= 1.2)).all()
    assert np.ptp(factors) > 0.05
    cosine = (after * before).sum(-1) / np.linalg.norm(after, axis=-1) / np.linalg.norm(before, axis=-1)
    np.testing.assert_allclose(cosine[np.isfinite(cosine)], 1.0, atol=1e-5)
    np.testing.assert_array_equal(scaled.keypoints[:, NECK], poses.keypoints[:, NECK])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AugmentConfig(drop_joint=1.5), "drop_joint must be a probability"),
        (lambda: AugmentConfig(jitter=-1), "jitter must be a number of pixels >= 0"),
        (lambda: AugmentConfig(limb_scale=1.0), r"limb_scale must be in \[0, 1\)"),
        (lambda: augment_poses(_walk(), "seed"), "rng must be a numpy.random.Generator or an integer"),
        (lambda: augment_poses(_walk().to_layout("coco_17"), 0), "augment_poses needs BODY_18"),
    ],
)
def test_bad_input_is_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
