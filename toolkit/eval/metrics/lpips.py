"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"),
version 0.1, in plain torch.

For a pair of frames:

1. map uint8 to [-1, 1] (``x / 127.5 - 1``), then apply LPIPS's ScalingLayer ``(x - shift) / scale`` with
   shift = (-0.030, -0.088, -0.188) and scale = (0.458, 0.448, 0.450) per RGB channel;
2. run the backbone (torchvision's ImageNet AlexNet or VGG16 ``features``) and take the five ReLU outputs
   LPIPS uses: AlexNet relu1..relu5, VGG16 relu1_2, relu2_2, relu3_3, relu4_3, relu5_3;
3. unit-normalise each feature vector over channels, ``f / (||f|| + 1e-10)``;
4. square the difference, weight the channels with the layer's learned 1x1 linear head (no bias), average
   over the spatial positions;
5. sum over the five layers.

The linear heads are the ones the ``lpips`` package ships (``lpips/weights/v0.1/{alex,vgg}.pth``), found
on disk without importing ``lpips`` (which imports torchvision). The backbone is the user's file: no ImageNet
weights ship with the toolkit, and without them the metric reports itself unavailable rather than score
with random features.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import check_choice
from ...nn.backbones import FeatureStack, load_backbone
from ...weights import WeightsFileError, load_tensors
from .base import Metric, MetricInputs, MetricKind, Score, batches, to_tensor


@dataclass(frozen=True)
class _Variant:
    backbone: str  # toolkit.nn.backbones name
    layers: tuple[str, ...]  # the ReLUs LPIPS reads
    torchvision_file: str  # the ImageNet weights torchvision downloads for it


LPIPS_NETS: dict[str, _Variant] = {
    "alex": _Variant("alexnet", ("relu1", "relu2", "relu3", "relu4", "relu5"), "alexnet-owt-7be5be79.pth"),
    "vgg": _Variant("vgg16", ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"), "vgg16-397923af.pth"),
}

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10


def shipped_heads(net: str) -> Path | None:
    """Path of the ``lpips`` package's v0.1 linear heads for ``net`` (``"alex"`` or ``"vgg"``), or None
    when the package is not installed."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "weights" / "v0.1" / f"{net}.pth"
    return path if path.is_file() else None


class LPIPSNetwork(nn.Module):
    """LPIPS v0.1 on a loaded backbone (see the module docstring).

    Args:
        backbone: The feature stack, returning the five LPIPS layers.
        heads: The five ``(1, C_l, 1, 1)`` linear-head weights, in layer order.
    """

    def __init__(self, backbone: FeatureStack, heads: list[torch.Tensor]) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleList()
        for weight in heads:
            head = nn.Conv2d(weight.shape[1], 1, kernel_size=1, bias=False)
            head.weight.data.copy_(weight)
            self.heads.append(head)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` RGB in [-1, 1] twice -> ``(B,)`` distances."""
        # 1. Both images through the backbone in one batch.
        scaled = (torch.cat([a, b]) - self.shift) / self.scale
        distance = a.new_zeros(len(a))
        for features, head in zip(self.backbone(scaled), self.heads, strict=True):
            # 2. Unit-normalise channels; 3. weighted squared difference, averaged over space.
            unit = features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + _EPS)
            fa, fb = unit.chunk(2)
            distance = distance + head((fa - fb) ** 2).mean(dim=(1, 2, 3))
        return distance


def read_heads(path: str | Path) -> list[torch.Tensor]:
    """The five ``lin{k}.model.1.weight`` tensors of an ``lpips`` v0.1 heads file, in layer order."""
    state = load_tensors(path, what="LPIPS heads")
    try:
        return [state[f"lin{k}.model.1.weight"] for k in range(5)]
    except (KeyError, TypeError):
        raise WeightsFileError(f"{path}: not an LPIPS v0.1 heads file (no lin0 .. lin4 weights)") from None


@lru_cache(maxsize=2)
def _network(net: str, backbone: str, heads: str, device: str) -> LPIPSNetwork:
    variant = LPIPS_NETS[net]
    features = load_backbone(variant.backbone, backbone, variant.layers)
    return LPIPSNetwork(features, read_heads(heads)).to(device).eval().requires_grad_(False)


@dataclass(frozen=True)
class LPIPS(Metric):
    """LPIPS distance of each generated frame to its target (see the module docstring).

    Settings:
        net: ``"alex"`` (default, as in the ``lpips`` package and the pose-transfer papers that report
            LPIPS) or ``"vgg"`` (VGG16).
        backbone: Path to torchvision's ImageNet state dict for that network (``alexnet-owt-7be5be79.pth``
            or ``vgg16-397923af.pth``). Required: without it the metric is unavailable.
        heads: Path to LPIPS v0.1 linear heads. Default: the file the ``lpips`` package ships.
        batch_size: Frame pairs per forward pass. Default 16.
    """

    name: ClassVar[str] = "lpips"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = False

    net: str = "alex"
    backbone: str | None = None
    heads: str | None = None
    batch_size: int = 16

    def __post_init__(self) -> None:
        check_choice(self.net, LPIPS_NETS, "LPIPS net")
        if self.backbone is not None:
            object.__setattr__(self, "backbone", str(self.backbone))
        heads = self.heads if self.heads is not None else shipped_heads(self.net)
        object.__setattr__(self, "heads", None if heads is None else str(heads))

    def unavailable_reason(self, inputs: MetricInputs) -> str | None:
        variant = LPIPS_NETS[self.net]
        if self.backbone is None:
            return (
                f"needs the {variant.backbone} backbone weights: pass --lpips-backbone PATH (backbone=PATH) "
                f"to torchvision's ImageNet {variant.backbone} state dict ({variant.torchvision_file})"
            )
        if self.heads is None:
            return "needs LPIPS's linear heads: pip install --no-deps lpips==0.1.4, or pass heads=PATH"
        return None

    def score(self, inputs: MetricInputs) -> Score:
        network = _network(self.net, str(self.backbone), str(self.heads), str(inputs.device))
        values = np.empty(len(inputs.generated))
        with torch.inference_mode():
            for part in batches(len(values), self.batch_size):
                a = to_tensor(inputs.generated[part], inputs.device) / 127.5 - 1.0
                b = to_tensor(inputs.target[part], inputs.device) / 127.5 - 1.0
                values[part] = network(a, b).double().cpu().numpy()
        return Score(float(values.mean()), values)
