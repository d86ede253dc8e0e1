"""Pose files that state no canvas (raw OpenPose, PATN CSV): --canvas and --canvas-from on every command
that reads poses, and the one-line error without them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.data.media import write_image
from toolkit.errors import MissingCanvasError
from toolkit.pose.io import load_poses

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _body25(x: float, y: float, scale: float) -> list[float]:
    """A standing BODY_25 person (nose at the top) at ``(x, y)``, ``scale`` pixels per unit."""
    joints = np.zeros((25, 3))
    for j in range(25):
        joints[j] = (x + scale * ((j % 5) - 2), y + scale * (j // 5) * 2, 0.9)
    return joints.flatten().round(2).tolist()


@pytest.fixture
def raw_openpose(tmp_path: Path) -> Path:
    """What OpenPose writes for a 640 x 480 video: no canvas, an empty frame, a second (small) person."""
    folder = tmp_path / "openpose"
    folder.mkdir()
    for i in range(4):
        people = (
            []
            if i == 1
            else [{"pose_keypoints_2d": _body25(500, 40, 4)}, {"pose_keypoints_2d": _body25(200 + i, 60, 20)}]
        )
        (folder / f"bikes_{i:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    return folder


def test_without_a_canvas_info_summarises_and_other_commands_name_the_flag(raw_openpose, tmp_path, capsys):
    assert main(["poses", "info", str(raw_openpose)]) == 0
    assert "unknown canvas (keypoints within x <= 243.0, y <= 180.0" in capsys.readouterr().out
    for argv in (
        ["poses", "convert", str(raw_openpose), "-o", str(tmp_path / "a.json")],
        ["poses", "render", str(raw_openpose), "-o", str(tmp_path / "a.mp4")],
        ["generate", "--base", "tiny", "--poses", str(raw_openpose), "-o", str(tmp_path / "gen")],
        ["data", "render", str(raw_openpose), "-o", str(tmp_path / "m.mp4")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--canvas WxH" in err, argv
    assert not any((tmp_path / name).exists() for name in ("a.json", "a.mp4", "gen", "m.mp4"))
    with pytest.raises(MissingCanvasError):
        load_poses(raw_openpose)


def test_canvas_reads_the_large_person_through_convert_and_generate(raw_openpose, tmp_path, capsys):
    assert (
        main(["poses", "convert", str(raw_openpose), "--canvas", "640x480", "-o", str(tmp_path / "a.json")])
        == 0
    )
    poses = load_poses(tmp_path / "a.json")
    assert poses.canvas == (640, 480) and len(poses) == 4
    assert not poses.visible[1].any()  # the empty frame stays empty
    assert 150 < np.nanmean(poses.keypoints[0, :, 0]) < 250  # the large person, not the small one at x=500
    footage = tmp_path / "frame.png"
    write_image(footage, np.zeros((480, 640, 3), np.uint8))
    out = tmp_path / "gen"
    argv = ["generate", "--base", "tiny", "--poses", str(raw_openpose), "--canvas-from", str(footage)]
    assert main([*argv, "--size", "64", "--steps", "1", "--no-progress", "-o", str(out)]) == 0
    assert len(list((out / "frames").glob("*.png"))) == 4
    assert main([*argv, "--canvas", "320x240", "-o", str(tmp_path / "x")]) == 2
    assert "disagrees with --canvas-from" in capsys.readouterr().err


def test_a_file_that_states_its_canvas_keeps_it(raw_openpose, tmp_path, capsys):
    assert (
        main(["poses", "convert", str(raw_openpose), "--canvas", "640x480", "-o", str(tmp_path / "a.json")])
        == 0
    )
    assert main(["poses", "info", str(tmp_path / "a.json"), "--canvas", "640x480"]) == 0
    assert main(["poses", "info", str(tmp_path / "a.json"), "--canvas", "320x240"]) == 2
    assert "states a 640x480 canvas but 320x240 was given" in capsys.readouterr().err


def test_patn_csv_round_trips_with_its_dataset_presets(raw_openpose, tmp_path, capsys):
    csv = tmp_path / "poses.csv"
    assert main(["poses", "convert", str(raw_openpose), "--canvas", "deepfashion", "-o", str(csv)]) == 0
    capsys.readouterr()
    assert main(["poses", "info", str(csv)]) == 0  # summarised without a canvas
    assert "unknown canvas" in capsys.readouterr().out
    assert load_poses(csv, canvas=(176, 256)).canvas == (176, 256)
    assert main(["poses", "info", str(csv), "--canvas", "market", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["canvas"] == {"width": 64, "height": 128}


BIKES = Path(__file__).parent / "data" / "bikes_openpose"  # see tests/data/make_bikes_openpose.py


def _largest_people(folder: Path) -> list[np.ndarray | None]:
    """Each frame's largest person (by keypoint bounding-box area) as ``(25, 3)``, or None."""
    largest = []
    for path in sorted(folder.glob("*_keypoints.json")):
        people = [
            np.array(p["pose_keypoints_2d"]).reshape(25, 3) for p in json.loads(path.read_text())["people"]
        ]

        def area(joints: np.ndarray) -> float:
            xy = joints[joints[:, 2] > 0, :2]
            return float(np.prod(xy.max(0) - xy.min(0)))

        largest.append(max(people, key=area) if people else None)
    return largest


def test_real_openpose_output_goes_through_info_convert_and_generate_with_a_canvas(tmp_path, capsys):
    """bikes.mp4 detections written as OpenPose writes them: BODY_25, no canvas, empty frames, and two
    people in some frames. The person read is the large one, frame by frame."""
    assert main(["poses", "info", str(BIKES)]) == 0
    assert "48 frames" in capsys.readouterr().out
    converted = tmp_path / "bikes.json"
    assert main(["poses", "convert", str(BIKES), "--canvas", "640x272", "-o", str(converted)]) == 0
    poses = load_poses(converted)
    assert poses.canvas == (640, 272) and len(poses) == 48
    largest = _largest_people(BIKES)
    two = [t for t, f in enumerate(sorted(BIKES.iterdir())) if len(json.loads(f.read_text())["people"]) == 2]
    assert sum(p is None for p in largest) == 15 and len(two) == 16  # the small one listed first
    checked = 0
    for t, person in enumerate(largest):
        if person is None:
            assert not poses.visible[t].any()  # an empty frame stays empty
            continue
        if person[0, 2] > 0:  # BODY_18's nose is BODY_25's
            np.testing.assert_allclose(poses.keypoints[t, 0, :2], person[0, :2], atol=1e-3)
            checked += t in two
    assert checked >= 10  # frames where the small person, listed first, was passed over

    out = tmp_path / "gen"
    argv = ["generate", "--base", "tiny", "--poses", str(BIKES), "--canvas", "640x272", "--size", "64"]
    assert main([*argv, "--steps", "1", "--batch", "8", "--no-progress", "-o", str(out)]) == 0
    assert len(list((out / "frames").glob("*.png"))) == 48


def test_canvas_text_parses_the_same_for_every_front_end():
    from toolkit.pose.canvas import parse_canvas, parse_size

    assert parse_size("512") == (512, 512) and parse_size(" 640 x 480 ") == (640, 480)
    assert parse_canvas("Market") == (64, 128)
    for text, message in (
        ("wide", "expected a size like 512"),
        ("0x10", "must be positive"),
        ("99999", "at most"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_canvas(text)
