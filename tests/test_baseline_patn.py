"""PATN: the original's architecture and parameter counts, attention in [0, 1], dataset presets, the PATN
annotation and pairs loaders feeding transfer, a fit of 3 steps, save/load and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.patn import (
    PERCEPTUAL_LAYERS,
    Patn,
    PatnConfig,
    PatnGenerator,
    SourceTargetPairs,
    build_discriminators,
    build_generator,
)
from toolkit.data.datasets import mannequin_frames
from toolkit.data.media import write_image
from toolkit.data.subject import SubjectFrames
from toolkit.errors import ToolkitError
from toolkit.eval.benchmarks.patn_pairs import PATN_BENCHMARKS
from toolkit.methods import Baseline, get_method
from toolkit.nn.backbones import FeatureStack
from toolkit.nn.losses import PerceptualWeightsError
from toolkit.nn.trainer import StepContext, TrainOptions, train
from toolkit.pose.io import read_patn_csv

TINY = {"base_channels": 4, "blocks": 2, "disc_channels": 4, "disc_blocks": 1, "perceptual_weight": 0.0}
FIT = {**TINY, "steps": 3, "batch_size": 2, "progress": False}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def subject() -> SubjectFrames:
    return mannequin_frames(1, motions=("walk",), frames=8, size=64)


@pytest.fixture(scope="module")
def patn(subject: SubjectFrames) -> Patn:
    method = Patn(FIT)
    method.fit(subject, FIT)
    return method


def test_registered_with_the_originals_per_dataset_settings() -> None:
    assert get_method("patn") is Patn and isinstance(Patn(), Baseline)
    market, fashion = PatnConfig(), PatnConfig.preset("deepfashion")
    assert PatnConfig.preset("market") == market
    assert (market.height, market.width, market.norm, market.gan_loss) == (128, 64, "batch", "vanilla")
    assert (market.l1_weight, market.perceptual_weight, market.gan_weight) == (10.0, 10.0, 5.0)
    assert (fashion.height, fashion.width, fashion.norm, fashion.gan_loss) == (256, 176, "instance", "lsgan")
    assert (fashion.l1_weight, fashion.perceptual_weight) == (1.0, 1.0)
    assert (market.lr, market.beta1, market.blocks, market.disc_blocks, market.dropout) == (
        2e-4,
        0.5,
        9,
        3,
        0.5,
    )
    # An explicit value beats the preset, in a mapping as in preset(); the config round-trips.
    assert PatnConfig.preset("deepfashion", gan_loss="vanilla").gan_loss == "vanilla"
    assert Patn({"dataset": "deepfashion", "gan_loss": "vanilla"}).config.gan_loss == "vanilla"
    assert Patn(Patn({"dataset": "deepfashion"}).config).config == fashion


def test_paper_size_networks_match_the_originals_parameter_counts() -> None:
    # Counted by hand from tengteng95/Pose-Transfer's PATNModel and ResnetDiscriminator (ngf = ndf = 64,
    # 9 blocks, 3 discriminator blocks, batch norm: no convolution bias except the last 7x7).
    config = PatnConfig()
    generator, discriminators = build_generator(config), build_discriminators(config)
    assert count(generator) == 41_365_763
    assert {k: count(d) for k, d in discriminators.items()} == {"d_pb": 3_977_408, "d_pp": 3_930_368}
    with torch.no_grad():
        out = generator.eval()(torch.zeros(1, 3, 128, 64), torch.zeros(1, 36, 128, 64))
    assert out.shape == (1, 3, 128, 64)


@pytest.mark.parametrize("dataset", ["market", "deepfashion"])
def test_shapes_and_attention_at_each_datasets_canvas(dataset: str) -> None:
    config = PatnConfig.preset(dataset, **TINY)
    h, w = config.height, config.width
    generator = build_generator(config)
    torch.manual_seed(0)
    image, poses = torch.rand(2, 3, h, w) * 2 - 1, torch.rand(2, 36, h, w)
    out, attentions = generator(image, poses, return_attention=True)
    assert out.shape == (2, 3, h, w) and out.abs().max() <= 1
    assert len(attentions) == config.blocks
    for attention in attentions:
        assert attention.shape == (2, 16, h // 4, w // 4)
        assert attention.min() >= 0 and attention.max() <= 1 and attention.std() > 0
    # The pose stream carries the attention logits and the updated image stream from block 2 on.
    assert generator.blocks[0].pose_branch[1].in_channels == 16
    assert generator.blocks[1].pose_branch[1].in_channels == 32
    d = build_discriminators(config)
    assert d["d_pb"](torch.cat([out, poses[:, 18:]], 1)).shape == (2, 16, h // 4, w // 4)
    assert d["d_pp"](torch.cat([out, image], 1)).shape == (2, 16, h // 4, w // 4)


def test_pairs_draw_another_frame_reproducibly(subject: SubjectFrames) -> None:
    pairs = SourceTargetPairs(subject, 64, 128)
    item = pairs[(3, 11)]
    assert item["source"].shape == (3, 128, 64) and item["target_pose"].shape == (18, 128, 64)
    assert item["target_pose"].min() >= 0 and item["target_pose"].max() <= 1
    assert torch.equal(pairs[(3, 11)]["source"], item["source"])
    for draw in range(20):
        assert not torch.equal(pairs[(3, draw)]["source"], pairs[3]["target"])
    assert torch.equal(pairs[3]["source"], pairs[7]["target"])  # the clean sample: half the dataset away


def test_fit_of_three_steps_trains_and_transfers(subject: SubjectFrames, patn: Patn) -> None:
    untrained = build_generator(patn.config)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(patn.generator.parameters(), untrained.parameters(), strict=True)
    )
    frames = patn.transfer(subject.images[:2], subject.poses[:2], subject.poses[:3])
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == np.uint8
    # The first source image is the one used.
    again = patn.transfer(subject.images[:1], subject.poses[:1], subject.poses[:3])
    np.testing.assert_array_equal(frames, again)
    wide = subject.poses[:2].fit_to_canvas(96, 48)
    assert patn.transfer(subject.images[:1], subject.poses[:1], wide).shape == (2, 48, 96, 3)


def test_save_and_load_give_identical_outputs(subject: SubjectFrames, patn: Patn, tmp_path: Path) -> None:
    patn.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors"}
    loaded = Patn.load(tmp_path)
    assert loaded.config == patn.config and isinstance(loaded.generator, PatnGenerator)
    targets = subject.poses[[1, 6, 3]]
    np.testing.assert_array_equal(
        loaded.transfer(subject.images[4:5], subject.poses[4:5], targets),
        patn.transfer(subject.images[4:5], subject.poses[4:5], targets),
    )


def test_patn_csv_and_pairs_feed_transfer(subject: SubjectFrames, patn: Patn, tmp_path: Path) -> None:
    frames = mannequin_frames(2, subject.poses[:3].fit_to_canvas(64, 128))
    names = ["0007_c1s1_000001_01.jpg", "0007_c2s1_000002_01.jpg", "0009_c1s1_000003_01.jpg"]
    (tmp_path / "test").mkdir()
    rows = ["name:keypoints_y:keypoints_x"]
    for name, image, keypoints in zip(names, frames.images, frames.poses.keypoints, strict=True):
        write_image(tmp_path / "test" / name, image)
        present = keypoints[:, 2] > 0
        ys = np.where(present, np.nan_to_num(keypoints[:, 1]).round(), -1).astype(int).tolist()
        xs = np.where(present, np.nan_to_num(keypoints[:, 0]).round(), -1).astype(int).tolist()
        rows.append(f"{name}:{ys}:{xs}")
    (tmp_path / "market-annotation-test.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "market-pairs-test.csv").write_text(
        f"from,to\n{names[0]},{names[1]}\n{names[2]},{names[0]}\n"
    )

    read, poses = read_patn_csv(tmp_path / "market-annotation-test.csv", width=64, height=128)
    assert read == names and poses.canvas == (64, 128)
    np.testing.assert_allclose(poses.keypoints[1, :, :2], frames.poses.keypoints[1, :, :2], atol=0.5)
    benchmark = {b.name: b for b in PATN_BENCHMARKS}["patn-market"].load(tmp_path)
    assert benchmark.subjects == ("0007", "0009")
    clip = benchmark.read_case("0007").clips[0]
    rendered = patn.transfer(clip.source_images, clip.source_poses, clip.target_poses)
    assert rendered.shape == clip.truth.shape == (1, 128, 64, 3)


def test_resumes_from_the_right_step(subject: SubjectFrames, tmp_path: Path) -> None:
    options = {"steps": 3, "batch_size": 2, "output_dir": str(tmp_path), "checkpoint_every": 2,
               "sample_every": 3, "progress": False, "logger": "csv"}  # fmt: skip
    train(Patn(TINY), subject, TrainOptions(**{**options, "steps": 2}))
    result = train(Patn(TINY), subject, TrainOptions(**options, resume="latest"))
    assert (result.start_step, result.step) == (2, 3)
    assert json.loads((result.checkpoint / "state.json").read_text())["step"] == 3
    assert set(result.losses) == {"g_gan", "g_l1", "d_pp", "d_pb"}
    rows = (tmp_path / "logs" / "losses.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["step", "2", "3"]
    assert (tmp_path / "samples" / "step_0000003.png").is_file()


def test_perceptual_term_needs_weights_and_uses_relu1_2(subject: SubjectFrames, tmp_path: Path) -> None:
    config = {**FIT, "perceptual_weight": 10.0}
    with pytest.raises(PerceptualWeightsError, match="--no-perceptual"):
        Patn(config).fit(subject, config)
    weights = tmp_path / "vgg19_random_init_for_tests.pth"  # random init, NOT ImageNet: a stand-in
    torch.save(FeatureStack("vgg19").state_dict(), weights)
    method = Patn({**config, "vgg19_weights": str(weights)})
    setup = method.training_setup(subject, torch.device("cpu"))
    assert method._perceptual.backbone.layers == PERCEPTUAL_LAYERS
    keys = ("source", "source_pose", "target", "target_pose")
    batch = {k: torch.stack([setup.dataset[(i, i)][k] for i in range(2)]) for k in keys}
    context = StepContext(1, 1, setup.models, setup.optimizers, lambda loss: loss.backward())
    losses = method.training_step(batch, context)
    assert set(losses) == {"g_gan", "g_l1", "g_vgg", "d_pp", "d_pb"} and losses["g_vgg"] > 0


def test_config_errors(subject: SubjectFrames) -> None:
    with pytest.raises(ValueError, match="unknown dataset 'lsp'"):
        PatnConfig.preset("lsp")
    with pytest.raises(ValueError, match="unknown dataset 'lsp'; choose one of 'market', 'deepfashion'"):
        Patn({"dataset": "lsp"})
    with pytest.raises(ValueError, match="multiples of 4"):
        PatnConfig(height=130)
    with pytest.raises(ValueError, match="unknown gan_loss 'wgan'"):
        PatnConfig(gan_loss="wgan")
    with pytest.raises(ValueError, match="PatnConfig has no setting 'ngf'"):
        Patn({"ngf": 64})
    with pytest.raises(ToolkitError, match="no trained generator"):
        Patn(TINY).transfer(subject.images[:1], subject.poses[:1], subject.poses[:1])
    with pytest.raises(ValueError, match="source_poses must hold a pose on the 64x64 canvas"):
        Patn(TINY).transfer(subject.images[:1], subject.poses[:1].fit_to_canvas(32, 32), subject.poses[:1])
