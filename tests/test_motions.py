import numpy as np
import pytest

from toolkit.pose import BODY_18, BodyProportions
from toolkit.pose.motions import (
    CAMERA_DISTANCE,
    MOTIONS,
    Curve,
    Motion,
    keyed,
    list_motions,
    make_motion,
    motion_joints_3d,
    sinusoid,
)
from toolkit.pose.proportions import PROPORTION_BONES

NAMES = ["walk", "run", "wave", "jumping_jack", "squat", "dance", "turn"]
BODY_JOINTS = list(range(1, 14))  # neck, arms and legs: everything but the face
FACE = ["nose", "right_eye", "left_eye", "right_ear", "left_ear"]
J = BODY_18.index


def _length(points: np.ndarray, a: str, b: str) -> np.ndarray:
    return np.linalg.norm(points[..., J(a), :] - points[..., J(b), :], axis=-1)


def _torso(points: np.ndarray) -> np.ndarray:
    mid_hip = (points[..., J("right_hip"), :] + points[..., J("left_hip"), :]) / 2
    return np.linalg.norm(points[..., J("neck"), :] - mid_hip, axis=-1)


def test_registry_lists_the_seven_motions():
    assert list_motions() == NAMES
    assert list(MOTIONS) == NAMES


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("width", "height"), [(512, 512), (192, 512), (640, 256)])
def test_every_motion_is_complete_and_inside_the_canvas(name, width, height):
    seq = make_motion(name, frames=48, fps=24.0, width=width, height=height)
    assert seq.keypoints.shape == (48, 18, 3)
    assert seq.depth is not None and seq.depth.shape == (48, 18)
    assert (seq.width, seq.height, seq.layout) == (width, height, "body_18")
    assert (seq.keypoints[:, BODY_JOINTS, 2] == 1).all()
    present = seq.visible
    x, y = seq.keypoints[..., 0][present], seq.keypoints[..., 1][present]
    # Inside the default margin of 10%, and so inside the canvas.
    tolerance = 1e-3
    assert x.min() >= 0.1 * (width - 1) - tolerance and x.max() <= 0.9 * (width - 1) + tolerance
    assert y.min() >= 0.1 * (height - 1) - tolerance and y.max() <= 0.9 * (height - 1) + tolerance
    assert np.isfinite(seq.depth).all() and (seq.depth > 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_clips_loop_seamlessly(name):
    points = make_motion(name, frames=48).keypoints[:, BODY_JOINTS, :2].astype(np.float64)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=-1).mean(-1)  # (47,) mean joint motion per frame
    wrap = np.linalg.norm(points[0] - points[-1], axis=-1).mean()
    assert wrap <= steps.max() + 1e-3  # walk repeats its stride mid-clip: one step is the wrap itself
    assert wrap <= 2 * np.median(steps)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "turn"])
def test_cycles_repeat_exactly(name):
    joints = motion_joints_3d(name, frames=60, cycles=3)
    np.testing.assert_allclose(joints[20:40], joints[:20], atol=1e-9)
    np.testing.assert_allclose(joints[40:], joints[:20], atol=1e-9)


