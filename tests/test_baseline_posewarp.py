"""posewarp: paper defaults, the inputs it encodes, each module's shapes, the prior-driven layers, a fit of
3 steps, and save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.posewarp import (
    RECONSTRUCTION_LOSSES,
    VGG_LAYERS,
    WARP_LIMBS,
    Jitter,
    PairsDataset,
    Posewarp,
    PosewarpConfig,
    PosewarpDiscriminator,
    PosewarpGenerator,
    PosewarpInputs,
    PosewarpUNet,
    PosewarpUpper,
    PosewarpVGGLoss,
    log_mask_prior,
)
from toolkit.data.datasets import mannequin_frames
from toolkit.data.subject import SubjectFrames
from toolkit.methods import Baseline, get_method
from toolkit.nn.backbones import imagenet_normalize
from toolkit.nn.losses import PerceptualWeightsError
from toolkit.nn.warp import apply_transform, limb_points

TINY = {"size": 64, "width": 8, "disc_width": 4}
FIT = {**TINY, "steps": 3, "batch_size": 2, "progress": False}


@pytest.fixture(scope="module")
def subject() -> SubjectFrames:
    return mannequin_frames(1, motions=("walk",), frames=6, size=64)


@pytest.fixture(scope="module")
def fitted(subject: SubjectFrames) -> Posewarp:
    torch.manual_seed(0)
    method = Posewarp(FIT)
    method.fit(subject, FIT)
    return method


def batch_of(dataset: PairsDataset, keys: list) -> dict[str, torch.Tensor]:
    items = [dataset[k] for k in keys]
    return {name: torch.stack([item[name] for item in items]) for name in items[0]}


def inputs_of(batch: dict[str, torch.Tensor]) -> PosewarpInputs:
    names = ("source", "source_pose", "target_pose", "log_prior", "transforms")
    return PosewarpInputs(**{name: batch[name] for name in names})


def test_registered_with_the_papers_defaults(tmp_path: Path) -> None:
    assert get_method("posewarp") is Posewarp and get_method("posewarp-upper") is PosewarpUpper
    assert isinstance(Posewarp(), Baseline)
    c = PosewarpConfig()
    assert (c.size, c.width, c.disc_width, c.gan_weight, c.lr, c.joint_sigma) == (
        256,
        128,
        64,
        0.1,
        1e-4,
        3.5,
    )
    assert (c.layout, c.joints, c.limbs, c.reconstruction_loss) == ("mpii_14", 14, 10, "l1")
    upper = PosewarpUpper().config
    assert (upper.layout, upper.joints, upper.limbs) == ("upper_body_7", 7, 5)
    with_weights = PosewarpConfig(vgg19_weights=str(tmp_path / "vgg19.pth"))
    assert with_weights.reconstruction is None and with_weights.reconstruction_loss == "vgg"
    assert PosewarpConfig(reconstruction="l1", vgg19_weights="vgg19.pth").reconstruction_loss == "l1"
    for bad in ({"size": 48}, {"layout": "body_18"}, {"reconstruction": "ssim"}, {"gan_weight": -1.0}):
        with pytest.raises(ValueError):
            PosewarpConfig(**bad)
    with pytest.raises(ValueError, match="no setting"):
        Posewarp({"colour": 1})


def test_dataset_encodes_pairs_whose_transforms_match_the_limbs(subject: SubjectFrames) -> None:
    config = PosewarpConfig(**TINY, augment=False)
    dataset = PairsDataset(subject, config)
    item = dataset[(2, 7)]
    assert item["source"].shape == item["target"].shape == (3, 64, 64)
    assert item["source_pose"].shape == item["target_pose"].shape == (14, 32, 32)
    assert item["log_prior"].shape == (11, 64, 64) and item["transforms"].shape == (10, 2, 3)
    assert not torch.equal(item["source"], item["target"])  # a pair of two frames
    # Each bone's transform carries its source joints onto its target joints.
    index, other = dataset.pair((2, 7))
    assert index == 2 and other != 2 and dataset.pair(2) == (2, 5)
    source, _ = limb_points(dataset.keypoints[2], WARP_LIMBS["mpii_14"])
    target, _ = limb_points(dataset.keypoints[other], WARP_LIMBS["mpii_14"])
    moved = apply_transform(item["transforms"][:9], source[:9, :2])
    torch.testing.assert_close(moved, target[:9, :2], atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="pairs of frames"):
        PairsDataset(subject.__class__(subject.images[:1], subject.poses[:1]), config)


def test_prior_is_log_of_background_and_limb_masks(subject: SubjectFrames) -> None:
    config = PosewarpConfig(**TINY)
    prior = log_mask_prior(PairsDataset(subject, config).keypoints[:2], config).exp()
    assert prior.shape == (2, 11, 64, 64)
    torch.testing.assert_close(prior[:, 0], 1 - prior[:, 1:].amax(1), atol=1e-6, rtol=0)
    assert prior[:, 1:].amax() > 0.9 and prior.amin() >= 0


@pytest.mark.parametrize("layout, joints, limbs", [("mpii_14", 14, 10), ("upper_body_7", 7, 5)])
def test_module_shapes(subject: SubjectFrames, layout: str, joints: int, limbs: int) -> None:
    config = PosewarpConfig(**TINY, layout=layout)
    batch = batch_of(PairsDataset(subject, config), [0, 3])
    unet = PosewarpUNet(5, joints, 6, width=8)
    assert unet(torch.rand(2, 5, 64, 64), batch["source_pose"]).shape == (2, 6, 64, 64)
    with pytest.raises(ValueError, match="multiples of 32"):
        unet(torch.rand(1, 5, 48, 48), torch.rand(1, joints, 24, 24))
    out = PosewarpGenerator(joints, limbs, width=8)(inputs_of(batch))
    assert out.image.shape == out.foreground.shape == out.background.shape == (2, 3, 64, 64)
    assert out.mask.shape == (2, 1, 64, 64) and out.layers.shape == (2, limbs + 1, 64, 64)
    assert out.warped.shape == (2, limbs, 3, 64, 64)
    torch.testing.assert_close(out.layers.sum(1), torch.ones(2, 64, 64))
    # The composition y = M_t * y_fg + (1 - M_t) * y_bg.
    composed = out.mask * out.foreground + (1 - out.mask) * out.background
    torch.testing.assert_close(out.image, composed)
    logits = PosewarpDiscriminator(joints, 64, width=4)(out.image, batch["source_pose"], batch["target_pose"])
    assert logits.shape == (2, 1)


def test_with_no_correction_the_layers_are_the_normalised_prior(subject: SubjectFrames) -> None:
    config = PosewarpConfig(**TINY)
    batch = batch_of(PairsDataset(subject, config), [1])
    generator = PosewarpGenerator(14, 10, width=8).eval()
    with torch.no_grad():
        generator.segmentation_head.weight.zero_()
        generator.segmentation_head.bias.zero_()
        out = generator(inputs_of(batch))
    prior = batch["log_prior"].exp()
    torch.testing.assert_close(out.layers, prior / prior.sum(1, keepdim=True), atol=1e-5, rtol=1e-4)
    # Module B: each warped layer is its masked source layer moved by its limb's transform.
    pieces = out.layers[:, 1:, None] * batch["source"][:, None]
    assert out.warped.abs().sum() > 0 and not torch.allclose(out.warped, pieces)


def test_fit_of_three_steps_trains_and_transfers(subject: SubjectFrames, fitted: Posewarp) -> None:
    untrained = Posewarp(TINY).build_generator()
    trained = fitted.generator
    assert isinstance(trained, PosewarpGenerator)
    changed = [
        not torch.equal(a, b)
        for a, b in zip(untrained.state_dict().values(), trained.state_dict().values(), strict=True)
    ]
    assert any(changed)
    frames = fitted.transfer(subject.images[:1], subject.poses[:1], subject.poses[2:5])
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == np.uint8
    # Eval mode is deterministic: the same target pose gives the same frame.
    again = fitted.transfer(subject.images[:1], subject.poses[:1], subject.poses[2:3])
    np.testing.assert_array_equal(again[0], frames[0])
    with pytest.raises(ValueError, match="source image"):
        fitted.transfer(subject.images[:0], subject.poses[:0], subject.poses[2:3])


def test_sample_grid_shows_source_generated_target(subject: SubjectFrames, fitted: Posewarp) -> None:
    dataset = PairsDataset(subject, fitted.config)
    picture = fitted.sample_grid(batch_of(dataset, [0, 1]))
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    assert picture.shape[0] >= 2 * 64 and picture.shape[1] >= 3 * 64


def test_save_and_load_give_identical_outputs(
    subject: SubjectFrames, fitted: Posewarp, tmp_path: Path
) -> None:
    fitted.save(tmp_path)
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["method"] == "posewarp" and record["config"]["reconstruction"] is None  # as asked
    loaded = Posewarp.load(tmp_path)
    assert loaded.config == fitted.config
    args = (subject.images[:1], subject.poses[:1], subject.poses[3:5])
    np.testing.assert_array_equal(loaded.transfer(*args), fitted.transfer(*args))


def test_vgg_reconstruction_needs_weights(subject: SubjectFrames) -> None:
    method = Posewarp({**TINY, "reconstruction": "vgg"})
    with pytest.raises(PerceptualWeightsError):
        method.training_setup(subject, torch.device("cpu"))


def test_pairs_are_more_than_the_gap_apart(subject: SubjectFrames) -> None:
    dataset = PairsDataset(subject, PosewarpConfig(**TINY, min_gap=0.3))  # 6 frames: more than 1.8 apart
    np.testing.assert_array_equal(dataset.partners(2), [0, 4, 5])
    np.testing.assert_array_equal(dataset.partners(0), [2, 3, 4, 5])
    for draw in range(20):
        index, other = dataset.pair((draw % 6, draw))
        assert abs(index - other) > 1.8
    with pytest.raises(ValueError, match="min_gap"):
        PosewarpConfig(min_gap=0.5)


def test_jitter_keeps_joints_on_their_pixels_and_flip_swaps_sides() -> None:
    from toolkit.pose.sequence import PoseSequence

    size = 64
    keypoints = np.full((1, 18, 3), np.nan, dtype=np.float32)
    keypoints[..., 2] = 0
    keypoints[0, 2] = (20, 30, 1)  # right shoulder
    keypoints[0, 5] = (44, 30, 1)  # left shoulder
    poses = PoseSequence(keypoints, size, size)
    image = np.zeros((size, size, 3), np.uint8)
    image[30, 20] = (255, 0, 0)  # the right shoulder's pixel in red
    jitter = Jitter(flip=True, scale=0.95, shift=(3, -2), degrees=4.0)
    moved, moved_poses = jitter.apply(image, poses)
    # Flipped: the red (formerly right) pixel is now the left shoulder's, at the jittered position.
    left = moved_poses.keypoints[0, 5, :2]
    y, x = np.unravel_index(np.argmax(moved[..., 0]), moved.shape[:2])
    assert abs(x - left[0]) <= 1 and abs(y - left[1]) <= 1
    assert moved_poses.keypoints[0, 2, 0] < moved_poses.keypoints[0, 5, 0] - 10  # sides swapped
    draws = [Jitter.draw(np.random.default_rng(k), 256) for k in range(50)]
    assert all(0.9 <= d.scale <= 1.05 and abs(d.degrees) <= 5 and max(map(abs, d.shift)) <= 5 for d in draws)
    assert 0 < sum(d.flip for d in draws) < 50


def test_dataset_jitters_source_and_target_alike(subject: SubjectFrames) -> None:
    plain = PairsDataset(subject, PosewarpConfig(**TINY, augment=False))
    jittered = PairsDataset(subject, PosewarpConfig(**TINY))
    assert plain.pair((1, 9)) == jittered.pair((1, 9))  # jitter does not change the pair
    a, b = plain[(1, 9)], jittered[(1, 9)]
    assert not torch.equal(a["source"], b["source"]) and not torch.equal(a["target"], b["target"])
    torch.testing.assert_close(jittered[(1, 9)]["source"], b["source"])  # seeded by the draw
    assert torch.equal(plain[1]["source"], jittered[1]["source"])  # clean samples stay clean


def test_schedule_pretrains_then_warms_up_the_discriminator(subject: SubjectFrames) -> None:
    from toolkit.nn.trainer import StepContext

    method = Posewarp({**TINY, "pretrain_steps": 2, "disc_warmup_steps": 2})
    assert [method.phase(s) for s in range(1, 7)] == ["pretrain"] * 2 + ["warmup"] * 2 + ["gan"] * 2
    setup = method.training_setup(subject, torch.device("cpu"))
    batch = batch_of(setup.dataset, [(0, 1), (3, 2)])

    def step(number: int) -> tuple[dict[str, float], bool, bool]:
        before = {n: [p.clone() for p in m.parameters()] for n, m in setup.models.items()}
        context = StepContext(number, 6, setup.models, setup.optimizers, lambda loss: loss.backward())
        losses = method.training_step(batch, context)
        moved = {
            n: any(not torch.equal(a, b) for a, b in zip(before[n], m.parameters(), strict=True))
            for n, m in setup.models.items()
        }
        return losses, moved["generator"], moved["discriminator"]

    losses, g, d = step(1)
    assert g and not d and np.isnan(losses["g_gan"]) and np.isnan(losses["d"]) and losses["g_l1"] > 0
    losses, g, d = step(3)
    assert d and not g and np.isnan(losses["g_gan"]) and losses["d"] > 0
    losses, g, d = step(5)
    assert g and d and losses["g_gan"] > 0


def test_resume_is_exact(subject: SubjectFrames, tmp_path: Path) -> None:
    settings = {**FIT, "pretrain_steps": 1, "disc_warmup_steps": 1, "checkpoint_every": 2}
    torch.manual_seed(0)
    whole = Posewarp(settings)
    whole.fit(subject, {**settings, "steps": 4, "output_dir": str(tmp_path / "a")})
    part = Posewarp(settings)
    part.fit(subject, {**settings, "steps": 2, "output_dir": str(tmp_path / "b")})
    resumed = Posewarp(settings)
    resumed.fit(subject, {**settings, "steps": 4, "output_dir": str(tmp_path / "b"), "resume": "latest"})
    for a, b in zip(
        whole.generator.state_dict().values(), resumed.generator.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_debug_grid_shows_every_layer(subject: SubjectFrames, fitted: Posewarp) -> None:
    picture = fitted.debug_grid(subject.images[0], subject.poses[0], subject.poses[3])
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    # Three rows of 64 px tiles; the widest row holds the 11 source layers.
    assert picture.shape[0] >= 3 * 64 and picture.shape[1] >= 11 * 64


def test_vgg_loss_normalises_each_layer_by_its_statistics(subject: SubjectFrames, tmp_path: Path) -> None:
    from toolkit.nn.backbones import FeatureStack

    torch.manual_seed(0)
    weights = tmp_path / "vgg19_random_init.pth"
    torch.save(FeatureStack("vgg19").state_dict(), weights)
    method = Posewarp({**TINY, "vgg19_weights": str(weights)})
    assert method.config.reconstruction_loss == "vgg"
    method.training_setup(subject, torch.device("cpu"))
    loss = method._reconstruction
    assert isinstance(loss, PosewarpVGGLoss) and len(loss.backbone.layers) == len(VGG_LAYERS) == 12
    images = torch.stack(
        [torch.from_numpy(i).permute(2, 0, 1).float() / 127.5 - 1 for i in subject.images[:2]]
    )
    assert loss(images, images).item() == 0
    # By hand: the mean over layers of |difference| / (channel std + 0.1).
    other = images.flip(0)
    features = loss.backbone(imagenet_normalize((torch.cat([images, other]) + 1) / 2))
    expected = (
        sum(
            ((f[:2] - f[2:]) * getattr(loss, f"scale{k}")[:, None, None]).abs().mean()
            for k, f in enumerate(features)
        )
        / 12
    )
    torch.testing.assert_close(loss(images, other), expected)
    assert all(torch.all(getattr(loss, f"scale{k}") <= 10.0 + 1e-4) for k in range(12))


def test_every_reconstruction_the_config_accepts_has_a_loss():
    from toolkit.nn.losses import RECONSTRUCTIONS

    assert tuple(RECONSTRUCTION_LOSSES) == RECONSTRUCTIONS
