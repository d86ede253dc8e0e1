"""The denoising loss every diffusion trainer of the toolkit optimises (DreamBooth, the mini model, its
ControlNet)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def denoising_loss(
    pred: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor, scheduler: Any, snr_gamma: float | None
) -> torch.Tensor:
    """Scalar loss of ``pred`` against ``target`` (both ``(B, C, h, w)``) at ``timesteps`` ``(B,)``: MSE,
    or with ``snr_gamma`` the Min-SNR weighting of Hang et al. 2023 as diffusers applies it:
    ``min(SNR, gamma) / SNR`` for epsilon prediction, ``min(SNR, gamma) / (SNR + 1)`` for v. It converges
    several times faster than plain MSE at the paper's gamma of 5."""
    if snr_gamma is None:
        return F.mse_loss(pred.float(), target.float(), reduction="mean")
    from diffusers.training_utils import compute_snr

    snr = compute_snr(scheduler, timesteps)
    weight = torch.clamp(snr, max=snr_gamma)
    weight = weight / (snr + 1) if scheduler.config.prediction_type == "v_prediction" else weight / snr
    per_example = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    return (per_example * weight).mean()
