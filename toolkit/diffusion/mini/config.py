"""Architecture of the ``mini`` model: Stable Diffusion 1.5's classes, scaled down to fit in 40 MB.

Every model is built from a :class:`MiniConfig` with random weights; only training gives them meaning.
The classes, tensor layouts and the noise schedule are SD 1.5's, so every diffusers pipeline, scheduler,
ControlNet and LoRA code path runs on the mini model unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch

from ...checks import lookup
from ...errors import ToolkitError
from ..tiny import SD_SCHEDULE
from ..tokenizer import clip_text_encoder, clip_tokenizer

if TYPE_CHECKING:
    from diffusers import AutoencoderKL, ControlNetModel, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

# Widths of the ControlNet's conditioning encoder (ControlNetModel's default): each width after the first
# halves the skeleton image, so an encoder of ``log2(vae_scale_factor) + 1`` widths lines it up with the
# latents (all four for SD's factor 8).
CONDITIONING_CHANNELS = (16, 32, 96, 256)


PREDICTION_TYPES = ("epsilon", "v_prediction")


class MiniConfigError(ToolkitError, ValueError):
    """An unknown preset or an inconsistent architecture."""


@dataclass(frozen=True)
class MiniConfig:
    """Sizes of the mini text-to-image model.

    Args:
        resolution: Training image side in pixels, a multiple of 8 and of the VAE's scale factor.
        unet_channels: UNet block widths (SD 1.5: 320, 640, 1280, 1280). Every block but the first has
            cross-attention, as SD's last block has none.
        unet_layers: ResNet layers per UNet block (SD: 2).
        unet_groups: GroupNorm groups in the UNet (SD: 32); must divide every UNet width.
        attention_head_dim: Channels per attention head.
        text_width: CLIP text encoder width, which is the UNet's ``cross_attention_dim`` (SD 1.5: 768).
            Its token table (49,408 x width) is most of the text encoder's size.
        text_layers: CLIP transformer layers (SD 1.5: 12).
        text_heads: CLIP attention heads.
        vae_channels: VAE block widths (SD: 128, 256, 512, 512). Every block but the last halves the
            image, so images are ``2 ** (len - 1)`` times their latents (:attr:`vae_scale_factor`; SD: 8).
        vae_layers: ResNet layers per VAE block (SD: 2).
        vae_groups: GroupNorm groups in the VAE (SD: 32); must divide every VAE width.
        vae_attention: Self-attention in the VAE's middle blocks (SD: yes).
        latent_channels: Latent channels (SD 1.5: 4; SD3 and FLUX: 16).
        prediction_type: What the UNet predicts: ``"epsilon"`` (SD 1.5) or ``"v_prediction"`` (SD 2.x's
            768-v models). The exported scheduler says which, so every diffusers sampler follows.
    """

    resolution: int = 128
    unet_channels: tuple[int, ...] = (64, 128, 160)
    unet_layers: int = 1
    unet_groups: int = 32
    attention_head_dim: int = 32
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    vae_channels: tuple[int, ...] = (32, 64, 64, 64)
    vae_layers: int = 1
    vae_groups: int = 16
    vae_attention: bool = True
    latent_channels: int = 4
    prediction_type: str = "epsilon"

    def __post_init__(self) -> None:
        if self.prediction_type not in PREDICTION_TYPES:
            raise MiniConfigError(
                f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {self.prediction_type!r}"
            )
        if len(self.vae_channels) < 2:
            raise MiniConfigError(f"vae_channels needs at least two blocks, got {self.vae_channels}")
        if self.resolution <= 0 or self.resolution % max(8, self.vae_scale_factor):
            raise MiniConfigError(
                f"resolution must be a positive multiple of 8 and of the VAE's scale factor "
                f"{self.vae_scale_factor}, got {self.resolution}"
            )
        if len(self.unet_channels) < 2:
            raise MiniConfigError(f"unet_channels needs at least two blocks, got {self.unet_channels}")
        if any(width % self.unet_groups for width in self.unet_channels):
            raise MiniConfigError(
                f"unet_groups={self.unet_groups} must divide every width {self.unet_channels}"
            )
        if any(width % self.vae_groups for width in self.vae_channels):
            raise MiniConfigError(f"vae_groups={self.vae_groups} must divide every width {self.vae_channels}")
        if self.text_width % self.text_heads:
            raise MiniConfigError(f"text_heads={self.text_heads} must divide text_width={self.text_width}")

    @property
    def vae_scale_factor(self) -> int:
        """How many times larger an image is than its latents, per side."""
        return 2 ** (len(self.vae_channels) - 1)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MiniConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


MINI_CONFIGS: dict[str, MiniConfig] = {
    # Version 1, the packaged model: SD's 8x VAE with 4 latent channels. It reconstructs shapes but loses
    # the figures' colours and patterns.
    "mini": MiniConfig(),
    # Version 2. At 128 px a figure is about 15 pixels wide: SD's 8x VAE leaves it two
    # latents across, and even a linear code of 16 numbers per 8 x 8 patch loses 19 grey levels on the
    # figure. So the VAE shrinks by 4 (three blocks) into 16 channels (SD3's and FLUX's count), and the UNet
    # gains a fourth, narrow level at the latents' 32 x 32. It predicts v: an epsilon UNet this narrow
    # carries 16 noise channels through its first level with an error floor (0.023 on the plain backdrop
    # at every t >= 200), which x0 = (z - sqrt(1 - a) eps) / sqrt(a) multiplies by 9 at t = 900; a v
    # error reaches x0 at most once.
    "mini-v2": MiniConfig(
        unet_channels=(32, 64, 128, 160),
        unet_groups=16,
        vae_channels=(32, 64, 128),
        vae_attention=False,
        latent_channels=16,
        prediction_type="v_prediction",
    ),
    # The smallest model that keeps every code path, for tests and smoke runs.
    "test": MiniConfig(
        resolution=32,
        unet_channels=(16, 32),
        unet_groups=16,
        attention_head_dim=8,
        text_width=16,
        text_layers=1,
        text_heads=2,
        vae_channels=(8, 16, 16),
        vae_groups=4,
        vae_attention=False,
        latent_channels=8,
    ),
}


def get_config(name: str) -> MiniConfig:
    """The preset ``name`` of :data:`MINI_CONFIGS`; raises :class:`MiniConfigError` listing them."""
    return lookup(MINI_CONFIGS, name, "mini config", MiniConfigError)


def build_vae(config: MiniConfig) -> AutoencoderKL:
    """A randomly initialised ``AutoencoderKL`` scaling images by ``config.vae_scale_factor`` (draws from
    torch's global RNG)."""
    from diffusers import AutoencoderKL

    blocks = len(config.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=config.vae_channels,
        layers_per_block=config.vae_layers,
        latent_channels=config.latent_channels,
        norm_num_groups=config.vae_groups,
        sample_size=config.resolution,
        mid_block_add_attention=config.vae_attention,
    )


def build_unet(config: MiniConfig) -> UNet2DConditionModel:
    """A randomly initialised ``UNet2DConditionModel``: a plain first block, cross-attention below it."""
    from diffusers import UNet2DConditionModel

    blocks = len(config.unet_channels)
    return UNet2DConditionModel(
        sample_size=config.resolution // config.vae_scale_factor,
        in_channels=config.latent_channels,
        out_channels=config.latent_channels,
        block_out_channels=config.unet_channels,
        layers_per_block=config.unet_layers,
        down_block_types=("DownBlock2D", *("CrossAttnDownBlock2D",) * (blocks - 1)),
        up_block_types=(*("CrossAttnUpBlock2D",) * (blocks - 1), "UpBlock2D"),
        cross_attention_dim=config.text_width,
        attention_head_dim=config.attention_head_dim,
        norm_num_groups=config.unet_groups,
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


def build_noise_scheduler(prediction_type: str = "epsilon") -> DDPMScheduler:
    """The DDPM training scheduler on SD 1.5's noise schedule, predicting ``prediction_type``."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(**{**SD_SCHEDULE, "prediction_type": prediction_type})


def build_tokenizer() -> CLIPTokenizer:
    """SD 1.5's CLIP tokenizer (see :mod:`toolkit.diffusion.tokenizer`)."""
    return clip_tokenizer()


def build_controlnet(unet: UNet2DConditionModel, vae_scale_factor: int = 8) -> ControlNetModel:
    """An OpenPose-style ``ControlNetModel`` copied from ``unet``, zero convolutions at zero, as ControlNet
    training starts; its conditioning encoder shrinks skeleton images by ``vae_scale_factor`` (a power of
    two >= 2; SD's is 8), onto the latents' grid."""
    from diffusers import ControlNetModel

    halvings = vae_scale_factor.bit_length() - 1
    if vae_scale_factor < 2 or 2**halvings != vae_scale_factor:
        raise MiniConfigError(f"vae_scale_factor must be a power of two >= 2, got {vae_scale_factor}")
    widths = CONDITIONING_CHANNELS + (CONDITIONING_CHANNELS[-1],) * max(0, halvings + 1 - 4)
    return ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=widths[: halvings + 1])


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
            "controlnet": parameter_count(build_controlnet(unet, config.vae_scale_factor)),
        }
