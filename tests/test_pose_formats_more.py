"""Formats from the tools people already use: the A1111 openpose-editor JSON and COCO-WholeBody (DWPose)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.errors import PoseFormatError
from toolkit.pose.io import detect_format, load_poses, save_poses
from toolkit.pose.motions import make_motion
from toolkit.pose.skeleton import BODY_18

# The editor's own default pose (18 [x, y] pairs on 512 x 512), as its "Save JSON" writes it.
EDITOR_DEFAULT = [
    [241, 77], [241, 120], [191, 118], [177, 183], [163, 252], [298, 118], [317, 182], [332, 245], [225, 241],
    [213, 359], [215, 454], [270, 240], [282, 360], [286, 456], [232, 59], [253, 60], [225, 70], [260, 72],
]  # fmt: skip


def test_openpose_editor_json_reads_as_one_body_18_frame(tmp_path):
    small = [[x / 4 + 400, y / 4] for x, y in EDITOR_DEFAULT]  # a second, smaller person
    path = tmp_path / "pose.json"
    path.write_text(json.dumps({"width": 512, "height": 512, "keypoints": EDITOR_DEFAULT + small}, indent=4))
    assert detect_format(path).name == "openpose-editor"
    poses = load_poses(path)
    assert poses.canvas == (512, 512) and len(poses) == 1 and poses.layout == BODY_18.name
    np.testing.assert_array_equal(
        poses.keypoints[0, :, :2], np.array(EDITOR_DEFAULT, np.float32)
    )  # the large one
    assert (poses.keypoints[0, :, 2] == 1).all()
    assert poses.keypoints[0, BODY_18.joints.index("left_ankle"), 1] == 456


def test_openpose_editor_round_trip_and_errors(tmp_path, capsys):
    poses = make_motion("wave", frames=3, width=320, height=240)
    out = tmp_path / "one.json"
    save_poses(out, poses[1:2], format="openpose-editor")
    back = load_poses(out)
    np.testing.assert_allclose(back.keypoints[0, :, :2], poses.keypoints[1, :, :2], atol=0.01)
    assert back.canvas == (320, 240)
    with pytest.raises(ValueError, match="holds one pose"):
        save_poses(tmp_path / "many.json", poses, format="openpose-editor")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"width": 512, "height": 512, "keypoints": EDITOR_DEFAULT[:17]}))
    with pytest.raises(PoseFormatError, match="18 \\[x, y\\] pairs per person, got 17"):
        load_poses(bad)
    assert main(["poses", "info", str(bad)]) == 2 and capsys.readouterr().err.count("\n") == 1


def _wholebody(body: np.ndarray) -> list[float]:
    """133 COCO-WholeBody points: ``body`` (17, 3) then 116 foot, face and hand points far away."""
    rest = np.tile([900.0, 900.0, 0.8], (116, 1))
    return np.concatenate([body, rest]).flatten().tolist()


def test_coco_wholebody_results_keep_the_body_and_drop_the_rest(tmp_path):
    body = np.array([[100 + 3 * j, 50 + 10 * j, 0.9] for j in range(17)])
    path = tmp_path / "dwpose.json"
    detections = [{"image_id": i, "keypoints": _wholebody(body + [i, 0, 0]), "score": 0.9} for i in range(2)]
    path.write_text(json.dumps(detections))
    with pytest.raises(PoseFormatError, match="--canvas"):
        load_poses(path)
    poses = load_poses(path, canvas=(640, 480))
    assert len(poses) == 2 and poses.canvas == (640, 480)
    nose = BODY_18.joints.index("nose")
    np.testing.assert_allclose(poses.keypoints[1, nose], [101, 50, 0.9], rtol=1e-6)
    assert np.nanmax(poses.keypoints[..., :2]) < 900  # no face or hand point leaked into the body
    neck = poses.keypoints[0, BODY_18.joints.index("neck")]
    np.testing.assert_allclose(neck[:2], (body[5, :2] + body[6, :2]) / 2)  # the shoulders' midpoint