def test_turn_goes_once_around_over_the_clip():
    joints = motion_joints_3d("turn", frames=4, fps=4 / 0.9)  # one stepping cycle
    shoulders = joints[:, J("left_shoulder")] - joints[:, J("right_shoulder")]  # figure's right -> left
    heading = np.degrees(np.arctan2(-shoulders[:, 2], shoulders[:, 0]))  # 0 facing the camera
    turned = np.diff(np.unwrap(np.radians(heading)))
    np.testing.assert_allclose(np.degrees(turned), 90.0, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_bone_lengths_are_constant_and_match_the_proportions(name):
    body = BodyProportions.sample(np.random.default_rng(1))
    joints = motion_joints_3d(name, frames=30, proportions=body, yaw=30.0, seed=4)
    for a, b, part in PROPORTION_BONES:
        np.testing.assert_allclose(_length(joints, a, b), getattr(body, part), atol=1e-9, err_msg=part)
    np.testing.assert_allclose(_torso(joints), body.torso, atol=1e-9)


def test_unnormalised_proportions_are_scaled_to_unit_height():
    body = BodyProportions(thigh=0.3, shin=0.3)
    joints = motion_joints_3d("walk", frames=4, proportions=body)
    np.testing.assert_allclose(_length(joints, "left_hip", "left_knee"), body.normalized().thigh, atol=1e-9)


def test_front_view_of_the_rest_pose_has_the_expected_bone_lengths():
    width, height = 400, 600
    seq = make_motion("walk", frames=2, width=width, height=height, yaw=0.0, amplitude=0.0)
    body = BodyProportions()
    scale = 0.8 * (height - 1)  # pixels per body height with the default margin of 0.1
    points = seq.keypoints[..., :2].astype(np.float64)
    for a, b, part in PROPORTION_BONES:
        np.testing.assert_allclose(
            _length(points, a, b), getattr(body, part) * scale, rtol=1e-4, err_msg=part
        )
    np.testing.assert_allclose(_torso(points), body.torso * scale, rtol=1e-4)
    # Standing on the bottom margin, centred, upright.
    ankles_y = points[:, [J("right_ankle"), J("left_ankle")], 1]
    np.testing.assert_allclose(ankles_y, 0.9 * (height - 1) - body.ankle_height * scale, atol=1e-3)
    np.testing.assert_allclose(points[:, J("neck"), 0], (width - 1) / 2, atol=1e-3)
    neck_height = body.ankle_height + body.shin + body.thigh + body.torso
    np.testing.assert_allclose(points[:, J("neck"), 1], 0.9 * (height - 1) - neck_height * scale, atol=1e-3)


def test_at_yaw_zero_the_figures_right_side_is_on_the_image_left():
    seq = make_motion("jumping_jack", frames=8, yaw=0.0)
    x = seq.keypoints[..., 0]
    for joint in ["shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"]:
        assert (x[:, J(f"right_{joint}")] < x[:, J(f"left_{joint}")]).all(), joint


def test_at_yaw_90_the_figure_faces_the_image_right_with_its_right_side_nearer():
    seq = make_motion("walk", frames=8, yaw=90.0, amplitude=0.0)
    x, depth = seq.keypoints[..., 0], seq.depth
    assert (x[:, J("nose")] > x[:, J("neck")]).all()
    assert (depth[:, J("right_shoulder")] < depth[:, J("left_shoulder")]).all()
    np.testing.assert_allclose(depth[:, J("left_shoulder")] - depth[:, J("right_shoulder")], 0.22, atol=1e-3)
    np.testing.assert_allclose(depth[:, J("neck")], CAMERA_DISTANCE, atol=1e-3)
    # A profile: the far eye and ear are hidden, the nose and the near eye and ear are not.
    confidence = {name: seq.keypoints[:, J(name), 2] for name in FACE}
    assert (confidence["nose"] == 1).all() and (confidence["right_eye"] == 1).all()
    assert (confidence["right_ear"] == 1).all()
    assert (confidence["left_eye"] == 0).all() and (confidence["left_ear"] == 0).all()


def test_face_goes_missing_while_turned_away():
    seq = make_motion("turn", frames=48)
    confidence = seq.keypoints[:, [J(name) for name in FACE], 2]  # (48, 5)
    assert (confidence[0] == 1).all()  # facing the camera: the whole face
    back = seq.keypoints[24]  # half a turn: seen from behind
    assert (back[[J("nose"), J("right_eye"), J("left_eye")], 2] == 0).all()
    assert np.isnan(back[[J("nose"), J("right_eye"), J("left_eye")], :2]).all()
    assert (back[[J("right_ear"), J("left_ear")], 2] == 1).all()
    hidden_nose = confidence[:, 0] == 0
    assert 0.25 < hidden_nose.mean() < 0.6  # missing for a good part of the turn, not throughout


def test_long_legs_project_longer():
    long_legs = BodyProportions(thigh=0.29, shin=0.29).normalized()
    for name in ["walk", "squat"]:
        default = make_motion(name, frames=24).keypoints
        longer = make_motion(name, frames=24, proportions=long_legs).keypoints
        for side in ["right", "left"]:
            leg = [J(f"{side}_hip"), J(f"{side}_ankle")]
            assert (
                np.linalg.norm(np.diff(longer[:, leg, :2], axis=1), axis=-1).mean()
                > 1.05 * np.linalg.norm(np.diff(default[:, leg, :2], axis=1), axis=-1).mean()
            )


def test_frames_and_fps_are_honoured():
    seq = make_motion("walk", frames=30, fps=12.5)
    assert len(seq) == 30 and seq.fps == 12.5
    # The same two seconds at twice the frame rate: every other frame is the same pose.
    slow = make_motion("walk", frames=48, fps=24.0)
    fast = make_motion("walk", frames=96, fps=48.0)
    np.testing.assert_allclose(fast.keypoints[::2], slow.keypoints, atol=0.05)
    np.testing.assert_allclose(
        motion_joints_3d("walk", frames=96, fps=48.0)[::2], motion_joints_3d("walk", 48, 24.0), atol=1e-12
    )
    # A walking stride takes about a second: two strides in two seconds, so frame 24 repeats frame 0.
    joints = motion_joints_3d("walk", frames=48, fps=24.0)
    np.testing.assert_allclose(joints[24], joints[0], atol=1e-12)
    assert np.abs(joints[12] - joints[0]).max() > 0.05


def test_same_arguments_give_the_same_clip_and_a_seed_varies_it():
    first = make_motion("dance", frames=24)
    np.testing.assert_array_equal(first.keypoints, make_motion("dance", frames=24).keypoints)
    seeded = make_motion("dance", frames=24, seed=7).keypoints
    np.testing.assert_array_equal(seeded, make_motion("dance", frames=24, seed=7).keypoints)
    assert np.nanmax(np.abs(seeded - first.keypoints)) > 1.0
    assert np.nanmax(np.abs(seeded - make_motion("dance", frames=24, seed=8).keypoints)) > 1.0


@pytest.mark.parametrize("name", ["walk", "wave", "squat", "dance", "turn"])
def test_the_lower_foot_stays_on_the_ground(name):
    body = BodyProportions()
    joints = motion_joints_3d(name, frames=40)
    lowest = joints[:, [J("right_ankle"), J("left_ankle")], 1].min(axis=1)
    np.testing.assert_allclose(lowest, body.ankle_height, atol=1e-9)


@pytest.mark.parametrize("name", ["run", "jumping_jack"])
def test_hops_leave_the_ground_and_land_again(name):
    body = BodyProportions()
    lowest = motion_joints_3d(name, frames=96)[:, [J("right_ankle"), J("left_ankle")], 1].min(axis=1)
    assert lowest.min() == pytest.approx(body.ankle_height, abs=1e-9)
    assert lowest.max() > body.ankle_height + 0.02


def test_walk_stays_in_place_and_squat_keeps_its_feet_planted():
    walk = motion_joints_3d("walk", frames=40)
    pelvis = (walk[:, J("right_hip")] + walk[:, J("left_hip")]) / 2
    np.testing.assert_allclose(pelvis[:, [0, 2]], 0.0, atol=1e-9)
    for seed in [None, 3]:  # a seed changes left and right alike, so both feet stay planted
        squat = motion_joints_3d("squat", frames=40, seed=seed)
        for ankle in ["right_ankle", "left_ankle"]:
            np.testing.assert_allclose(squat[:, J(ankle)], squat[:1, J(ankle)].repeat(40, 0), atol=1e-9)
        hips_height = squat[:, J("right_hip"), 1]
        assert hips_height.max() - hips_height.min() > 0.2  # the squat dip


def test_amplitude_zero_is_the_rest_pose_for_every_motion():
    rest = motion_joints_3d("walk", frames=1, yaw=0.0, amplitude=0.0)[0]
    for name in NAMES:
        joints = motion_joints_3d(name, frames=12, yaw=0.0, amplitude=0.0)
        if name == "turn":  # still turns on the spot
            joints = joints[:1]
        np.testing.assert_allclose(joints, rest[None].repeat(len(joints), 0), atol=1e-9, err_msg=name)
    arms = rest[[J("right_wrist"), J("left_wrist")], 1]
    assert (arms < rest[J("right_hip"), 1]).all()  # hanging


def test_jumping_jack_raises_the_arms_above_the_head():
    seq = make_motion("jumping_jack", frames=24, fps=24.0)
    y = seq.keypoints[..., 1]
    top = 12  # half a cycle: arms overhead
    assert (y[top, [J("right_wrist"), J("left_wrist")]] < y[top, J("nose")] - 0.1 * seq.height).all()
    assert (y[0, [J("right_wrist"), J("left_wrist")]] > y[0, J("neck")]).all()


def test_a_standing_figure_fills_80_percent_of_the_height_and_margin_changes_it():
    body = BodyProportions()
    for margin in [0.1, 0.25]:
        seq = make_motion("wave", frames=4, height=301, width=301, yaw=0.0, amplitude=0.0, margin=margin)
        scale = (1 - 2 * margin) * 300
        shin = _length(seq.keypoints[..., :2].astype(np.float64), "left_knee", "left_ankle")
        np.testing.assert_allclose(shin, body.shin * scale, rtol=1e-4)


def test_camera_pitch_tilts_the_view():
    level = make_motion("walk", frames=4, yaw=90.0, amplitude=0.0)
    above = make_motion("walk", frames=4, yaw=90.0, amplitude=0.0, pitch=30.0)
    # From above, the nearer (right) shoulder appears lower in the image than the far one.
    dy = lambda seq: seq.keypoints[:, J("right_shoulder"), 1] - seq.keypoints[:, J("left_shoulder"), 1]  # noqa: E731
    np.testing.assert_allclose(dy(level), 0.0, atol=1e-3)
    assert (dy(above) > 5).all()


def test_unknown_motion_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown motion 'moonwalk'.*'walk', 'run', 'wave'"):
        make_motion("moonwalk")
    with pytest.raises(ValueError, match="jumping_jack"):
        motion_joints_3d("jump")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"frames": 0}, "frames"),
        ({"frames": 2.5}, "frames"),
        ({"fps": 0.0}, "fps"),
        ({"fps": "24"}, "fps"),
        ({"width": 0}, "width"),
        ({"height": True}, "height"),
        ({"yaw": float("nan")}, "yaw"),
        ({"pitch": 90.0}, "pitch"),
        ({"amplitude": -1.0}, "amplitude"),
        ({"cycles": 0}, "cycles"),
        ({"margin": 0.5}, "margin"),
    ],
)
def test_bad_options_raise_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message):
        make_motion("walk", **options)


def test_curves_loop_and_keyed_curves_pass_near_their_keys():
    curve = keyed((0.0, 10.0), (0.25, 40.0), (0.5, 10.0), (0.75, -20.0))
    assert curve(np.array([0.0]))[0] == pytest.approx(curve(np.array([1.0]))[0])
    np.testing.assert_allclose(curve(np.array([0.0, 0.25, 0.5, 0.75])), [10, 40, 10, -20], atol=4.0)
    wave = sinusoid(5.0, 2.0, peak=0.25)
    assert wave(np.array([0.25]))[0] == pytest.approx(7.0)
    assert wave.shifted(0.5)(np.array([0.75]))[0] == pytest.approx(7.0)
    assert wave.scaled(2.0)(np.array([0.25]))[0] == pytest.approx(14.0)


def test_motion_rejects_unknown_joint_angles():
    with pytest.raises(ValueError, match="unknown joint angle.*right_wing"):
        Motion("flap", period=1.0, yaw=0.0, angles={"right_wing": Curve(10.0)})
