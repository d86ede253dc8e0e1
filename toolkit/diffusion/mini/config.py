"""Architecture of the ``mini`` model: Stable Diffusion 1.5's classes, scaled down to fit in 40 MB.

Every model is built from a :class:`MiniConfig` with random weights; only training gives them meaning.
The classes, tensor layouts and the noise schedule are SD 1.5's, so every diffusers pipeline, scheduler,
ControlNet and LoRA code path runs on the mini model unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch

from ...errors import ToolkitError
from ..tiny import SD_SCHEDULE
from ..tokenizer import clip_text_encoder, clip_tokenizer

if TYPE_CHECKING:
    from diffusers import AutoencoderKL, ControlNetModel, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

# The VAE always has four blocks, three of them downsampling: images are 8x their latents, as in SD, and
# the ControlNet's conditioning encoder (which downsamples by 8) lines up with the latents.
VAE_BLOCKS = 4


class MiniConfigError(ToolkitError, ValueError):
    """An unknown preset or an inconsistent architecture."""


@dataclass(frozen=True)
class MiniConfig:
    """Sizes of the mini text-to-image model.

    Args:
        resolution: Training image side in pixels, a multiple of 8 (latents are ``resolution / 8``).
        unet_channels: UNet block widths (SD 1.5: 320, 640, 1280, 1280). Every block but the first has
            cross-attention, as SD's last block has none.
        unet_layers: ResNet layers per UNet block (SD: 2).
        attention_head_dim: Channels per attention head.
        text_width: CLIP text encoder width, which is the UNet's ``cross_attention_dim`` (SD 1.5: 768).
            Its token table (49,408 x width) is most of the text encoder's size.
        text_layers: CLIP transformer layers (SD 1.5: 12).
        text_heads: CLIP attention heads.
        vae_channels: The four VAE block widths (SD: 128, 256, 512, 512).
        vae_layers: ResNet layers per VAE block (SD: 2).
        vae_groups: GroupNorm groups in the VAE (SD: 32); must divide every VAE width.
        latent_channels: Latent channels (SD: 4).
    """

    resolution: int = 128
    unet_channels: tuple[int, ...] = (64, 128, 160)
    unet_layers: int = 1
    attention_head_dim: int = 32
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    vae_channels: tuple[int, int, int, int] = (32, 64, 64, 64)
    vae_layers: int = 1
    vae_groups: int = 16
    latent_channels: int = 4

    def __post_init__(self) -> None:
        if self.resolution <= 0 or self.resolution % 8:
            raise MiniConfigError(f"resolution must be a positive multiple of 8, got {self.resolution}")
        if len(self.unet_channels) < 2:
            raise MiniConfigError(f"unet_channels needs at least two blocks, got {self.unet_channels}")
        if len(self.vae_channels) != VAE_BLOCKS:
            raise MiniConfigError(f"vae_channels needs {VAE_BLOCKS} widths, got {self.vae_channels}")
        if any(width % self.vae_groups for width in self.vae_channels):
            raise MiniConfigError(f"vae_groups={self.vae_groups} must divide every width {self.vae_channels}")
        if self.text_width % self.text_heads:
            raise MiniConfigError(f"text_heads={self.text_heads} must divide text_width={self.text_width}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MiniConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


MINI_CONFIGS: dict[str, MiniConfig] = {
    "mini": MiniConfig(),
    # The smallest model that keeps every code path, for tests and smoke runs.
    "test": MiniConfig(
        resolution=32,
        unet_channels=(16, 32),
        attention_head_dim=8,
        text_width=16,
        text_layers=1,
        text_heads=2,
        vae_channels=(8, 8, 16, 16),
        vae_groups=4,
    ),
}


def get_config(name: str) -> MiniConfig:
    """The preset ``name`` of :data:`MINI_CONFIGS`; raises :class:`MiniConfigError` listing them."""
    try:
        return MINI_CONFIGS[name]
    except KeyError:
        raise MiniConfigError(
            f"unknown mini config {name!r}; choose from {', '.join(MINI_CONFIGS)}"
        ) from None


def build_vae(config: MiniConfig) -> AutoencoderKL:
    """A randomly initialised ``AutoencoderKL`` scaling images by 8 (draws from torch's global RNG)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * VAE_BLOCKS,
        up_block_types=("UpDecoderBlock2D",) * VAE_BLOCKS,
        block_out_channels=config.vae_channels,
        layers_per_block=config.vae_layers,
        latent_channels=config.latent_channels,
        norm_num_groups=config.vae_groups,
        sample_size=config.resolution,
    )


def build_unet(config: MiniConfig) -> UNet2DConditionModel:
    """A randomly initialised ``UNet2DConditionModel``: a plain first block, cross-attention below it."""
    from diffusers import UNet2DConditionModel

    blocks = len(config.unet_channels)
    return UNet2DConditionModel(
        sample_size=config.resolution // 8,
        in_channels=config.latent_channels,
        out_channels=config.latent_channels,
        block_out_channels=config.unet_channels,
        layers_per_block=config.unet_layers,
        down_block_types=("DownBlock2D", *("CrossAttnDownBlock2D",) * (blocks - 1)),
        up_block_types=(*("CrossAttnUpBlock2D",) * (blocks - 1), "UpBlock2D"),
        cross_attention_dim=config.text_width,
        attention_head_dim=config.attention_head_dim,
        norm_num_groups=min(32, config.unet_channels[0]),
    )


def build_text_encoder(config: MiniConfig, tokenizer: CLIPTokenizer) -> CLIPTextModel:
    """A randomly initialised ``CLIPTextModel`` over the full CLIP vocabulary of ``tokenizer``."""
    return clip_text_encoder(
        tokenizer,
        width=config.text_width,
        intermediate=4 * config.text_width,
        layers=config.text_layers,
        heads=config.text_heads,
    )


def build_noise_scheduler() -> DDPMScheduler:
    """The DDPM training scheduler on SD 1.5's noise schedule (epsilon prediction)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SD_SCHEDULE)


def build_tokenizer() -> CLIPTokenizer:
    """SD 1.5's CLIP tokenizer (see :mod:`toolkit.diffusion.tokenizer`)."""
    return clip_tokenizer()


def build_controlnet(unet: UNet2DConditionModel) -> ControlNetModel:
    """An OpenPose-style ``ControlNetModel`` copied from ``unet``, zero convolutions at zero, as ControlNet
    training starts."""
    from diffusers import ControlNetModel

    return ControlNetModel.from_unet(unet)


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def model_sizes(config: MiniConfig) -> dict[str, int]:
    """Parameter counts of the mini models built from ``config``: ``vae``, ``unet``, ``text_encoder``,
    ``controlnet``."""
    with torch.random.fork_rng(devices=[]):
        unet = build_unet(config)
        return {
            "vae": parameter_count(build_vae(config)),
            "unet": parameter_count(unet),
            "text_encoder": parameter_count(build_text_encoder(config, build_tokenizer())),
            "controlnet": parameter_count(build_controlnet(unet)),
        }
