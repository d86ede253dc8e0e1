"""Normalisation layers by name, as pix2pix chooses them (``--norm batch|instance|none``).

pix2pix's batch norm keeps running statistics and learns a scale and shift; its instance norm does neither
(``affine=False``), so a convolution feeding it keeps its bias, while one feeding batch norm drops it (the
norm's shift would cancel it). :func:`conv_bias` encodes that rule.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..checks import lookup

NormFactory = Callable[[int], nn.Module]

NORM_LAYERS: dict[str, NormFactory] = {
    "batch": lambda channels: nn.BatchNorm2d(channels, affine=True, track_running_stats=True),
    "instance": lambda channels: nn.InstanceNorm2d(channels, affine=False, track_running_stats=False),
    "none": lambda channels: nn.Identity(),
}


def norm_layer(name: str) -> NormFactory:
    """The factory ``channels -> nn.Module`` registered as ``name`` in ``NORM_LAYERS``."""
    return lookup(NORM_LAYERS, name, "norm")


def conv_bias(name: str) -> bool:
    """Whether a convolution followed by norm ``name`` should have a bias: not before batch norm, whose
    learnt shift makes it redundant (pix2pix's ``use_bias``)."""
    norm_layer(name)
    return name != "batch"
