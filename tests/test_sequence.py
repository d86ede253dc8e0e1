import numpy as np
import pytest

from toolkit.errors import PoseFormatError
from toolkit.pose import BODY_18, PoseSequence


def _sequence(frames: int = 3, width: int = 64, height: int = 48, **kwargs) -> PoseSequence:
    rng = np.random.default_rng(0)
    kp = np.empty((frames, 18, 3), np.float32)
    kp[..., 0] = rng.uniform(0, width - 1, (frames, 18))
    kp[..., 1] = rng.uniform(0, height - 1, (frames, 18))
    kp[..., 2] = 1.0
    return PoseSequence(kp, width, height, **kwargs)


def test_missing_joints_get_nan_coordinates():
    kp = np.ones((1, 18, 3), np.float32)
    kp[0, 4] = [0.0, 0.0, 0.0]  # how OpenPose writes a missing joint
    seq = PoseSequence(kp, 10, 10)
    assert np.isnan(seq.keypoints[0, 4, :2]).all()
    assert seq.visible.sum() == 17
    assert kp[0, 4, 0] == 0.0  # the caller's array is not modified


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0}, "canvas.width"),
        ({"height": -3}, "canvas.height"),
        ({"width": 12.5}, "canvas.width"),
        ({"fps": 0.0}, "'fps'"),
        ({"layout": "body_19"}, "'layout'"),
    ],
)
def test_invalid_canvas_fps_and_layout(kwargs, message):
    args = {"keypoints": np.ones((1, 18, 3), np.float32), "width": 10, "height": 10} | kwargs
    with pytest.raises(PoseFormatError, match=message):
        PoseSequence(**args)


def test_invalid_keypoints_name_frame_and_joint():
    kp = np.ones((3, 18, 3), np.float32)
    kp[2, 6, 1] = np.nan
    with pytest.raises(PoseFormatError, match=r"frame 2: field 'keypoints\[6\] \(left_elbow\)'"):
        PoseSequence(kp, 10, 10)
    kp[2, 6, 1] = 1.0
    kp[1, 0, 2] = -0.5
    with pytest.raises(PoseFormatError, match=r"frame 1: .*confidence"):
        PoseSequence(kp, 10, 10)
    with pytest.raises(PoseFormatError, match=r"expected shape \(frames, 18, 3\)"):
        PoseSequence(np.ones((3, 17, 3)), 10, 10)
    with pytest.raises(PoseFormatError, match="depth"):
        PoseSequence(np.ones((3, 18, 3)), 10, 10, depth=np.zeros((3, 17)))


def test_error_can_be_attributed_to_a_file():
    with pytest.raises(PoseFormatError) as info:
        PoseSequence(np.ones((1, 18, 3)), 0, 10)
    assert str(info.value.at("walk.json")).startswith("walk.json: field 'canvas.width'")


def test_flip_twice_is_identity_and_swaps_sides():
    seq = _sequence()
    flipped = seq.flipped()
    right, left = BODY_18.index("right_wrist"), BODY_18.index("left_wrist")
    np.testing.assert_allclose(flipped.keypoints[:, left, 0], seq.width - 1 - seq.keypoints[:, right, 0])
    np.testing.assert_array_equal(flipped.keypoints[:, left, 1], seq.keypoints[:, right, 1])
    np.testing.assert_allclose(flipped.flipped().keypoints, seq.keypoints, atol=1e-5)


def test_flip_matches_an_image_flip():
    image = np.zeros((48, 64), np.uint8)
    seq = _sequence(frames=1)
    x, y = np.round(seq.keypoints[0, 0, :2]).astype(int)
    x, y = int(np.clip(x, 0, 63)), int(np.clip(y, 0, 47))
    image[y, x] = 1
    point = PoseSequence(np.array([[[x, y, 1.0]] * 18], np.float32), 64, 48).flipped().keypoints[0, 0]
    assert image[:, ::-1][int(point[1]), int(point[0])] == 1


def test_indexing_and_normalisation():
    seq = _sequence(frames=5, depth=np.arange(90, dtype=np.float32).reshape(5, 18))
    assert len(seq[1:3]) == 2 and len(seq[4]) == 1 and len(seq[-1]) == 1
    np.testing.assert_array_equal(seq[-1].keypoints[0], seq.keypoints[4])
    np.testing.assert_array_equal(seq[[0, 2]].depth, seq.depth[[0, 2]])
    back = PoseSequence.from_normalized(seq.normalized(), seq.width, seq.height)
    np.testing.assert_allclose(back.keypoints, seq.keypoints, rtol=1e-6)
    assert seq.duration == pytest.approx(5 / 24)


def test_fit_to_canvas_keeps_aspect_and_centres():
    kp = np.full((1, 18, 3), 1.0, np.float32)
    kp[0, :, 0], kp[0, :, 1] = 49.5, 24.5  # the centre of a 100 x 50 canvas
    kp[0, 1, :2] = [-0.5, -0.5]  # the top-left corner of the canvas
    fitted = PoseSequence(kp, 100, 50).fit_to_canvas(200, 200)
    assert fitted.canvas == (200, 200)
    np.testing.assert_allclose(fitted.keypoints[0, 0, :2], [99.5, 99.5])
    np.testing.assert_allclose(fitted.keypoints[0, 1, :2], [-0.5, 49.5])


def test_concatenate_checks_compatibility():
    a, b = _sequence(frames=2), _sequence(frames=3)
    assert len(PoseSequence.concatenate([a, b])) == 5
    with pytest.raises(ValueError, match="cannot join"):
        PoseSequence.concatenate([a, _sequence(width=32)])


def test_layout_conversion_drops_depth():
    seq = _sequence(depth=np.zeros((3, 18), np.float32))
    mpii = seq.to_layout("mpii_14")
    assert mpii.layout == "mpii_14" and mpii.keypoints.shape == (3, 14, 3) and mpii.depth is None
    assert seq.to_layout("body_18") is seq
