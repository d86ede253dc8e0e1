"""The k-NN baseline: exact retrieval, frame thresholding, flow smoothing and in-betweens, save/load.

k-NN has no training steps (``fit`` stores the bank), so "a fit of 3 steps" and "resume" do not apply; the
fit, the round trip and the protocol are tested here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from baselines.knn import KnnConfig, KnnRetrieval, insert_inbetweens
from toolkit.data.datasets import mannequin_frames
from toolkit.data.subject import SubjectFrames
from toolkit.errors import ToolkitError
from toolkit.methods import Baseline, get_method
from toolkit.nn.io import CheckpointError
from toolkit.pose.match import count_switches
from toolkit.pose.sequence import PoseSequence


@pytest.fixture(scope="module")
def bank() -> SubjectFrames:
    return mannequin_frames(3, motions=("walk", "wave"), frames=16, size=48)


def _slow_noisy(poses: PoseSequence, repeat: int, jitter: float, seed: int = 0) -> PoseSequence:
    """Every pose repeated ``repeat`` times with Gaussian jitter: a slower, noisily detected motion."""
    keypoints = np.repeat(poses.keypoints, repeat, axis=0)
    keypoints[..., :2] += np.random.default_rng(seed).normal(0, jitter, keypoints[..., :2].shape)
    return replace(poses, keypoints=keypoints.astype(np.float32), depth=None)


def test_registered_and_follows_the_protocol() -> None:
    assert get_method("knn") is KnnRetrieval
    assert isinstance(KnnRetrieval(), Baseline)


def test_exact_poses_retrieve_their_own_frames(bank: SubjectFrames) -> None:
    method = KnnRetrieval({"lam": 0.0})
    method.fit(bank)
    order = np.array([5, 20, 3, 31, 3])
    frames = method.transfer(bank.images[:1], bank.poses[:1], bank.poses[order])
    np.testing.assert_array_equal(method.retrieve(bank.poses[order]), order)
    np.testing.assert_array_equal(frames, bank.images[order])


def test_position_feature_also_retrieves_exact_poses(bank: SubjectFrames) -> None:
    method = KnnRetrieval(KnnConfig(feature="position", lam=0.0))
    method.fit(bank)
    np.testing.assert_array_equal(method.retrieve(bank.poses[[7, 25]]), [7, 25])


def test_thresholding_switches_less_than_plain_nearest_neighbour(bank: SubjectFrames) -> None:
    target = _slow_noisy(bank.poses[:16], repeat=4, jitter=1.0)
    plain, thresholded = KnnRetrieval({"lam": 0.0}), KnnRetrieval({"lam": 0.003})
    plain.fit(bank)
    thresholded.fit(bank)
    switches_plain = count_switches(plain.retrieve(target))
    switches_thresholded = count_switches(thresholded.retrieve(target))
    assert switches_thresholded < switches_plain
    # The walk still plays: the picks advance through most of its 16 frames.
    assert len(np.unique(thresholded.retrieve(target))) >= 8


def test_flow_smoothing_keeps_keyframes_and_moves_between_them(bank: SubjectFrames) -> None:
    method = KnnRetrieval({"lam": 0.0, "smoothing": "flow"})
    method.fit(bank)
    # Picks 0,0,0,4,4,4: keyframes sit at frames 1 and 4, frames 2 and 3 are interpolated.
    target = bank.poses[[0, 0, 0, 4, 4, 4]]
    frames = method.transfer(bank.images[:1], bank.poses[:1], target)
    assert frames.shape == (6, 48, 48, 3)
    np.testing.assert_array_equal(frames[[0, 1]], bank.images[[0, 0]])
    np.testing.assert_array_equal(frames[[4, 5]], bank.images[[4, 4]])
    for t in (2, 3):
        assert not np.array_equal(frames[t], bank.images[0]) and not np.array_equal(frames[t], bank.images[4])
    # Interpolated frames lie between the two keyframes in mean intensity change.
    change = np.abs(frames[2].astype(int) - bank.images[0]).mean()
    assert 0 < change < np.abs(bank.images[4].astype(int) - bank.images[0]).mean()


def test_inbetweens_for_sparse_targets(bank: SubjectFrames) -> None:
    method = KnnRetrieval({"lam": 0.0, "inbetweens": 2})
    method.fit(bank)
    frames = method.transfer(bank.images[:1], bank.poses[:1], bank.poses[[0, 4, 4]])
    assert frames.shape == (7, 48, 48, 3)
    np.testing.assert_array_equal(frames[[0, 3, 6]], bank.images[[0, 4, 4]])
    np.testing.assert_array_equal(frames[4], bank.images[4])  # equal neighbours are held
    assert insert_inbetweens(bank.images[:1], 3).shape == (1, 48, 48, 3)


def test_other_canvas_is_letterboxed(bank: SubjectFrames) -> None:
    method = KnnRetrieval({"lam": 0.0})
    method.fit(bank)
    target = bank.poses[[2]].fit_to_canvas(96, 64)
    frames = method.transfer(bank.images[:1], bank.poses[:1], target)
    assert frames.shape == (1, 64, 96, 3)
    # The 48 px frame fills the height, centred: 24 px margins that repeat its border.
    np.testing.assert_array_equal(frames[0, :, :24], np.repeat(frames[0, :, 24:25], 24, axis=1))


def test_save_and_load_give_identical_outputs(bank: SubjectFrames, tmp_path: Path) -> None:
    method = KnnRetrieval({"feature": "position", "lam": 0.002, "smoothing": "flow"})
    method.fit(bank)
    method.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors", "poses.json"}
    stored = load_file(str(tmp_path / "model.safetensors"))["images"]
    assert str(stored.dtype) == "torch.uint8" and tuple(stored.shape) == bank.images.shape
    loaded = KnnRetrieval.load(tmp_path)
    assert loaded.config == method.config
    target = _slow_noisy(bank.poses[10:20], repeat=2, jitter=0.5)
    np.testing.assert_array_equal(
        loaded.transfer(bank.images[:1], bank.poses[:1], target),
        method.transfer(bank.images[:1], bank.poses[:1], target),
    )


def test_errors(bank: SubjectFrames, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KnnConfig has no setting 'lambda'"):
        KnnRetrieval({"lambda": 1})
    with pytest.raises(ValueError, match="unknown feature 'pixels'"):
        KnnConfig(feature="pixels")
    with pytest.raises(ValueError, match="lam must be"):
        KnnConfig(lam=-1)
    with pytest.raises(ValueError, match="inbetweens"):
        KnnConfig(inbetweens=-2)
    with pytest.raises(ToolkitError, match="no bank yet"):
        KnnRetrieval().transfer(bank.images[:1], bank.poses[:1], bank.poses[:2])
    with pytest.raises(CheckpointError, match="no config.json"):
        KnnRetrieval.load(tmp_path)
