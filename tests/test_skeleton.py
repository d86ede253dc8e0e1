import numpy as np
import pytest

from toolkit.pose.skeleton import (
    BODY_18,
    BODY_25,
    COCO_17,
    MEDIAPIPE_33,
    OPENPOSE_COLORS,
    SKELETONS,
    conversions,
    convert_keypoints,
    get_skeleton,
)


def _random_keypoints(num_joints: int, frames: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.empty((frames, num_joints, 3), np.float32)
    kp[..., :2] = rng.uniform(0, 200, (frames, num_joints, 2))
    kp[..., 2] = rng.uniform(0.2, 1.0, (frames, num_joints))
    return kp


def test_body_18_is_openpose_coco_order():
    assert BODY_18.joints[:5] == ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist")
    assert BODY_18.joints[14:] == ("right_eye", "left_eye", "right_ear", "left_ear")
    assert len(BODY_18.limbs) == 17 and len(OPENPOSE_COLORS) == 18
    # controlnet-aux's limbSeq (1-based) begins [2, 3], [2, 6] and ends [16, 18].
    assert BODY_18.limbs[0] == (1, 2) and BODY_18.limbs[1] == (1, 5) and BODY_18.limbs[-1] == (15, 17)


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=list(SKELETONS))
def test_flip_pairs_swap_left_and_right(skeleton):
    perm = skeleton.flip_permutation()
    assert sorted(perm) == list(range(skeleton.num_joints))
    assert (perm[perm] == np.arange(skeleton.num_joints)).all()
    for i, j in enumerate(perm):
        name, twin = skeleton.joints[i], skeleton.joints[j]
        if name.startswith("left_"):
            assert twin == "right_" + name[5:]
        elif not name.startswith("right_"):
            assert i == j


def test_body_25_to_body_18_copies_named_joints():
    kp = _random_keypoints(25)
    out = convert_keypoints(kp, "body_25", "body_18")
    for j, name in enumerate(BODY_18.joints):
        np.testing.assert_array_equal(out[:, j], kp[:, BODY_25.index(name)])


def test_body_18_to_body_25_and_back_is_identity_and_mid_hip_is_the_hip_midpoint():
    kp = _random_keypoints(18)
    b25 = convert_keypoints(kp, "body_18", "body_25")
    np.testing.assert_array_equal(convert_keypoints(b25, "body_25", "body_18"), kp)
    mid = b25[:, BODY_25.index("mid_hip"), :2]
    expected = (kp[:, BODY_18.index("right_hip"), :2] + kp[:, BODY_18.index("left_hip"), :2]) / 2
    np.testing.assert_allclose(mid, expected, rtol=1e-6)
    assert (b25[:, BODY_25.index("left_heel"), 2] == 0).all()


def test_coco_neck_needs_both_shoulders():
    kp = _random_keypoints(17, frames=3)
    kp[1, COCO_17.index("left_shoulder"), 2] = 0
    kp[2, COCO_17.index("right_shoulder"), 2] = 0
    out = convert_keypoints(kp, "coco_17", "body_18")
    neck = out[:, BODY_18.index("neck")]
    expected = (kp[0, COCO_17.index("left_shoulder"), :2] + kp[0, COCO_17.index("right_shoulder"), :2]) / 2
    np.testing.assert_allclose(neck[0, :2], expected, rtol=1e-6)
    assert neck[0, 2] > 0
    assert neck[1, 2] == 0 and np.isnan(neck[1, :2]).all()
    assert neck[2, 2] == 0 and np.isnan(neck[2, :2]).all()
    # COCO's left eye is the person's left eye, as in BODY_18.
    np.testing.assert_array_equal(out[:, BODY_18.index("left_eye")], kp[:, COCO_17.index("left_eye")])


def test_mediapipe_sides_map_to_the_same_sides():
    kp = _random_keypoints(33)
    out = convert_keypoints(kp, "mediapipe_33", "body_18")
    for name in ("left_wrist", "right_ankle", "left_ear", "right_eye"):
        np.testing.assert_array_equal(out[:, BODY_18.index(name)], kp[:, MEDIAPIPE_33.index(name)])


def test_head_of_mpii_14_is_the_mean_of_present_face_joints():
    kp = _random_keypoints(18, frames=2)
    face = [BODY_18.index(n) for n in ("nose", "right_eye", "left_eye", "right_ear", "left_ear")]
    kp[1, face[1:], 2] = 0  # only the nose left in frame 1
    out = convert_keypoints(kp, "body_18", "mpii_14")
    np.testing.assert_allclose(out[0, 0, :2], kp[0, face, :2].mean(0), rtol=1e-5)
    np.testing.assert_allclose(out[1, 0, :2], kp[1, face[0], :2], rtol=1e-6)
    upper = convert_keypoints(kp, "body_18", "upper_body_7")
    assert upper.shape == (2, 7, 3)
    np.testing.assert_array_equal(upper[:, 3], kp[:, BODY_18.index("right_wrist")])


def test_missing_joints_stay_missing_with_nan_coordinates():
    kp = _random_keypoints(25)
    kp[:, BODY_25.index("left_knee"), 2] = 0
    out = convert_keypoints(kp, "body_25", "body_18")
    assert (out[:, BODY_18.index("left_knee"), 2] == 0).all()
    assert np.isnan(out[:, BODY_18.index("left_knee"), :2]).all()


def test_conversion_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"\(\.\.\., 18, 3\)"):
        convert_keypoints(np.zeros((2, 17, 3)), "body_18", "body_25")
    with pytest.raises(ValueError, match="no converter from mpii_14 to body_18"):
        convert_keypoints(np.zeros((14, 3)), "mpii_14", "body_18")
    with pytest.raises(KeyError, match="unknown keypoint layout .*; choose one of .body_18."):
        get_skeleton("body_19")
    with pytest.raises(KeyError, match="has no joint 'hand'"):
        BODY_18.index("hand")
    assert ("coco_17", "body_18") in conversions()
