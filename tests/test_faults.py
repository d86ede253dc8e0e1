"""Bad input that used to cost memory, a traceback or finished work: absurd canvases and coordinates,
output paths that cannot be folders, weight files that are not what they claim (a malicious pickle among
them). Each is one line, before any model loads. (Damaged checkpoints: tests/test_train_core.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit.cli import main
from toolkit.errors import PoseFormatError, ToolkitError
from toolkit.pose.io import save_poses
from toolkit.pose.sequence import MAX_CANVAS, PoseSequence

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def one_line_error(capsys, argv: list[str], code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def pose_file(path: Path, width: int, height: int, x: float = 10.0) -> Path:
    """A one-frame pose file that states a ``width`` x ``height`` canvas, its nose at ``(x, 10)``."""
    save_poses(path, PoseSequence(np.zeros((1, 18, 3)), 64, 64))
    document = json.loads(path.read_text())
    document["canvas"] = {"width": width, "height": height}
    document["frames"][0][0] = [x, 10.0, 1.0]
    path.write_text(json.dumps(document))
    return path


# ---- canvases and coordinates ------------------------------------------------------------------------


def test_a_canvas_past_the_limit_is_one_line_and_allocates_nothing(tmp_path, capsys):
    huge = pose_file(tmp_path / "huge.json", 60000, 60000)
    err = one_line_error(capsys, ["poses", "render", str(huge), "-o", str(tmp_path / "a.mp4")])
    assert "60000 pixels is more than the 16384" in err and not (tmp_path / "a.mp4").exists()
    with pytest.raises(PoseFormatError, match="canvas.width"):
        PoseSequence(np.zeros((1, 18, 3)), MAX_CANVAS + 1, 64)
    PoseSequence(np.zeros((1, 18, 3)), MAX_CANVAS, 64)  # the limit itself is allowed
    with pytest.raises(SystemExit):  # argparse's usage line, then the reason
        main(["poses", "render", str(huge), "--canvas", "20000x100", "-o", "b.mp4"])
    assert "--canvas: sizes are at most 16384 pixels on a side" in capsys.readouterr().err


def test_a_finite_but_absurd_coordinate_is_one_line_naming_the_joint(tmp_path, capsys):
    far = pose_file(tmp_path / "far.json", 640, 480, x=1e30)
    err = one_line_error(capsys, ["poses", "render", str(far), "-o", str(tmp_path / "a.mp4")])
    assert "more than 4 canvas sizes outside the 640x480 canvas" in err and "nose" in err
    near = np.zeros((1, 18, 3), np.float32)
    near[0, 0] = (-4 * 640, 5 * 480, 1.0)  # off the canvas, but within reach: a limb leaving the frame
    PoseSequence(near, 640, 480)
    near[0, 0, 0] = -4 * 640 - 1
    with pytest.raises(PoseFormatError, match="keypoints\\[0\\]"):
        PoseSequence(near, 640, 480)


# ---- output folders ------------------------------------------------------------------------------------


def test_generate_into_a_file_fails_before_any_model_loads(tmp_path, capsys, monkeypatch):
    import toolkit.diffusion.job as job

    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(job, "load_pipeline", no_loading)
    walk = tmp_path / "walk.json"
    assert main(["poses", "make", "walk", "--frames", "2", "--size", "64", "-o", str(walk)]) == 0
    capsys.readouterr()
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out in (afile, afile / "run"):
        argv = ["generate", "--base", "tiny", "--poses", str(walk), "--size", "64", "-o", str(out)]
        err = one_line_error(capsys, argv)
        assert f"{afile} is a file, not a folder" in err
    assert afile.read_text() == "keep me"


# ---- weight files --------------------------------------------------------------------------------------


class _Marker:
    """Unpickling this calls ``open(path, "w")``: what a malicious weights file would do."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def evil(tmp_path) -> tuple[Path, Path]:
    """A ``.pt`` file whose full unpickling would create ``marker``; and that marker's path."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weight": _Marker(marker)}, path)
    assert not marker.exists()
    return path, marker


def test_malicious_pickles_are_refused_at_every_entry_point(evil, tmp_path):
    from toolkit.eval.metrics.lpips import read_heads
    from toolkit.nn.backbones import load_backbone
    from toolkit.pose.detect.openpose import _load_network
    from toolkit.weights import load_tensors

    path, marker = evil
    loaders = {
        "load_tensors": lambda: load_tensors(path),
        "VGG backbone": lambda: load_backbone("vgg19", path, ("relu1_1",)),
        "LPIPS heads": lambda: read_heads(path),
        "OpenPose body": lambda: _load_network(torch.nn.Module, path, "cpu"),
    }
    for name, load in loaders.items():
        with pytest.raises(ToolkitError) as caught:
            load()
        message = str(caught.value)
        assert str(path) in message and "weights_only" in message and "\n" not in message, name
        assert not marker.exists(), f"{name} unpickled the file"


def test_a_fid_network_that_is_not_torchscript_fails_when_the_metric_is_made(tmp_path):
    from toolkit.eval.metrics.fid import FID

    state_dict = tmp_path / "inception.pt"
    torch.save({"w": torch.zeros(1)}, state_dict)  # a zip too, but no TorchScript code
    for path in (state_dict, tmp_path / "missing.pt"):
        with pytest.raises(ToolkitError, match="FID Inception network") as caught:
            FID(inception=str(path))
        assert "\n" not in str(caught.value)
