"""``toolkit transfer``: frames, video, contact sheet and manifest from a trained baseline; reruns keep
finished frames; the source image comes from the training record or --source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.data.media import read_image, read_video
from toolkit.data.synth_dataset import SynthConfig, write_synthetic_dataset
from toolkit.pose.io import load_poses, save_poses

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A dataset, a pix2pix run and a k-NN run made by ``training/baseline.py``."""
    root = tmp_path_factory.mktemp("transfer")
    write_synthetic_dataset(root / "data", SynthConfig(1, ("walk",), 64, 64, 6), progress=False)
    from toolkit.commands import train_baseline as script

    data = ["--data", str(root / "data"), "--subject", "0", "--no-progress"]
    tiny = ["--set", "size=64", "--set", "base_channels=4", "--set", "disc_channels=4", "--steps", "2"]
    assert script.main(["--method", "pix2pix-pose2pics", *data, *tiny, "--output", str(root / "p2p")]) == 0
    assert script.main(["--method", "knn", *data, "--set", "lam=0", "--output", str(root / "knn")]) == 0
    return {"root": root, "poses": root / "data" / "subject_000" / "walk" / "poses.json"}


def _run(*args: object) -> int:
    return main(["transfer", *map(str, args)])


def test_writes_frames_video_sheet_and_manifest(trained: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run("--method", "pix2pix-pose2pics", "--checkpoint", trained["root"] / "p2p", "--poses",
                trained["poses"], "-o", out) == 0  # fmt: skip
    assert sorted(p.name for p in (out / "frames").iterdir()) == [f"{t:04d}.png" for t in range(6)]
    frames, fps = read_video(out / "video.mp4")
    assert len(frames) == 6 and frames[0].shape == (64, 64, 3) and fps == 24
    assert read_image(out / "contact_sheet.png").shape[0] > 2 * 64  # skeletons over frames
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outputs"]["complete"] and manifest["outputs"]["written"] == 6
    assert manifest["options"]["checkpoint"].endswith("p2p/final")
    assert manifest["options"]["source"].endswith("(0), frame 0")  # from training.json
    assert manifest["options"]["settings"]["size"] == 64


def test_rerun_keeps_finished_frames_and_redoes_missing_ones(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    args = ("--checkpoint", trained["root"] / "p2p", "--poses", trained["poses"], "-o", tmp_path)
    assert _run(*args) == 0
    lost = tmp_path / "frames" / "0004.png"
    before = read_image(lost)
    kept = (tmp_path / "frames" / "0001.png").stat().st_mtime_ns
    lost.unlink()
    assert _run(*args) == 0
    np.testing.assert_array_equal(read_image(lost), before)
    assert (tmp_path / "frames" / "0001.png").stat().st_mtime_ns == kept
    outputs = json.loads((tmp_path / "manifest.json").read_text())["outputs"]
    assert (outputs["written"], outputs["skipped"]) == (1, 5)


def test_knn_with_inbetweens_doubles_the_frame_rate(trained: dict[str, Path], tmp_path: Path) -> None:
    args = ("--checkpoint", trained["root"] / "knn" / "final", "--poses", trained["poses"], "-o", tmp_path,
            "--set", "inbetweens=1")  # fmt: skip
    assert _run(*args) == 0
    frames, fps = read_video(tmp_path / "video.mp4")
    assert len(frames) == 11 and fps == 48
    # Exact poses retrieve the exact training frames (lam=0), every other frame.
    truth = read_image(trained["root"] / "data" / "subject_000" / "walk" / "images" / "00003.png")
    np.testing.assert_array_equal(read_image(tmp_path / "frames" / "0006.png"), truth)
    assert _run(*args) == 0
    outputs = json.loads((tmp_path / "manifest.json").read_text())["outputs"]
    assert (outputs["frames"], outputs["written"], outputs["skipped"]) == (11, 0, 11)


def test_source_options_and_errors(
    trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    image = trained["root"] / "data" / "subject_000" / "walk" / "images" / "00000.png"
    p2p, poses = trained["root"] / "p2p", trained["poses"]
    source_poses = tmp_path / "source.json"
    save_poses(source_poses, load_poses(poses)[:1])
    assert _run("--checkpoint", p2p, "--poses", poses, "--source", image, "--source-poses", source_poses,
                "-o", tmp_path / "a") == 0  # fmt: skip
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["options"]["source"] == str(image)

    assert _run("--checkpoint", p2p, "--poses", poses, "--source", image, "-o", tmp_path / "b") == 2
    assert "--source needs --source-poses" in capsys.readouterr().err
    assert _run("--checkpoint", tmp_path, "--poses", poses, "-o", tmp_path / "c") == 2
    assert "not a saved method" in capsys.readouterr().err
    assert _run("--method", "knn", "--checkpoint", p2p, "--poses", poses, "-o", tmp_path / "d") == 2
    assert "holds the method 'pix2pix-pose2pics', not 'knn'" in capsys.readouterr().err
    # Other settings into a folder that holds a run are refused.
    source = ("--source", image, "--source-poses", source_poses)
    assert (
        _run(
            "--checkpoint",
            p2p,
            "--poses",
            poses,
            *source,
            "-o",
            tmp_path / "a",
            "--set",
            "inference=eval-mode",
        )
        == 2
    )
    assert "other settings (settings differ)" in capsys.readouterr().err
