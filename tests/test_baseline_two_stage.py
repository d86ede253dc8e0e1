"""Ren et al.'s two-stage network: edge-replicated windows, seeded pose augmentation, the generators' and
discriminators' shapes, a fit through both stages with G1 frozen in the second, save/load."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from baselines.two_stage import (
    ABLATIONS,
    TwoStage,
    TwoStageConfig,
    WindowDataset,
    solid_background,
    stack_windows,
    window_indices,
)
from toolkit.data.datasets import mannequin_frames
from toolkit.data.subject import SubjectFrames
from toolkit.errors import ToolkitError
from toolkit.methods import Baseline, get_method
from toolkit.nn.pix2pixhd import FeatureDiscriminator, GlobalGenerator, feature_matching_loss
from toolkit.nn.resnet import ResnetBlock

TINY = {
    **{"size": 32, "base_channels": 2, "blocks": 1, "disc_channels": 2, "disc_layers": 2},
    **{"stage1_steps": 2, "stage2_steps": 1},
}
OPTIONS = {"batch_size": 2, "progress": False}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def subject() -> SubjectFrames:
    return mannequin_frames(1, motions=("walk",), frames=8, size=32)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("two_stage_run")


@pytest.fixture(scope="module")
def fitted(subject: SubjectFrames, run_dir: Path) -> TwoStage:
    method = TwoStage(TINY)
    method.fit(subject, {**OPTIONS, "output_dir": str(run_dir), "checkpoint_every": 1, "sample_every": 100})
    return method


def test_windows_repeat_the_edge_frames() -> None:
    full = window_indices(5, range(-2, 3))
    assert full.tolist() == [
        [0, 0, 0, 1, 2],
        [0, 0, 1, 2, 3],
        [0, 1, 2, 3, 4],
        [1, 2, 3, 4, 4],
        [2, 3, 4, 4, 4],
    ]
    assert window_indices(5, (-2, -1, 0), centres=[-1, 6]).tolist() == [[0, 0, 0], [4, 4, 4]]
    assert window_indices(1, range(-2, 3)).tolist() == [[0, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="at least one frame"):
        window_indices(0, (0,))

    frames = torch.arange(4.0)[None, :, None, None, None].expand(2, 4, 3, 1, 1)  # frame i is all i
    stacked = stack_windows(frames, window_indices(4, (-1, 0, 1)))
    assert stacked.shape == (8, 9, 1, 1)
    assert stacked[0, :, 0, 0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert stacked[3, :, 0, 0].tolist() == [2, 2, 2, 3, 3, 3, 3, 3, 3]


def test_config_defaults_and_ablation_ladder() -> None:
    c = TwoStageConfig()
    assert (c.window, c.window_offsets, c.temporal_offsets) == (2, (-2, -1, 0, 1, 2), (-1, 0, 1))
    assert (c.gan_loss, c.feature_matching_weight, c.reconstruction_weight) == ("lsgan", 10.0, 10.0)
    assert (c.disc_scales, c.disc_layers, c.downsamplings, c.blocks) == (2, 3, 4, 9)
    assert c.reconstruction_loss == "l1" and c.stage2 and c.unpaired and c.augment
    assert TwoStageConfig(vgg19_weights="vgg19.pth").reconstruction_loss == "vgg"
    with pytest.raises(ValueError, match="needs vgg19_weights"):
        TwoStageConfig(reconstruction="vgg")
    with pytest.raises(ValueError, match="multiple of"):
        TwoStageConfig(size=72)

    base = TwoStageConfig.ablation("pl-stage1")
    assert base.window_offsets == (-2, -1, 0) and base.temporal_offsets == (-2, -1, 0)
    assert not (base.augment or base.stage2 or base.unpaired) and base.total_steps == base.stage1_steps
    switched = [
        {k for k in ABLATIONS[b] if ABLATIONS[b][k] != ABLATIONS[a][k]} for a, b in pairwise(ABLATIONS)
    ]
    assert switched == [{"augment"}, {"future_frames"}, {"stage2"}, {"unpaired"}]
    assert TwoStageConfig.ablation("+unpaired") == TwoStageConfig()
    with pytest.raises(ValueError, match="unknown ablation"):
        TwoStageConfig.ablation("+everything")


def test_generators_are_pix2pixhd_global_generators() -> None:
    method = TwoStage({"size": 64, "base_channels": 2})
    g1, g2 = method.build_generator(1), method.build_generator(2)
    assert g1.model[0][1].in_channels == 5 * 17 and g2.model[0][1].in_channels == 5 * 3
    assert sum(isinstance(m, ResnetBlock) for m in g1.modules()) == 9
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in g1.modules()) == 4
    assert any(isinstance(m, nn.InstanceNorm2d) for m in g1.modules())
    out = g2(torch.randn(2, 15, 64, 64))
    assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1
    with pytest.raises(ValueError, match="multiples of 16"):
        GlobalGenerator(3, downsamplings=4, base_channels=2)(torch.zeros(1, 3, 40, 40))


def test_discriminators_take_their_inputs(subject: SubjectFrames) -> None:
    c = TwoStageConfig(**TINY)
    discriminators = TwoStage(c).build_discriminators()
    dataset = WindowDataset(subject, c, [subject.poses])
    item = dataset[3]
    assert item["poses"].shape == (2 * c.reach + 1, 17, 32, 32) and c.reach == 5
    assert item["frames"].shape == (3, 3, 32, 32) and item["unpaired"].shape == item["poses"].shape
    window = item["poses"][c.reach - 2 : c.reach + 3].flatten(0, 1)  # (85, 32, 32)
    inputs = {
        "d_p": torch.cat([window, item["frames"][1]])[None],
        "d_t": item["frames"].flatten(0, 1)[None],
        "d_w": item["random_frame"][None],
    }
    assert set(discriminators) == set(inputs)
    for name, x in inputs.items():
        features = discriminators[name](x)
        assert len(features) == 2 and all(len(scale) == c.disc_layers + 2 for scale in features)
        assert features[0][-1].shape[:2] == (1, 1) and features[1][-1].shape[-1] < features[0][-1].shape[-1]
    assert set(TwoStage({**TINY, "unpaired": False}).build_discriminators()) == {"d_p", "d_t"}

    d = FeatureDiscriminator(3, 2, 2, 3)
    a, b = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)
    assert feature_matching_loss(d(a), d(a)).item() == 0 and feature_matching_loss(d(a), d(b)).item() > 0


def test_pose_augmentation_is_seeded(subject: SubjectFrames) -> None:
    c = TwoStageConfig(**TINY, unpaired=False)
    dataset = WindowDataset(subject, c)
    first, again, other = dataset[(4, 11)], dataset[(4, 11)], dataset[(4, 12)]
    assert torch.equal(first["poses"], again["poses"])
    assert not torch.equal(first["poses"], other["poses"])
    assert not torch.equal(first["poses"], dataset[4]["poses"])
    clean = WindowDataset(subject, TwoStageConfig(**TINY, unpaired=False, augment=False))
    assert torch.equal(clean[(4, 11)]["poses"], dataset[4]["poses"])
    assert torch.equal(clean[(4, 11)]["random_frame"], first["random_frame"])


def test_solid_background(subject: SubjectFrames) -> None:
    painted = solid_background(subject, (0, 255, 0))
    assert (painted.images[~subject.masks] == [0, 255, 0]).all()
    assert np.array_equal(painted.images[subject.masks], subject.images[subject.masks])
    bare = SubjectFrames(subject.images, subject.poses)
    with pytest.raises(ValueError, match="masks"):
        solid_background(bare, (0, 0, 0))


def test_fit_trains_stage1_then_stage2_with_g1_frozen(
    subject: SubjectFrames, fitted: TwoStage, run_dir: Path
) -> None:
    assert get_method("two-stage") is TwoStage and isinstance(fitted, Baseline)
    assert [fitted.stage_at(s) for s in (1, 2, 3)] == [1, 1, 2]
    assert set(fitted.generators) == {"g1", "g2"}
    # The checkpoint after step 2 ends Stage I: the Stage II step after it must have left G1 alone.
    after_stage1 = load_file(str(run_dir / "checkpoints" / "checkpoint-2" / "model.safetensors"))
    for name, value in fitted.generators["g1"].state_dict().items():
        assert torch.equal(value, after_stage1[f"g1.{name}"]), name
    fresh_g1 = TwoStage(TINY).build_generator(1).state_dict()
    assert any(not torch.equal(v, fresh_g1[k]) for k, v in fitted.generators["g1"].state_dict().items())
    fresh = TwoStage(TINY).build_generator(2).state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in fitted.generators["g2"].state_dict().items())

    frames = fitted.transfer(subject.images, subject.poses, subject.poses[:5])
    assert frames.shape == (5, 32, 32, 3) and frames.dtype == np.uint8
    assert (run_dir / "samples" / "step_0000003.png").is_file()


def test_save_and_load_give_identical_frames(
    tmp_path: Path, subject: SubjectFrames, fitted: TwoStage
) -> None:
    fitted.save(tmp_path)
    loaded = TwoStage.load(tmp_path)
    assert loaded.config == fitted.config and set(loaded.generators) == {"g1", "g2"}
    before = fitted.transfer(subject.images, subject.poses, subject.poses)
    assert np.array_equal(loaded.transfer(subject.images, subject.poses, subject.poses), before)
    with pytest.raises(ToolkitError, match="fit"):
        TwoStage(TINY).transfer(subject.images, subject.poses, subject.poses)
