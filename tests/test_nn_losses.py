"""GAN losses on known logits, and the VGG19 perceptual loss: unavailable without weights, working with a
random-init VGG19 file that the test writes (and names as such)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from toolkit.nn.backbones import BackboneWeightsError, FeatureStack
from toolkit.nn.losses import GAN_LOSSES, PerceptualWeightsError, VGGPerceptualLoss, gan_loss


def _full(value: float) -> torch.Tensor:
    return torch.full((2, 1, 3, 3), value)


@pytest.mark.parametrize(
    ("name", "real", "fake", "expected_d", "expected_g"),
    [
        # BCE with logits: log(1 + e^0) = ln 2 for every term at logit 0.
        ("vanilla", 0.0, 0.0, math.log(2), math.log(2)),
        # A confident discriminator: BCE terms log(1 + e^-2) each; the generator pays log(1 + e^2).
        ("vanilla", 2.0, -2.0, math.log1p(math.exp(-2)), math.log1p(math.exp(2))),
        ("lsgan", 1.0, 0.0, 0.0, 1.0),
        ("lsgan", 0.0, 1.0, 1.0, 0.0),
        ("lsgan", 0.5, 0.5, 0.25, 0.25),
        ("hinge", 0.0, 0.0, 1.0, 0.0),
        ("hinge", 2.0, -3.0, 0.0, 3.0),  # beyond the margins both hinges are 0
        ("hinge", 0.5, 0.5, 0.5 * (0.5 + 1.5), -0.5),
    ],
)
def test_gan_losses_on_known_logits(
    name: str, real: float, fake: float, expected_d: float, expected_g: float
) -> None:
    loss = gan_loss(name)
    assert loss.discriminator(_full(real), _full(fake)).item() == pytest.approx(
        expected_d, rel=1e-6, abs=1e-7
    )
    assert loss.generator(_full(fake)).item() == pytest.approx(expected_g, rel=1e-6, abs=1e-7)


def test_multi_scale_logits_sum_over_scales() -> None:
    for loss in GAN_LOSSES.values():
        one = loss.generator(_full(0.3))
        assert loss.generator([_full(0.3), torch.full((2, 1, 1, 1), 0.3)]).item() == pytest.approx(
            2 * one.item()
        )
        d = loss.discriminator([_full(0.2), _full(0.2)], [_full(-0.1), _full(-0.1)])
        assert d.item() == pytest.approx(2 * loss.discriminator(_full(0.2), _full(-0.1)).item())


def test_unknown_loss_and_empty_scales_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown GAN loss 'wgan'.*'vanilla', 'lsgan', 'hinge'"):
        gan_loss("wgan")
    with pytest.raises(ValueError, match="empty list"):
        gan_loss("lsgan").generator([])


# ---- perceptual loss ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_vgg19_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VGG19 state dict in torchvision's layout with torch's random init: NOT ImageNet weights, only a
    stand-in so that the loss can be exercised offline."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "vgg19_random_init_for_tests.pth"
    torch.save(FeatureStack("vgg19").state_dict(), path)
    return path


def test_perceptual_loss_is_unavailable_without_a_weights_file(tmp_path: Path) -> None:
    with pytest.raises(PerceptualWeightsError, match="needs ImageNet weights.*--no-perceptual"):
        VGGPerceptualLoss.from_file(None)
    with pytest.raises(BackboneWeightsError, match="missing.pth: no such file \\(vgg19 weights\\)"):
        VGGPerceptualLoss.from_file(tmp_path / "missing.pth")


def test_perceptual_loss_with_random_init_weights_file(random_vgg19_file: Path) -> None:
    loss = VGGPerceptualLoss.from_file(random_vgg19_file)
    assert loss.backbone.layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert all(not p.requires_grad for p in loss.parameters())
    torch.manual_seed(1)
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    assert loss(target.clone(), target).item() == 0.0
    generated = (target + 0.3 * torch.randn_like(target)).clamp(-1, 1).requires_grad_(True)
    value = loss(generated, target)
    assert value.item() > 0
    value.backward()
    assert generated.grad is not None and generated.grad.abs().sum() > 0


def test_perceptual_loss_weights_each_layer(random_vgg19_file: Path) -> None:
    torch.manual_seed(2)
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    first = VGGPerceptualLoss.from_file(random_vgg19_file, layers=("relu1_1",), weights=(1.0,))
    double = VGGPerceptualLoss.from_file(random_vgg19_file, layers=("relu1_1",), weights=(2.0,))
    assert double(a, b).item() == pytest.approx(2 * first(a, b).item(), rel=1e-6)
    with pytest.raises(ValueError, match="2 weights for the 1 layers"):
        VGGPerceptualLoss.from_file(random_vgg19_file, layers=("relu1_1",), weights=(1.0, 2.0))
