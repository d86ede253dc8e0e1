"""``toolkit demo`` end to end on the random tiny model: every step writes its outputs, a rerun resumes,
and a missing mini model is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.cli import main
from toolkit.data.media import read_video
from toolkit.demo import DEMO_METHODS, DemoConfig, run_demo
from toolkit.diffusion import loading

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_DEMO = DemoConfig(
    base="tiny",
    controlnet="tiny",
    lora_steps=2,
    inference_steps=2,
    methods={label: DEMO_METHODS[label] for label in ("ground-truth", "diffusion", "knn")},
    metrics=("ssim", "silhouette_iou"),
    progress=False,
)


def test_demo_runs_every_step_and_resumes(tmp_path: Path) -> None:
    lines: list[str] = []
    paths = run_demo(tmp_path, TINY_DEMO, report=lines.append)
    assert len(lines) == 4 and all(str(tmp_path) in line for line in lines)
    walk = json.loads(paths["walk"].read_text())
    assert paths["walk"].name == "walk.json" and walk
    assert (paths["subject"] / "pytorch_lora_weights.safetensors").is_file()
    frames, _ = read_video(paths["generate"] / "video.mp4")
    assert len(frames) == 24 and frames[0].shape == (128, 128, 3)
    table = (paths["comparison"] / "comparison.md").read_text()
    assert all(label in table for label in ("ground-truth", "diffusion", "knn"))
    grid, _ = read_video(paths["comparison"] / "comparison.mp4")
    assert len(grid) == 24 and grid[0].shape[1] > 3 * 128  # three labelled columns
    manifest = json.loads(paths["manifest"].read_text())
    assert set(manifest["timings_s"]) == {"walk", "subject", "generate", "comparison"}

    lora = paths["subject"] / "pytorch_lora_weights.safetensors"
    first_frame = paths["generate"] / "frames" / "0000.png"
    stamps = lora.stat().st_mtime_ns, first_frame.stat().st_mtime_ns
    run_demo(tmp_path, TINY_DEMO, report=lambda line: None)
    assert (lora.stat().st_mtime_ns, first_frame.stat().st_mtime_ns) == stamps  # reused, not redone


def test_demo_without_the_mini_model_says_what_to_do(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(loading, "MINI_WEIGHTS", tmp_path / "missing")
    assert main(["demo", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "mini" in error and "docs/mini-model.md" in error
