import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.errors import PoseFormatError
from toolkit.pose import BODY_18, SKELETONS, PoseSequence
from toolkit.pose.io import (
    VISIBILITY_CONFIDENCE,
    choose_person,
    detect_coordinates,
    load_poses,
    read_coco_keypoints,
    read_openpose,
    read_patn_csv,
    read_sequence_json,
    save_poses,
    write_openpose,
    write_patn_csv,
    write_sequence_json,
)
from toolkit.pose.skeleton import BODY_25, COCO_17

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _poses(
    frames: int = 3, width: int = 64, height: int = 128, depth: bool = False, **kwargs
) -> PoseSequence:
    """Random poses inside the canvas with a few missing joints."""
    rng = np.random.default_rng(0)
    kp = np.empty((frames, 18, 3), np.float32)
    kp[..., 0] = rng.uniform(0, width - 1, (frames, 18))
    kp[..., 1] = rng.uniform(0, height - 1, (frames, 18))
    kp[..., 2] = rng.uniform(0.05, 1.0, (frames, 18))
    kp[0, 4, 2] = 0.0
    kp[-1, 10:12, 2] = 0.0
    d = rng.uniform(2.0, 4.0, (frames, 18)).astype(np.float32) if depth else None
    return PoseSequence(kp, width, height, depth=d, **kwargs)


def _flat(keypoints: np.ndarray) -> list[float]:
    """``(J, 3)`` -> OpenPose's flat list, missing joints as 0, 0, 0."""
    return np.where(keypoints[:, 2:3] > 0, keypoints, 0.0).ravel().tolist()


def _frame(*people: np.ndarray, **extra: object) -> dict:
    return {"version": 1.3, "people": [{"pose_keypoints_2d": _flat(p)} for p in people], **extra}


