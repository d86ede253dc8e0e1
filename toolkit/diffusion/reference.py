"""Reference images: a subject's look taken from photos at generation time, with no training.

The "reference-only" idea (Mikubill's sd-webui-controlnet; diffusers' community reference pipelines),
which Animate Anyone's ReferenceNet learns as a network of its own:

1. Each reference photo is fitted to the canvas and encoded once by the VAE.
2. Before every UNet call of the sampler, the reference latents are noised to the call's timestep (with
   noise seeded by the run's seed and the timestep only) and run through the same UNet, with the same
   text and no ControlNet; each self-attention layer records its input tokens in a
   :class:`~.cross_frame.ReferenceBank`.
3. In the frames' own UNet call, every self-attention layer also attends to those tokens (see
   :class:`~.cross_frame.SharedAttnProcessor`), so the frames borrow the reference's colours and
   textures while the ControlNet keeps their pose.

torch and the image readers are imported on first use, so that the command line can read the defaults.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetPipeline, UNet2DConditionModel

    from .cross_frame import ReferenceBank

DEFAULT_FIDELITY = 0.5


def fit_to_canvas(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop ``image`` ``(H0, W0, 3)`` uint8 to the canvas's aspect ratio and resize it to
    ``(height, width, 3)``."""
    from ..pose.ops import crop_resize_image

    h0, w0 = image.shape[:2]
    scale = min(w0 / width, h0 / height)
    crop_w, crop_h = round(width * scale), round(height * scale)
    x0, y0 = (w0 - crop_w) // 2, (h0 - crop_h) // 2
    return crop_resize_image(image, (x0, y0, x0 + crop_w, y0 + crop_h), (width, height))


@dataclass(frozen=True)
class References:
    """Reference photos fitted to the canvas.

    Args:
        images: ``(R, H, W, 3)`` uint8, R >= 1.
        sources: Where each came from (file paths), for the manifest.
        fidelity: :class:`~.cross_frame.ReferenceBank`'s ``fidelity``, in [0, 1]. Default 0.5.
    """

    images: np.ndarray
    sources: tuple[str, ...]
    fidelity: float = DEFAULT_FIDELITY

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or not len(self.images):
            raise ValueError(f"references must be (R, H, W, 3) images, R >= 1; got {self.images.shape}")
        if not 0.0 <= self.fidelity <= 1.0:
            raise ValueError(f"reference fidelity must be in [0, 1], got {self.fidelity}")

    @classmethod
    def read(
        cls, photos: Sequence[str | Path | np.ndarray], width: int, height: int, fidelity: float
    ) -> References:
        """Image files (a bad file raises ``MediaError`` naming it) or ``(H, W, 3)`` uint8 arrays, fitted
        to the canvas."""
        from ..data.media import read_image

        images = [p if isinstance(p, np.ndarray) else read_image(p) for p in photos]
        fitted = np.stack([fit_to_canvas(image, width, height) for image in images])
        sources = tuple("(in memory)" if isinstance(p, np.ndarray) else str(p) for p in photos)
        return cls(fitted, sources, fidelity)

    def fingerprint(self) -> dict[str, Any]:
        """What decides the pixels: the fitted images' SHA-256 and the fidelity."""
        return {
            "sha256": [hashlib.sha256(image.tobytes()).hexdigest() for image in self.images],
            "fidelity": self.fidelity,
        }


@dataclass(frozen=True)
class EncodedReferences:
    """References as the sampler uses them: ``latents`` ``(R, C, h, w)`` (scaled as the UNet's) and the
    bank's ``fidelity``."""

    latents: torch.Tensor
    fidelity: float = DEFAULT_FIDELITY


def encode_references(pipe: StableDiffusionControlNetPipeline, references: References) -> EncodedReferences:
    """VAE posterior means of the reference images times the VAE's scaling factor, on the pipeline's
    device in the UNet's dtype."""
    import torch

    vae = pipe.vae
    pixels = torch.from_numpy(references.images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        latents = vae.encode(pixels.to(pipe._execution_device, vae.dtype)).latent_dist.mean
    latents = latents * vae.config.scaling_factor
    return EncodedReferences(latents.to(pipe.unet.dtype), references.fidelity)


def _alpha_bar(alphas_cumprod: torch.Tensor, timestep: float) -> float:
    """The cumulative signal fraction at ``timestep``, interpolated linearly between training timesteps
    (samplers such as Euler visit fractional ones)."""
    low = int(np.floor(timestep))
    high = min(low + 1, len(alphas_cumprod) - 1)
    frac = timestep - low
    return float((1 - frac) * alphas_cumprod[low] + frac * alphas_cumprod[high])


def _timestep_noise(shape: torch.Size, seed: int, timestep: float) -> torch.Tensor:
    """Standard normal noise ``shape`` from ``(seed, timestep)`` alone, on the CPU in float32."""
    import torch

    key = np.random.SeedSequence([seed, round(timestep * 1000)]).generate_state(1)[0]
    return torch.randn(shape, generator=torch.Generator().manual_seed(int(key)))


@contextmanager
def reference_pass(
    unet: UNet2DConditionModel,
    alphas_cumprod: torch.Tensor,
    latents: torch.Tensor,
    bank: ReferenceBank,
    call_size: int,
    seed: int,
) -> Iterator[None]:
    """Run the reference pass (module docstring, step 2) before every call of ``unet`` in the context.

    Args:
        unet: The pipeline's UNet, with :func:`~.cross_frame.shared_attention` installed on it.
        alphas_cumprod: ``(1000,)`` the sampler's cumulative signal fractions.
        latents: ``(R, C, h, w)`` from :func:`encode_references`.
        bank: Where the pass records its tokens; its ``groups`` is set per call.
        call_size: Frames per guidance group in each UNet call; the text of each group is read from its
            first frame.
        seed: The run's seed.
    """
    import torch

    def before_unet(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if bank.recording:  # the reference pass's own call
            return
        sample = args[0] if args else kwargs["sample"]
        timestep = args[1] if len(args) > 1 else kwargs["timestep"]
        text = kwargs["encoder_hidden_states"][::call_size]  # (G, 77, D): one per guidance group
        groups, count = len(text), len(latents)
        step = torch.as_tensor(timestep).flatten()[0]  # one timestep for the whole call
        t = float(step)
        a = _alpha_bar(alphas_cumprod, t)
        noise = _timestep_noise(latents.shape, seed, t).to(latents.device, latents.dtype)
        noised = (a**0.5 * latents + (1 - a) ** 0.5 * noise).repeat(groups, 1, 1, 1)  # (G*R, C, h, w)
        bank.groups, bank.recording = groups, True
        try:
            with torch.no_grad():
                module(
                    noised.to(sample.dtype),
                    step,
                    encoder_hidden_states=text.repeat_interleave(count, dim=0),
                )
        finally:
            bank.recording = False

    handle = unet.register_forward_pre_hook(before_unet, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
        bank.tokens.clear()
