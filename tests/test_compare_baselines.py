"""scripts/compare_baselines.py: its entries cover every method, and its pose-change and noise helpers."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from toolkit.eval.benchmarks.synthetic import SyntheticBenchmark
from toolkit.eval.report import per_frame_csv
from toolkit.methods import METHODS, discover_methods
from toolkit.pose.motions import make_motion

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_baselines.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("compare_baselines", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look modules up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_every_registered_method_has_an_entry(script):
    discover_methods()
    assert set(METHODS) <= {method for method, _ in script.ENTRIES.values()}
    assert set(script.DEFAULT_LABELS) <= set(script.ENTRIES)


def test_pose_change_is_the_mean_joint_move_in_body_heights(script):
    poses = make_motion("walk", 4, 24.0, 128, 128, seed=0)
    source = poses[:1]
    keypoints = poses.keypoints.copy()
    present = keypoints[0, :, 2] > 0
    height = np.ptp(keypoints[0, present, 1])
    keypoints[1] = keypoints[0]
    keypoints[2] = keypoints[0]
    keypoints[2, :, 0] += 0.5 * height  # every joint half a body height to the right
    change = script.pose_change(source, replace(poses, keypoints=keypoints))
    assert change[0] == pytest.approx(0.0) and change[1] == pytest.approx(0.0)
    assert change[2] == pytest.approx(0.5)


def test_pose_noise_is_refused_for_benchmarks_of_real_data(script, tmp_path):
    with pytest.raises(
        ValueError, match="--pose-noise applies to the mannequin benchmarks, not 'video-folder'"
    ):
        script._load("video-folder", tmp_path, 1.5)


def test_the_largest_pose_change_table_splits_frames_by_their_move(script, tmp_path):
    tiny = SyntheticBenchmark(
        name="tiny", description="test", subjects=1, size=48, train_motions=("walk", "squat"),
        test_motions=("jumping_jack", "turn"), train_frames=4, train_fps=4.0, test_frames=8, test_fps=8.0,
    )  # fmt: skip
    benchmark = tiny.load(tmp_path / "data", progress=False)
    case = next(benchmark.cases())
    change = {
        f"{case.subject}/{c.name}": script.pose_change(c.source_poses, c.target_poses) for c in case.clips
    }
    cut = np.quantile(np.concatenate(list(change.values())), 0.75)
    # A run whose every score is 1 on the frames that moved most and 0 on the rest.
    scores = {clip: (moves > cut).astype(float) for clip, moves in change.items()}
    run = tmp_path / "run"
    run.mkdir()
    per_frame = {metric: scores for metric in ("ssim", "masked_ssim", "silhouette_iou")}
    (run / "per_frame.csv").write_text(per_frame_csv([(clip, 8) for clip in change], per_frame))
    table = script.largest_pose_change_table(benchmark, ["split"], [run])
    assert table.splitlines()[-1] == "| split | " + " | ".join(["1.0000 | 0.0000"] * 3) + " |"
    assert "4 of 16 frames" in table
