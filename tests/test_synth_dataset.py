import json
from dataclasses import replace

import numpy as np
import pytest

from toolkit.data.mannequin import PART_NAMES, MannequinSpec
from toolkit.data.media import read_image
from toolkit.data.synth_dataset import (
    SynthConfig,
    frame_paths,
    subject_dir,
    write_synthetic_dataset,
)
from toolkit.errors import DataError
from toolkit.pose.io import load_poses

CONFIG = SynthConfig(subjects=2, motions=("walk", "squat"), width=64, height=80, frames=4)


def test_layout_and_ground_truth(tmp_path):
    summary = write_synthetic_dataset(tmp_path, CONFIG, progress=False)
    assert (summary.clips, summary.frames_written, summary.frames_skipped) == (4, 16, 0)
    spec = json.loads((subject_dir(tmp_path, 1) / "subject.json").read_text())
    assert MannequinSpec.from_dict(spec) == MannequinSpec.sample(1)
    clip = subject_dir(tmp_path, 1) / "squat"
    poses = load_poses(clip / "poses.json")
    assert len(poses) == 4 and poses.canvas == (64, 80) and poses.depth is not None
    paths = frame_paths(clip, 2)
    image, mask, parts = (
        read_image(paths["images"]),
        read_image(paths["masks"], mode="L"),
        read_image(paths["parts"], mode="L"),
    )
    assert image.shape == (80, 64, 3) and mask.shape == parts.shape == (80, 64)
    assert set(np.unique(mask)) == {0, 255}
    assert ((parts > 0) == (mask > 0)).all() and parts.max() < len(PART_NAMES)
    # The neck joint lies on the figure.
    x, y = np.round(poses.keypoints[2, 1, :2]).astype(int)
    assert mask[y, x] == 255
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["outputs"]["complete"] and manifest["options"]["motions"] == ["walk", "squat"]


def test_rerun_redoes_only_missing_frames(tmp_path):
    write_synthetic_dataset(tmp_path, CONFIG, progress=False)
    lost = frame_paths(subject_dir(tmp_path, 0) / "walk", 3)["masks"]
    before = read_image(lost, mode="L")
    lost.unlink()
    summary = write_synthetic_dataset(tmp_path, CONFIG, progress=False)
    assert (summary.frames_written, summary.frames_skipped) == (1, 15)
    np.testing.assert_array_equal(read_image(lost, mode="L"), before)


def test_refuses_to_mix_settings_or_foreign_folders(tmp_path):
    write_synthetic_dataset(tmp_path / "a", CONFIG, progress=False)
    with pytest.raises(DataError, match="frames differ"):
        write_synthetic_dataset(tmp_path / "a", replace(CONFIG, frames=5), progress=False)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        write_synthetic_dataset(tmp_path / "b", CONFIG, progress=False)
    with pytest.raises(DataError, match="unknown motion 'moonwalk'"):
        SynthConfig(motions=("moonwalk",))
