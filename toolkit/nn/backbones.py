"""VGG16, VGG19 and AlexNet feature stacks in plain torch, laid out exactly as torchvision's ``features``.

The parameters are named ``features.N.weight`` / ``features.N.bias`` with torchvision's layer indices N, so
a user's torchvision checkpoint (``torch.save(torchvision.models.vgg19(weights=...).state_dict(), path)``)
loads with ``torch.load(path, weights_only=True)`` and no torchvision installed. The classifier is not
built; its keys in a checkpoint are ignored.

Layers are named as in the papers: VGG's ``conv{block}_{i}``, ``relu{block}_{i}``, ``pool{block}``
(``relu1_2`` is the ReLU after the second conv of the first block); AlexNet's ``conv1..5``,
``relu1..5``, ``pool1``, ``pool2``, ``pool5``. A :class:`FeatureStack` returns the activations at the layers
it is asked for and stops after the last.

Input convention (torchvision's): ``(B, 3, H, W)`` RGB in [0, 1], normalised with :data:`IMAGENET_MEAN`
and :data:`IMAGENET_STD` (see :func:`imagenet_normalize`). LPIPS feeds its own scaling instead.

No weights ship with the toolkit: a backbone is loaded from a file the user gives, or built with torch's
random init when a test or a tiny config asks for it explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from ..checks import lookup
from ..errors import ToolkitError
from ..weights import load_tensors

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

Layers = tuple[list[nn.Module], list[str]]


class BackboneWeightsError(ToolkitError, ValueError):
    """A backbone weights file is missing, unreadable or does not fit the architecture."""


# torchvision's VGG configurations: an int is a 3x3 conv (padding 1) with that many output channels,
# followed by a ReLU; "M" is a 2x2 max-pool with stride 2.
_VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"),
}  # fmt: skip


def _vgg(config: tuple[int | str, ...]) -> Layers:
    modules: list[nn.Module] = []
    names: list[str] = []
    channels, block, conv = 3, 1, 1
    for item in config:
        if isinstance(item, str):
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            names.append(f"pool{block}")
            block, conv = block + 1, 1
            continue
        modules += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU()]
        names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        channels, conv = item, conv + 1
    return modules, names


def _alexnet() -> Layers:
    # (in, out, kernel, stride, padding) of torchvision's five convs; a max-pool follows convs 1, 2 and 5.
    convs = ((3, 64, 11, 4, 2), (64, 192, 5, 1, 2), (192, 384, 3, 1, 1), (384, 256, 3, 1, 1),
             (256, 256, 3, 1, 1))  # fmt: skip
    modules: list[nn.Module] = []
    names: list[str] = []
    for i, (c_in, c_out, kernel, stride, padding) in enumerate(convs, start=1):
        modules += [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding), nn.ReLU()]
        names += [f"conv{i}", f"relu{i}"]
        if i in (1, 2, 5):
            modules.append(nn.MaxPool2d(kernel_size=3, stride=2))
            names.append(f"pool{i}")
    return modules, names


BACKBONES: dict[str, Callable[[], Layers]] = {
    "vgg16": lambda: _vgg(_VGG_CONFIGS["vgg16"]),
    "vgg19": lambda: _vgg(_VGG_CONFIGS["vgg19"]),
    "alexnet": _alexnet,
}


class FeatureStack(nn.Module):
    """A torchvision ``features`` stack that returns the activations at chosen layers.

    Args:
        name: ``"vgg16"``, ``"vgg19"`` or ``"alexnet"`` (``BACKBONES``).
        layers: Names of the layers to return, e.g. ``("relu1_2", "relu2_2")``; any order, returned in
            the order given. Default: the network's last layer.

    The weights are torch's random init until loaded (see :func:`load_backbone`).
    """

    def __init__(self, name: str, layers: Sequence[str] | None = None) -> None:
        super().__init__()
        modules, names = lookup(BACKBONES, name, "backbone")()
        self.name = name
        self.layer_names: tuple[str, ...] = tuple(names)
        self.features = nn.Sequential(*modules)
        wanted = list(layers) if layers is not None else [names[-1]]
        unknown = [layer for layer in wanted if layer not in names]
        if unknown or not wanted:
            raise ValueError(f"{name} has no layer(s) {unknown or wanted}; its layers are {', '.join(names)}")
        self.layers = tuple(wanted)
        self._taps = [names.index(layer) for layer in wanted]

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` normalised images -> one ``(B, C_l, H_l, W_l)`` activation per requested
        layer, in the order of ``self.layers``."""
        wanted = {index: k for k, index in enumerate(self._taps)}
        outputs: list[torch.Tensor | None] = [None] * len(self._taps)
        x = images
        for index, module in enumerate(self.features[: max(self._taps) + 1]):
            x = module(x)
            if index in wanted:
                outputs[wanted[index]] = x
        return outputs  # type: ignore[return-value]


def imagenet_normalize(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB in [0, 1] -> torchvision's input: ``(x - IMAGENET_MEAN) / IMAGENET_STD``."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device)[:, None, None]
    return (images - mean) / std


def load_backbone(
    name: str,
    path: str | Path,
    layers: Sequence[str] | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> FeatureStack:
    """A :class:`FeatureStack` with weights from a torchvision state dict file, frozen and in eval mode.

    Args:
        name: ``"vgg16"``, ``"vgg19"`` or ``"alexnet"``.
        path: A ``.pth`` file holding torchvision's state dict for that model (``features.N.*`` keys; the
            ``classifier.*`` keys are ignored), or the state dict of its ``features`` alone (``N.*`` keys).
            Read with ``torch.load(weights_only=True)``.
        layers: Layers to return (see :class:`FeatureStack`).
        device: Where to put the network. Default CPU.
        dtype: Floating dtype of the weights. Default float32.

    Raises:
        BackboneWeightsError: the file is missing, unreadable or holds another architecture.
    """
    stack = FeatureStack(name, layers)
    path = Path(path)
    state = load_tensors(path, what=f"{name} weights", error=BackboneWeightsError)
    if not isinstance(state, dict):
        raise BackboneWeightsError(f"{path} holds a {type(state).__name__}, not a state dict")
    if not any(key.startswith("features.") for key in state):
        state = {f"features.{key}": value for key, value in state.items()}
    features = {key: value for key, value in state.items() if key.startswith("features.")}
    expected = stack.state_dict()
    missing = sorted(set(expected) - set(features))
    unexpected = sorted(set(features) - set(expected))
    wrong = [k for k in expected if k in features and features[k].shape != expected[k].shape]
    problems = [
        *([f"missing {', '.join(missing[:3])}"] if missing else []),
        *([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []),
        *(
            [
                f"{k} has shape {tuple(features[k].shape)}, expected {tuple(expected[k].shape)}"
                for k in wrong[:3]
            ]
        ),
    ]
    if problems:
        raise BackboneWeightsError(
            f"{path} is not torchvision's {name} ({'; '.join(problems)}); pass the state dict of "
            f"torchvision.models.{name}() (the batch-norm variants are not supported)"
        )
    stack.load_state_dict(features)
    return stack.to(device=device, dtype=dtype).eval().requires_grad_(False)