def _write(path: Path, value: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def _box_person(x0: float, y0: float, size: float, confidence: float, joints: int = 18) -> np.ndarray:
    """A person whose first ``joints`` joints spread over a ``size`` x ``size`` box at (x0, y0)."""
    kp = np.zeros((18, 3), np.float32)
    t = np.linspace(0, 1, 18)
    kp[:, 0], kp[:, 1], kp[:, 2] = x0 + size * t, y0 + size * t[::-1], confidence
    kp[joints:] = 0.0
    return kp


# ---- OpenPose --------------------------------------------------------------------------------------------


def test_openpose_body_18_round_trip(tmp_path):
    poses = _poses(frames=4, fps=12.5)
    keypoints = poses.keypoints.copy()
    keypoints[2, :, 2] = 0.0  # nobody in frame 2
    poses = PoseSequence(keypoints, 64, 128, fps=12.5)

    files = write_openpose(tmp_path / "walk", poses)

    assert [f.name for f in files] == [f"walk_{i:012d}_keypoints.json" for i in range(4)]
    assert sorted(p.name for p in (tmp_path / "walk").iterdir()) == [f.name for f in files]  # no temp files
    first = json.loads(files[0].read_text())
    assert (first["version"], first["canvas_width"], first["canvas_height"]) == (1.3, 64, 128)
    pose = first["people"][0]["pose_keypoints_2d"]
    assert len(pose) == 54 and pose[12:15] == [0.0, 0.0, 0.0]  # joint 4 is missing in frame 0
    assert json.loads(files[2].read_text())["people"] == []

    back = read_openpose(tmp_path / "walk", fps=12.5)
    assert back.canvas == (64, 128) and back.fps == 12.5 and back.layout == "body_18"
    np.testing.assert_array_equal(back.keypoints, poses.keypoints)  # float32 digits: exact
    assert not back.visible[2].any()


def test_openpose_rewrite_removes_frames_of_a_longer_sequence(tmp_path):
    write_openpose(tmp_path / "out", _poses(frames=5), stem="clip")
    write_openpose(tmp_path / "out", _poses(frames=2), stem="clip")
    assert len(list((tmp_path / "out").iterdir())) == 2
    assert len(read_openpose(tmp_path / "out")) == 2


def test_openpose_body_25_is_converted_to_body_18(tmp_path):
    body_25 = np.zeros((25, 3), np.float32)
    for j in range(25):
        body_25[j] = (10 + 3 * j, 20 + 2 * j, 0.5 + j / 100)
    body_25[BODY_25.index("left_knee"), :] = 0.0  # missing, as OpenPose writes it
    _write(tmp_path / "f.json", {"people": [{"pose_keypoints_2d": body_25.ravel().tolist()}]})

    poses = read_openpose(tmp_path / "f.json", width=200, height=300)

    assert poses.keypoints.shape == (1, 18, 3)
    for j, name in enumerate(BODY_18.joints):
        source = body_25[BODY_25.index(name)]
        if name == "left_knee":
            assert poses.keypoints[0, j, 2] == 0 and np.isnan(poses.keypoints[0, j, :2]).all()
        else:
            np.testing.assert_allclose(poses.keypoints[0, j], source, rtol=1e-6)


@pytest.mark.parametrize("mode", ["pixel", "unit", "signed"])
def test_openpose_coordinate_modes(tmp_path, mode):
    width, height = 200, 100
    pixels = _poses(frames=2, width=width, height=height).keypoints
    stored = pixels.copy()
    size = np.array([width, height], np.float32)
    if mode == "unit":
        stored[..., :2] = pixels[..., :2] / size
    elif mode == "signed":
        stored[..., :2] = pixels[..., :2] / (size - 1) * 2 - 1
    _write(tmp_path / "f.json", [_frame(p, canvas_width=width, canvas_height=height) for p in stored])

    assert detect_coordinates(stored) == mode
    for coords in (mode, "auto"):
        poses = read_openpose(tmp_path / "f.json", coords=coords)
        np.testing.assert_allclose(poses.keypoints, pixels, atol=1e-3)


def test_coordinate_detection_is_conservative():
    kp = np.zeros((2, 18, 3), np.float32)
    kp[..., :2], kp[..., 2] = 0.5, 1.0
    assert detect_coordinates(kp) == "unit"
    kp[0, 0, :2] = -0.5
    assert detect_coordinates(kp) == "signed"
    kp[1, 17, 0] = 1.5  # one value outside [-1, 1] anywhere: pixels
    assert detect_coordinates(kp) == "pixel"
    kp[1, 17] = (300.0, 300.0, 0.0)  # missing joints do not count
    assert detect_coordinates(kp) == "signed"
    assert detect_coordinates(np.zeros((1, 18, 3))) == "pixel"


def test_openpose_person_choosers(tmp_path):
    small_sure = _box_person(10, 10, 10, confidence=1.0)
    large_unsure = _box_person(100, 100, 100, confidence=0.3)
    two_joints = _box_person(300, 300, 5, confidence=1.0, joints=2)
    _write(tmp_path / "f.json", _frame(small_sure, large_unsure, two_joints))

    def chosen(person):
        return read_openpose(tmp_path / "f.json", person=person, width=512, height=512).keypoints[0]

    np.testing.assert_allclose(chosen("largest"), large_unsure)
    np.testing.assert_allclose(chosen("most_confident"), small_sure)
    np.testing.assert_allclose(chosen(2)[:2], two_joints[:2])
    with pytest.raises(ValueError, match="person must be"):
        chosen("tallest")


def test_choose_person_on_arrays():
    people = np.stack([_box_person(0, 0, 10, 0.9), _box_person(0, 0, 50, 0.2)])
    assert choose_person(people, "largest") == 1
    assert choose_person(people, "most_confident") == 0
    assert choose_person(people, 1) == 1
    assert choose_person(people, 2) is None
    assert choose_person(people[:0], "largest") is None


def test_frames_without_the_chosen_person_are_missing(tmp_path):
    one, two = _box_person(10, 10, 20, 1.0), _box_person(50, 50, 20, 1.0)
    _write(tmp_path / "f.json", [_frame(one, two), _frame(one), _frame(), _frame(two, one)])

    poses = read_openpose(tmp_path / "f.json", person=1, width=100, height=100)

    assert poses.visible.any(-1).tolist() == [True, False, False, True]
    np.testing.assert_allclose(poses.keypoints[3], one)


def test_openpose_threshold(tmp_path):
    person = _box_person(10, 10, 40, confidence=0.9)
    person[[3, 7], 2] = 0.2
    _write(tmp_path / "f.json", _frame(person))

    poses = read_openpose(tmp_path / "f.json", threshold=0.5, width=64, height=64)
    assert poses.visible[0].sum() == 16 and not poses.visible[0, [3, 7]].any()
    assert read_openpose(tmp_path / "f.json", threshold=0.2, width=64, height=64).visible.sum() == 18
    with pytest.raises(PoseFormatError, match=r"confidence >= 0\.95"):
        read_openpose(tmp_path / "f.json", threshold=0.95, width=64, height=64)
    with pytest.raises(ValueError, match="threshold"):
        read_openpose(tmp_path / "f.json", threshold=-1, width=64, height=64)


def test_openpose_folder_in_natural_order(tmp_path):
    for index in (10, 2, 1):
        _write(tmp_path / f"clip_{index}_keypoints.json", _frame(_box_person(index, 5, 10, 1.0)))
    _write(tmp_path / "notes.json", {"unrelated": True})

    poses = read_openpose(tmp_path, width=64, height=64)

    assert poses.keypoints[:, 0, 0].tolist() == [1.0, 2.0, 10.0]


def test_openpose_canvas_from_file_and_arguments(tmp_path):
    frame = _frame(_box_person(1, 1, 30, 1.0), canvas_width=320, canvas_height=240)
    path = _write(tmp_path / "f.json", frame)
    assert read_openpose(path).canvas == (320, 240)
    assert read_openpose(path, width=320, height=240).canvas == (320, 240)
    with pytest.raises(PoseFormatError, match="states a 320x240 canvas"):
        read_openpose(path, width=512, height=512)

    bare = _write(tmp_path / "bare.json", _frame(_box_person(1, 1, 30, 1.0)))
    assert read_openpose(bare, width=64, height=48).canvas == (64, 48)
    with pytest.raises(PoseFormatError, match="states no canvas size; give it: --canvas WxH"):
        read_openpose(bare)

    other = _frame(_box_person(1, 1, 30, 1.0), canvas_width=512, canvas_height=512)
    mixed = _write(tmp_path / "mixed.json", [frame, other])
    with pytest.raises(PoseFormatError, match=r"frame 1: field 'canvas_width': canvas 512x512 differs"):
        read_openpose(mixed)


def test_openpose_nan_for_a_missing_joint_is_accepted(tmp_path):
    values = _flat(_box_person(5, 5, 20, 1.0))
    values[9:12] = [float("nan"), float("nan"), 0.0]
    _write(tmp_path / "f.json", json.dumps({"people": [{"pose_keypoints_2d": values}]}))
    poses = read_openpose(tmp_path / "f.json", width=64, height=64)
    assert poses.visible[0].sum() == 17 and not poses.visible[0, 3]


# ---- toolkit sequence JSON -------------------------------------------------------------------------------


def test_sequence_json_exact_round_trip(tmp_path):
    poses = _poses(frames=4, width=96, height=160, depth=True, fps=12.5)

    write_sequence_json(tmp_path / "walk.json", poses)
    text = (tmp_path / "walk.json").read_text()
    back = read_sequence_json(tmp_path / "walk.json")

    np.testing.assert_array_equal(back.keypoints, poses.keypoints)
    visible = poses.visible
    np.testing.assert_array_equal(back.depth[visible], poses.depth[visible])
    assert np.isnan(back.depth[~visible]).all()
    assert (back.fps, back.canvas, back.layout) == (12.5, (96, 160), "body_18")
    # Strict JSON with one frame per line, missing joints as [null, null, 0].
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the file"))
    assert data["frames"][0][4] == [None, None, 0] and data["depth"][0][4] is None
    assert sum(line.startswith("    [[") for line in text.splitlines()) == 4


def test_sequence_json_other_layout_and_no_depth(tmp_path):
    poses = _poses(frames=2).to_layout("coco_17")
    write_sequence_json(tmp_path / "coco.json", poses)
    back = read_sequence_json(tmp_path / "coco.json")
    assert back.layout == "coco_17" and back.depth is None
    np.testing.assert_array_equal(back.keypoints, poses.keypoints)


def test_documented_example_and_schema():
    example = DOCS / "examples" / "pose-example.json"
    poses = read_sequence_json(example)
    assert len(poses) == 3 and poses.layout == "body_18" and poses.depth is not None
    assert load_poses(example).canvas == poses.canvas

    schema = json.loads((DOCS / "pose-format.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["format"]["const"] == json.loads(example.read_text())["format"]
    assert set(schema["required"]) <= set(json.loads(example.read_text())) <= set(schema["properties"])
    assert schema["properties"]["layout"]["enum"] == list(SKELETONS)


# ---- COCO ------------------------------------------------------------------------------------------------


def _coco_person(x0: float, size: float, flags: int = 2) -> list[float]:
    values = []
    for j in range(17):
        values += [x0 + size * j / 16, 10 + size * j / 16, flags]
    return values


def test_coco_dataset_style(tmp_path):
    small, large = _coco_person(0, 20), _coco_person(100, 200)
    shoulder = COCO_17.index("left_shoulder")
    occluded = list(large)
    occluded[3 * shoulder + 2] = 1
    unlabelled = list(small)
    unlabelled[3 * shoulder : 3 * shoulder + 3] = [0, 0, 0]
    data = {
        "images": [
            {"id": 7, "width": 640, "height": 480},
            {"id": 3, "width": 640, "height": 480},
            {"id": 9, "width": 640, "height": 480},
        ],
        "annotations": [
            {"image_id": 7, "keypoints": small},
            {"image_id": 7, "keypoints": occluded},
            {"image_id": 9, "keypoints": unlabelled},
        ],
    }
    ids, poses = read_coco_keypoints(_write(tmp_path / "person_keypoints.json", data))

    assert ids == [7, 3, 9] and poses.canvas == (640, 480)
    assert poses.visible.any(-1).tolist() == [True, False, True]  # image 3 has nobody
    neck, left_shoulder = BODY_18.index("neck"), BODY_18.index("left_shoulder")
    # Image 7: the larger person; the occluded shoulder has the documented confidence, the neck the smaller.
    assert poses.keypoints[0, BODY_18.index("nose"), 0] == 100
    assert poses.keypoints[0, left_shoulder, 2] == VISIBILITY_CONFIDENCE[1] == 0.5
    assert poses.keypoints[0, neck, 2] == 0.5
    # Image 9: one shoulder unlabelled, so no neck.
    assert not poses.visible[2, left_shoulder] and not poses.visible[2, neck]
    assert poses.keypoints[2, BODY_18.index("right_shoulder"), 2] == VISIBILITY_CONFIDENCE[2] == 1.0


def test_coco_results_style_and_canvas(tmp_path):
    results = [
        {"image_id": 5, "category_id": 1, "keypoints": _coco_person(0, 30), "score": 0.9},
        {"image_id": 2, "category_id": 1, "keypoints": _coco_person(50, 10), "score": 0.8},
        {"image_id": 5, "category_id": 1, "keypoints": _coco_person(100, 90), "score": 0.7},
    ]
    path = _write(tmp_path / "results.json", results)
    ids, poses = read_coco_keypoints(path, width=320, height=240)
    assert ids == [5, 2] and poses.keypoints[:, 0, 0].tolist() == [100, 50]
    with pytest.raises(PoseFormatError, match="states no canvas size; give it: --canvas WxH"):
        read_coco_keypoints(path)

    images = [{"id": 1, "width": 640, "height": 480}, {"id": 2, "width": 320, "height": 240}]
    annotations = [{"image_id": 1, "keypoints": _coco_person(0, 30)}]
    path = _write(tmp_path / "mixed.json", {"images": images, "annotations": annotations})
    with pytest.raises(PoseFormatError, match=r"frame 1: field 'images.width': canvas 320x240 differs"):
        read_coco_keypoints(path)


# ---- PATN ------------------------------------------------------------------------------------------------


def test_patn_round_trip_at_integer_precision(tmp_path):
    poses = _poses(frames=3, width=64, height=128)
    names = ["0001_c1s1_001051_00.jpg", "0002_c1s1_000451_03.jpg", "0003_c3s3_064744_01.jpg"]

    write_patn_csv(tmp_path / "market-annotation-test.csv", poses, names=names)
    lines = (tmp_path / "market-annotation-test.csv").read_text().splitlines()
    read_names, back = read_patn_csv(tmp_path / "market-annotation-test.csv", width=64, height=128)

    assert lines[0] == "name:keypoints_y:keypoints_x" and len(lines) == 4
    assert lines[1].startswith(f"{names[0]}: [") and ", -1," in lines[1]
    assert read_names == names and back.canvas == (64, 128)
    np.testing.assert_array_equal(back.visible, poses.visible)
    error = np.abs(back.keypoints[..., :2] - poses.keypoints[..., :2])[poses.visible]
    assert error.max() <= 0.5
    assert (back.keypoints[..., 2][back.visible] == 1).all()
    # Integer poses come back exactly.
    write_patn_csv(tmp_path / "again.csv", back, names=read_names)
    np.testing.assert_array_equal(
        read_patn_csv(tmp_path / "again.csv", width=64, height=128)[1].keypoints, back.keypoints
    )


def test_patn_off_canvas_joints_and_missing_canvas(tmp_path):
    keypoints = np.ones((1, 18, 3), np.float32) * 10
    keypoints[0, 0, :2] = (-3, 10)  # off the left edge
    keypoints[0, 1, :2] = (63.6, 10)  # rounds to 64, one past the last column
    write_patn_csv(tmp_path / "a.csv", PoseSequence(keypoints, 64, 128))
    names, back = read_patn_csv(tmp_path / "a.csv", width=64, height=128)
    assert names == ["000000.jpg"]
    assert back.visible[0].tolist() == [False, False] + [True] * 16
    with pytest.raises(ValueError, match="--canvas market \\(64x128\\)"):
        read_patn_csv(tmp_path / "a.csv")


# ---- entry points ----------------------------------------------------------------------------------------


def test_load_poses_recognises_every_format(tmp_path):
    poses = _poses(frames=2, width=64, height=128)
    save_poses(tmp_path / "walk.json", poses)
    save_poses(tmp_path / "frames", poses)
    save_poses(tmp_path / "pairs.csv", poses)
    _write(tmp_path / "single.json", _frame(_box_person(2, 2, 40, 1.0), canvas_width=64, canvas_height=128))
    _write(tmp_path / "coco.json", [{"image_id": 1, "keypoints": _coco_person(0, 40), "score": 1.0}])

    np.testing.assert_array_equal(load_poses(tmp_path / "walk.json").keypoints, poses.keypoints)
    np.testing.assert_array_equal(load_poses(tmp_path / "frames").keypoints, poses.keypoints)
    assert load_poses(tmp_path / "pairs.csv", width=64, height=128).visible.tolist() == poses.visible.tolist()
    assert load_poses(tmp_path / "single.json").canvas == (64, 128)
    assert load_poses(tmp_path / "coco.json", width=64, height=64).visible.sum() == 18
    assert (tmp_path / "frames" / "frames_000000000001_keypoints.json").is_file()


def test_load_and_save_reject_bad_arguments(tmp_path):
    poses = _poses(frames=1)
    save_poses(tmp_path / "walk.json", poses)
    with pytest.raises(ValueError, match="toolkit reader has no option 'person'"):
        load_poses(tmp_path / "walk.json", person=0)
    with pytest.raises(ValueError, match="unknown pose format 'bvh'"):
        load_poses(tmp_path / "walk.json", format="bvh")
    with pytest.raises(ValueError, match="cannot tell the pose format"):
        save_poses(tmp_path / "walk.yaml", poses)
    with pytest.raises(ValueError, match="does not write"):
        save_poses(tmp_path / "walk.json", poses, format="coco")
    _write(tmp_path / "other.json", {"hello": "world"})
    with pytest.raises(PoseFormatError, match="other.json: not a pose file"):
        load_poses(tmp_path / "other.json")


def test_reading_never_modifies_input(tmp_path):
    folder = tmp_path / "frames"
    write_openpose(folder, _poses(frames=3))
    save_poses(tmp_path / "walk.json", _poses(frames=3, depth=True))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}

    load_poses(folder, threshold=0.5)
    load_poses(tmp_path / "walk.json")

    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


# ---- malformed input: one line naming the file, the frame and the field ----------------------------------


def _folder(tmp_path: Path, *frames: object) -> Path:
    for t, frame in enumerate(frames):
        _write(tmp_path / "clip" / f"clip_{t}_keypoints.json", frame)
    return tmp_path / "clip"


def _good() -> dict:
    return _frame(_box_person(5, 5, 30, 1.0), canvas_width=64, canvas_height=64)


def _case_invalid_json(tmp_path):
    _folder(tmp_path, _good(), '{"people": [{"pose_keypoints_2d": [1, 2,')
    return tmp_path / "clip", "clip_1_keypoints.json", 1, None, "invalid JSON"


def _case_wrong_keypoint_count(tmp_path):
    _write(tmp_path / "pose.json", {"people": [{"pose_keypoints_2d": [1.0] * 51}]})
    return tmp_path / "pose.json", "pose.json", 0, "people[0].pose_keypoints_2d", "got 51"


def _case_nan_for_present_joint(tmp_path):
    values = _flat(_box_person(5, 5, 30, 1.0))
    values[9] = float("nan")  # x of joint 3, confidence 1
    text = json.dumps([_good(), {"people": [{"pose_keypoints_2d": values}]}])
    _write(tmp_path / "editor.json", text)
    return (
        tmp_path / "editor.json",
        "editor.json",
        1,
        "people[0].pose_keypoints_2d joint 3 (right_elbow)",
        "NaN",
    )


def _case_non_positive_canvas(tmp_path):
    bad = _good() | {"canvas_width": 0}
    _folder(tmp_path, _good(), _good(), bad)
    return tmp_path / "clip", "clip_2_keypoints.json", 2, "canvas_width", "positive integer, got 0"


def _case_no_people_in_single_frame(tmp_path):
    _write(tmp_path / "empty.json", {"version": 1.3, "people": []})
    return tmp_path / "empty.json", "empty.json", 0, "people", "no people in its only frame"


def _case_no_people_in_any_frame(tmp_path):
    _folder(tmp_path, {"people": []}, {"people": []})
    return tmp_path / "clip", "clip", None, "people", "no people in any of its 2 frames"


def _case_unknown_format_version(tmp_path):
    data = json.loads((DOCS / "examples" / "pose-example.json").read_text()) | {"format": "toolkit.poses/2"}
    _write(tmp_path / "walk.json", data)
    return tmp_path / "walk.json", "walk.json", None, "format", "unknown format version 'toolkit.poses/2'"


def _case_empty_folder(tmp_path):
    (tmp_path / "clip").mkdir()
    return tmp_path / "clip", "clip", None, None, "no *_keypoints.json files"


def _case_missing_file(tmp_path):
    return tmp_path / "nowhere.json", "nowhere.json", None, None, "no such file"


def _case_string_for_number(tmp_path):
    values: list = _flat(_box_person(5, 5, 30, 1.0))
    values[4] = "12.5"
    _write(
        tmp_path / "pose.json",
        {"people": [{"pose_keypoints_2d": values}], "canvas_width": 64, "canvas_height": 64},
    )
    return tmp_path / "pose.json", "pose.json", 0, "people[0].pose_keypoints_2d[4]", 'got "12.5"'


def _case_string_in_sequence_json(tmp_path):
    data = json.loads((DOCS / "examples" / "pose-example.json").read_text())
    data["frames"][1][2][0] = "216"
    _write(tmp_path / "walk.json", data)
    return tmp_path / "walk.json", "walk.json", 1, "frames[1][2][0]", 'got "216"'


def _case_string_canvas_in_sequence_json(tmp_path):
    data = json.loads((DOCS / "examples" / "pose-example.json").read_text())
    data["canvas"]["height"] = "512"
    _write(tmp_path / "walk.json", data)
    return tmp_path / "walk.json", "walk.json", None, "canvas.height", 'got "512"'


def _case_sequence_json_nan(tmp_path):
    text = (
        (DOCS / "examples" / "pose-example.json")
        .read_text()
        .replace("[206.0, 215.0, 1.0]", "[NaN, 215.0, 1.0]")
    )
    _write(tmp_path / "walk.json", text)
    return tmp_path / "walk.json", "walk.json", 0, "frames[0][3] (right_elbow)", "NaN"


def _case_patn_wrong_count(tmp_path):
    _write(tmp_path / "a.csv", "name:keypoints_y:keypoints_x\na.jpg: [1, 2]: [3, 4]\n")
    return tmp_path / "a.csv", "a.csv", 0, "keypoints_y", "expected 18 values"


def _case_coco_bad_visibility(tmp_path):
    values = _coco_person(0, 20)
    values[3 * 5 + 2] = 3
    _write(
        tmp_path / "coco.json",
        {
            "images": [{"id": 1, "width": 64, "height": 64}],
            "annotations": [{"image_id": 1, "keypoints": values}],
        },
    )
    return tmp_path / "coco.json", "coco.json", 0, "annotations[0].keypoints joint 5 (left_shoulder)", "got 3"


@pytest.mark.parametrize(
    "case",
    [
        _case_invalid_json,
        _case_wrong_keypoint_count,
        _case_nan_for_present_joint,
        _case_non_positive_canvas,
        _case_no_people_in_single_frame,
        _case_no_people_in_any_frame,
        _case_unknown_format_version,
        _case_empty_folder,
        _case_missing_file,
        _case_string_for_number,
        _case_string_in_sequence_json,
        _case_string_canvas_in_sequence_json,
        _case_sequence_json_nan,
        _case_patn_wrong_count,
        _case_coco_bad_visibility,
    ],
)
def test_malformed_input_gets_one_line_naming_file_frame_and_field(tmp_path, case):
    path, file_name, frame, field, reason = case(tmp_path)
    options = {"width": 64, "height": 64} if path.suffix == ".csv" else {}

    with pytest.raises(PoseFormatError) as caught:
        load_poses(path, **options)

    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.path is not None and caught.value.path.name == file_name
    assert message.startswith(str(caught.value.path))
    assert caught.value.frame == frame and caught.value.field == field
    if frame is not None:
        assert f": frame {frame}:" in message
    if field is not None:
        assert f"field {field!r}" in message
    assert reason in message
