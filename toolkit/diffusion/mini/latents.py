"""Training frames encoded once by the frozen VAE, for the stages that train on latents (UNet, ControlNet).

Encoding a batch costs about as much as the UNet step it feeds on a CPU, and the VAE does not change after
its own stage, so the posterior of every frame (mean and standard deviation) is computed once, cached on
disk next to the run, and each step draws its latents from it with the step's generator, as
``latent_dist.sample()`` would.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ...progress import progress_bar
from .data import MiniDataset

LATENTS_DIR = "latents"  # in the run folder


class EncodedFrames(Dataset):
    """The frames of ``frames`` as VAE posteriors: items hold ``"latent_mean"`` and ``"latent_std"``
    (``(C, R/8, R/8)`` float32 each, unscaled) and the sample's conditions (``"caption"``, and
    ``"conditioning"`` for a control dataset)."""

    def __init__(self, frames: MiniDataset, mean: torch.Tensor, std: torch.Tensor) -> None:
        if not len(frames) == len(mean) == len(std):
            raise ValueError(f"{len(frames)} frames but {len(mean)} means and {len(std)} deviations")
        self.frames, self.mean, self.std = frames, mean, std

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        latents = {"latent_mean": self.mean[index], "latent_std": self.std[index]}
        return {**latents, **self.frames.condition(index)}


def _vae_fingerprint(vae: Any) -> str:
    """Hex SHA-256 of the VAE's weights rounded to float16: the VAE a stage-1 run saved (float32) and its
    float16 copy in the exported pipeline count as the same, so the ControlNet stage reuses the UNet
    stage's latents (the rounding moves latents by at most a few thousandths of their spread)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(vae.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float16).numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def encode_frames(
    frames: MiniDataset, vae: Any, cache: Path | None = None, *, batch_size: int = 32, progress: bool = True
) -> EncodedFrames:
    """Encode every frame of ``frames`` with ``vae`` (on its device), or read the result from ``cache``
    (a folder) when the same frames were encoded by the same VAE before; writes it there atomically.

    Returns:
        :class:`EncodedFrames` on the CPU.
    """
    key = hashlib.sha256((frames.fingerprint() + _vae_fingerprint(vae)).encode()).hexdigest()[:16]
    path = None if cache is None else cache / f"{key}.pt"
    if path is not None and path.is_file():
        stored = torch.load(path, map_location="cpu", weights_only=True)
        return EncodedFrames(frames, stored["mean"], stored["std"])
    device = next(vae.parameters()).device
    means, stds = [], []
    starts = range(0, len(frames), batch_size)
    for start in progress_bar(starts, desc="encoding frames", unit="batch", disable=not progress):
        indices = range(start, min(start + batch_size, len(frames)))
        pixels = torch.stack([frames[i]["pixel_values"] for i in indices]).to(device)  # type: ignore[misc]
        posterior = vae.encode(pixels).latent_dist
        means.append(posterior.mean.float().cpu())
        stds.append(posterior.std.float().cpu())
    mean, std = torch.cat(means), torch.cat(stds)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        torch.save({"mean": mean, "std": std}, partial)
        os.replace(partial, path)
    return EncodedFrames(frames, mean, std)
