"""Weight initialisation of pix2pix (Isola et al. 2017, section 6.2): "weights were initialized from a
Gaussian distribution with mean 0 and standard deviation 0.02"; batch-norm scales from N(1, 0.02)."""

from __future__ import annotations

import torch
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@torch.no_grad()
def init_weights(module: nn.Module, std: float = 0.02, generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise ``module`` in place, as pix2pix's ``init_weights(net, 'normal', 0.02)`` does.

    - convolutions and linear layers: weights ~ N(0, std), biases 0;
    - batch norms: scales ~ N(1, std), shifts 0;
    - anything else keeps torch's initialisation.

    Args:
        module: The network; every submodule is visited.
        std: Standard deviation of both Gaussians. Default 0.02.
        generator: Optional ``torch.Generator`` for the draws (default: torch's global RNG).

    Returns:
        ``module``, for chaining.
    """
    for layer in module.modules():
        if isinstance(layer, (*_CONVS, nn.Linear)):
            layer.weight.normal_(0.0, std, generator=generator)
            if layer.bias is not None:
                layer.bias.zero_()
        elif isinstance(layer, _BATCH_NORMS) and layer.affine:
            layer.weight.normal_(1.0, std, generator=generator)
            layer.bias.zero_()
    return module
