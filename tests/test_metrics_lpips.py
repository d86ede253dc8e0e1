"""LPIPS in plain torch against the ``lpips`` package itself, and the torchvision-compatible backbones.

No ImageNet weights exist offline, so the backbones here are random initialisations, written to files named
as such. The reference run imports ``lpips`` with a stand-in ``torchvision`` module that hands it the same
random backbone.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit.eval.metrics import LPIPS, MetricInputs, build_metric
from toolkit.nn.backbones import (
    IMAGENET_MEAN,
    BackboneWeightsError,
    FeatureStack,
    imagenet_normalize,
    load_backbone,
)

BACKBONE_OF = {"alex": "alexnet", "vgg": "vgg16"}


def random_backbone_file(folder: Path, name: str, seed: int = 0) -> tuple[Path, FeatureStack]:
    """Write a randomly initialised backbone as torchvision would save the whole model (with a classifier
    key, which loading must ignore)."""
    torch.manual_seed(seed)
    stack = FeatureStack(name)
    state = {**stack.state_dict(), "classifier.6.weight": torch.zeros(10, 4)}
    path = folder / f"random_init_{name}_for_test.pth"
    torch.save(state, path)
    return path, stack


def frames(seed: int, n: int = 3, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.fixture
def reference_lpips(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The ``lpips`` package, imported with a stand-in torchvision whose models are ``FeatureStack``s."""
    fake = types.ModuleType("torchvision")
    fake.models = types.SimpleNamespace()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    before = set(sys.modules)
    import lpips

    yield lpips
    for name in set(sys.modules) - before:
        if name == "lpips" or name.startswith("lpips."):
            del sys.modules[name]


def test_without_backbone_lpips_is_unavailable_and_says_what_to_pass() -> None:
    result = build_metric("lpips").compute(MetricInputs(frames(0), frames(1)))
    assert not result.available and np.isnan(result.value) and result.per_frame is None
    assert result.reason.startswith("lpips needs the alexnet backbone weights: pass --lpips-backbone PATH")
    assert "alexnet-owt-7be5be79.pth" in result.reason
    vgg = build_metric("lpips", net="vgg").compute(MetricInputs(frames(0), frames(1)))
    assert "vgg16-397923af.pth" in vgg.reason


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_matches_the_lpips_package(net: str, tmp_path: Path, reference_lpips: types.ModuleType) -> None:
    path, stack = random_backbone_file(tmp_path, BACKBONE_OF[net])
    model = types.SimpleNamespace(features=stack.features)
    setattr(sys.modules["torchvision"].models, BACKBONE_OF[net], lambda pretrained=True: model)
    reference = reference_lpips.LPIPS(net=net, version="0.1", verbose=False)

    generated, target = frames(1), frames(2)
    result = LPIPS(net=net, backbone=str(path)).compute(MetricInputs(generated, target))

    def as_input(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1.0

    with torch.no_grad():
        expected = reference(as_input(generated), as_input(target)).flatten().numpy()
    np.testing.assert_allclose(result.per_frame, expected, rtol=1e-4, atol=1e-7)
    assert result.settings["backbone"] == str(path)


def test_lpips_is_zero_for_identical_frames(tmp_path: Path) -> None:
    path, _ = random_backbone_file(tmp_path, "vgg16")
    metric = build_metric("lpips", net="vgg", backbone=str(path))
    a, b = frames(3, n=2, size=48), frames(4, n=2, size=48)
    assert metric.compute(MetricInputs(a, a.copy())).per_frame.tolist() == [0.0, 0.0]
    assert (metric.compute(MetricInputs(a, b)).per_frame > 0).all()


def test_backbone_files_load_by_torchvision_keys_and_wrong_files_are_refused(tmp_path: Path) -> None:
    path, stack = random_backbone_file(tmp_path, "vgg19")
    loaded = load_backbone("vgg19", path, ["relu1_1", "relu5_4", "relu3_1"])
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    x = torch.rand(1, 3, 32, 32)
    shapes = [tuple(out.shape) for out in loaded(x)]
    assert shapes == [(1, 64, 32, 32), (1, 512, 2, 2), (1, 256, 8, 8)]
    torch.testing.assert_close(loaded(x)[0], stack.features[:2](x))

    with pytest.raises(BackboneWeightsError, match="is not torchvision's vgg16"):
        load_backbone("vgg16", path)
    with pytest.raises(BackboneWeightsError, match="no such file \\(alexnet weights\\)"):
        load_backbone("alexnet", tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="has no layer"):
        FeatureStack("alexnet", ["relu1_2"])
    grey = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    assert imagenet_normalize(grey).abs().max() < 1e-6
