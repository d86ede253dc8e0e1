"""pix2pix pose2pics and pics2pics: paper defaults, a fit of 3 steps, test-time behaviour, save/load, the
perceptual loss's start-up check, and the datasets they train on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from baselines.pix2pix import Driver, Pix2PixConfig, Pix2PixPics2Pics, Pix2PixPose2Pics
from toolkit.data.datasets import (
    Augmentation,
    Letterbox,
    PairDataset,
    encode_poses,
    knn_pairs,
    load_subject_frames,
    mannequin_frames,
)
from toolkit.data.subject import SubjectFrames
from toolkit.data.synth_dataset import SynthConfig, write_synthetic_dataset
from toolkit.errors import ToolkitError
from toolkit.methods import Baseline, get_method
from toolkit.nn.backbones import FeatureStack
from toolkit.nn.losses import PerceptualWeightsError
from toolkit.nn.trainer import StepContext, TrainOptions, train
from toolkit.nn.unet import UNetGenerator

TINY = {"size": 64, "base_channels": 4, "disc_channels": 4, "jitter": 0.0}
FIT = {**TINY, "steps": 3, "batch_size": 2, "progress": False}


@pytest.fixture(scope="module")
def subject() -> SubjectFrames:
    return mannequin_frames(1, motions=("walk",), frames=8, size=64)


@pytest.fixture(scope="module")
def driver_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("driver")
    write_synthetic_dataset(root, SynthConfig(1, ("walk",), 64, 64, 8, seed=9), progress=False)
    return root / "subject_000" / "walk"


@pytest.fixture(scope="module")
def pose2pics(subject: SubjectFrames) -> Pix2PixPose2Pics:
    method = Pix2PixPose2Pics(FIT)
    method.fit(subject, FIT)
    return method


def test_registered_with_the_papers_defaults() -> None:
    assert get_method("pix2pix-pose2pics") is Pix2PixPose2Pics
    assert get_method("pix2pix-pics2pics") is Pix2PixPics2Pics
    assert isinstance(Pix2PixPose2Pics(), Baseline) and isinstance(Pix2PixPics2Pics(), Baseline)
    c = Pix2PixConfig()
    assert (c.l1_weight, c.lr, c.beta1, c.beta2, c.dropout) == (100.0, 2e-4, 0.5, 0.999, 0.5)
    assert (c.gan_loss, c.norm, c.size, c.disc_layers, c.perceptual_weight) == (
        "vanilla",
        "batch",
        256,
        3,
        0.0,
    )
    assert Pix2PixPics2Pics().config.driver == "mannequin:1000"
    for size, depth in ((64, 6), (128, 7), (256, 8)):
        assert Pix2PixPose2Pics({"size": size, "base_channels": 1}).build_generator().depth == depth


def test_fit_of_three_steps_trains_and_transfers(subject: SubjectFrames, pose2pics: Pix2PixPose2Pics) -> None:
    untrained = Pix2PixPose2Pics(TINY).build_generator()
    trained = pose2pics.generator
    assert isinstance(trained, UNetGenerator)
    assert any(
        not torch.equal(a, b) for a, b in zip(trained.parameters(), untrained.parameters(), strict=True)
    )
    frames = pose2pics.transfer(subject.images[:1], subject.poses[:1], subject.poses[:3])
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == np.uint8


def test_learning_rate_holds_then_decays_linearly() -> None:
    method = Pix2PixPose2Pics({"decay_from": 0.5, "lr": 1.0})
    assert [round(method.learning_rate(s, 10), 3) for s in (1, 5, 6, 8, 10)] == [1.0, 1.0, 0.833, 0.5, 0.167]


def test_train_mode_inference_is_deterministic_per_pose_and_leaves_statistics_alone(
    subject: SubjectFrames, pose2pics: Pix2PixPose2Pics
) -> None:
    norms = [m for m in pose2pics.generator.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in norms]
    order = subject.poses[[0, 5, 0, 2]]
    first = pose2pics.transfer(subject.images[:1], subject.poses[:1], order)
    again = pose2pics.transfer(subject.images[:1], subject.poses[:1], subject.poses[[2, 0]])
    np.testing.assert_array_equal(first[0], first[2])  # the same pose, the same frame
    np.testing.assert_array_equal(again, first[[3, 0]])  # wherever it appears
    assert all(torch.equal(m.running_mean, b) for m, b in zip(norms, before, strict=True))
    assert (
        pose2pics.generator.training is False or pose2pics.generator.training is True
    )  # mode restored below
    mode = pose2pics.generator.training
    pose2pics.transfer(subject.images[:1], subject.poses[:1], subject.poses[:1])
    assert pose2pics.generator.training == mode


def test_eval_mode_batches_frames_without_changing_them(
    subject: SubjectFrames, pose2pics: Pix2PixPose2Pics
) -> None:
    batched = Pix2PixPose2Pics(replace(pose2pics.config, inference="eval-mode", inference_batch=8))
    single = Pix2PixPose2Pics(replace(pose2pics.config, inference="eval-mode", inference_batch=1))
    batched.generator = single.generator = pose2pics.generator
    a = batched.transfer(subject.images[:1], subject.poses[:1], subject.poses)
    b = single.transfer(subject.images[:1], subject.poses[:1], subject.poses)
    assert (
        np.abs(a.astype(int) - b).max() <= 1
    )  # batched convolutions round differently, by one level at most
    train_mode = pose2pics.transfer(subject.images[:1], subject.poses[:1], subject.poses)
    assert not np.array_equal(a, train_mode)


def test_save_and_load_give_identical_outputs(
    subject: SubjectFrames, pose2pics: Pix2PixPose2Pics, tmp_path: Path
) -> None:
    pose2pics.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors"}
    loaded = Pix2PixPose2Pics.load(tmp_path)
    assert loaded.config == pose2pics.config
    targets = subject.poses[[1, 6, 3]]
    np.testing.assert_array_equal(
        loaded.transfer(subject.images[:1], subject.poses[:1], targets),
        pose2pics.transfer(subject.images[:1], subject.poses[:1], targets),
    )
    with pytest.raises(ToolkitError, match="holds the method 'pix2pix-pose2pics', not 'pix2pix-pics2pics'"):
        Pix2PixPics2Pics.load(tmp_path)


def test_other_canvases_are_letterboxed_in_and_out(
    pose2pics: Pix2PixPose2Pics, subject: SubjectFrames
) -> None:
    wide = subject.poses[:2].fit_to_canvas(96, 48)
    frames = pose2pics.transfer(subject.images[:1], subject.poses[:1], wide)
    assert frames.shape == (2, 48, 96, 3)


def test_pics2pics_fit_save_load_with_a_driver_folder(
    subject: SubjectFrames, driver_folder: Path, tmp_path: Path
) -> None:
    config = {**FIT, "driver": str(driver_folder), "heatmaps_unused": None}
    with pytest.raises(ValueError, match="no setting 'heatmaps_unused'"):
        Pix2PixPics2Pics(config)
    config.pop("heatmaps_unused")
    method = Pix2PixPics2Pics(config)
    method.fit(subject, config)
    frames = method.transfer(subject.images[:1], subject.poses[:1], subject.poses[:2])
    assert frames.shape == (2, 64, 64, 3)
    driver = load_subject_frames(driver_folder)
    np.testing.assert_array_equal(method.translate(driver.images[:2]), method.translate(driver.images[:2]))
    method.save(tmp_path)
    loaded = Pix2PixPics2Pics.load(tmp_path)
    np.testing.assert_array_equal(
        loaded.transfer(subject.images[:1], subject.poses[:1], subject.poses[:2]), frames
    )


def test_a_mannequin_driver_is_rendered_in_the_target_poses(subject: SubjectFrames) -> None:
    driver = Driver.load("mannequin:5", (32, 32))
    assert driver.mannequin == 5 and driver.frames.images.shape == (192, 32, 32, 3)
    np.testing.assert_array_equal(
        driver.images_for(subject.poses[:2]), mannequin_frames(5, subject.poses[:2]).images
    )
    with pytest.raises(ValueError, match="mannequin:SEED"):
        Driver.load("mannequin:x", (32, 32))


def test_cross_subject_pose2pics_pairs_a_poses_with_b_frames(
    subject: SubjectFrames, driver_folder: Path
) -> None:
    driver = load_subject_frames(driver_folder)
    pairs = knn_pairs(driver.poses, subject.poses)
    assert pairs.shape == (8,) and pairs.dtype == np.int64
    # Two walks of one length: the nearest frame of B is at (about) the same phase as A's.
    phase_error = np.abs(((pairs - np.arange(8)) + 4) % 8 - 4)
    assert phase_error.max() <= 1
    method = Pix2PixPose2Pics({**TINY, "driver": str(driver_folder)})
    dataset = method._dataset(subject)
    item = dataset[3]
    np.testing.assert_array_equal(item["input"].numpy(), encode_poses(driver.poses[3])[0])
    expected = subject.images[pairs[3]].transpose(2, 0, 1) / 127.5 - 1
    np.testing.assert_allclose(item["target"].numpy(), expected, atol=1e-6)


def test_perceptual_loss_without_weights_fails_at_start_up(subject: SubjectFrames, tmp_path: Path) -> None:
    config = {**FIT, "perceptual_weight": 10.0}
    with pytest.raises(PerceptualWeightsError, match="--no-perceptual"):
        Pix2PixPose2Pics(config).fit(subject, config)
    weights = tmp_path / "vgg19_random_init_for_tests.pth"  # random init, NOT ImageNet: a stand-in
    torch.save(FeatureStack("vgg19").state_dict(), weights)
    method = Pix2PixPose2Pics({**config, "vgg19_weights": str(weights)})
    setup = method.training_setup(subject, torch.device("cpu"))
    batch = {k: torch.stack([setup.dataset[i][k] for i in range(2)]) for k in ("input", "target")}
    context = StepContext(1, 1, setup.models, setup.optimizers, lambda loss: loss.backward())
    losses = method.training_step(batch, context)
    assert set(losses) == {"d", "g_gan", "g_l1", "g_vgg"} and losses["g_vgg"] > 0


def test_pair_dataset_augments_input_and_target_alike(subject: SubjectFrames) -> None:
    dataset = PairDataset(
        subject, subject, encoding="openpose", side=64, augmentation=Augmentation(0.25, True)
    )
    clean, same, other = dataset[2], dataset[(2, 7)], dataset[(2, 8)]
    assert torch.equal(dataset[(2, 7)]["input"], same["input"])  # a draw is reproducible
    assert not torch.equal(clean["target"], same["target"]) or not torch.equal(
        same["target"], other["target"]
    )
    # The skeleton lands on the figure: where the input is drawn, the target is not background.
    for item in (clean, same, other):
        drawn = (item["input"] > -1).any(0)
        background = (item["target"] - item["target"][:, :1, :1]).abs().sum(0) < 0.05
        assert (drawn & ~background).sum() > 0.6 * drawn.sum()
    assert dataset.input_channels == 3 and len(dataset) == 8


def test_letterbox_round_trip() -> None:
    box = Letterbox(40, 20, 64, 64)
    assert box.inner == (64, 32) and box.offset == (0, 16)
    ramp = np.add.outer(np.arange(20) * 5, np.arange(40) * 3)  # a smooth image survives resampling
    image = np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8)
    fitted = box.image(image)
    assert fitted.shape == (64, 64, 3)
    np.testing.assert_array_equal(fitted[:16], np.repeat(fitted[16:17], 16, axis=0))
    assert np.abs(box.undo(fitted).astype(int) - image).mean() < 2


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="size must be one of 64, 128, 256"):
        Pix2PixConfig(size=100)
    with pytest.raises(ValueError, match="unknown pose encoding 'depth'"):
        Pix2PixConfig(encoding="depth")
    with pytest.raises(ValueError, match="unknown inference 'test'"):
        Pix2PixConfig(inference="test")
    with pytest.raises(ValueError, match="base_channels must be an integer >= 1"):
        Pix2PixConfig(base_channels=0)
    with pytest.raises(ToolkitError, match="no trained generator"):
        Pix2PixPose2Pics(TINY).generate(torch.zeros(1, 3, 64, 64))


def test_pics2pics_resumes_from_the_right_step(
    subject: SubjectFrames, driver_folder: Path, tmp_path: Path
) -> None:
    config = {**TINY, "driver": str(driver_folder)}
    options = {"steps": 3, "batch_size": 2, "output_dir": str(tmp_path), "checkpoint_every": 2,
               "sample_every": 3, "progress": False, "logger": "csv"}  # fmt: skip
    train(Pix2PixPics2Pics(config), subject, TrainOptions(**{**options, "steps": 2}))
    resumed = Pix2PixPics2Pics(config)
    result = train(resumed, subject, TrainOptions(**options, resume="latest"))
    assert (result.start_step, result.step) == (2, 3)
    assert json.loads((result.checkpoint / "state.json").read_text())["step"] == 3
    rows = (tmp_path / "logs" / "losses.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["step", "2", "3"]  # each run logs its last step
