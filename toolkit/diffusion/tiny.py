"""A complete tiny Stable Diffusion + OpenPose-ControlNet pipeline with RANDOM weights, for tests.

It has the classes, tensor layouts and code paths of SD 1.5 with a ControlNet (UNet with cross-attention
transformer blocks, ControlNet, 4-block VAE scaling by 8, CLIP text encoder and SD's real tokenizer), but
its weights are random, so its images are noise-like patterns, not pictures. It exists so that every code
path of generation, LoRA loading and training can be tested on a CPU in milliseconds, and it is what
``toolkit generate --base tiny`` uses. Everything is deterministic from ``seed``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .subjects import LORA_FILE
from .tokenizer import clip_text_encoder, clip_tokenizer

if TYPE_CHECKING:
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, UNet2DConditionModel

TINY = "tiny"
"""The model name that selects this pipeline on the command line (``--base tiny``, ``--controlnet tiny``)."""

# SD 1.x's noise schedule, so schedulers built from this config behave as they do for the real model.
SD_SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
}


@dataclass(frozen=True)
class TinyConfig:
    """Sizes of the tiny models. The defaults are the smallest that keep every SD code path.

    Args:
        unet_channels: UNet block widths; the second block has the cross-attention transformer.
        cross_attention_dim: Width of the text embeddings (SD 1.5: 768).
        vae_channels: Four VAE block widths, so images are 8x the latent size as in SD; the first is the
            width at full resolution, kept small because it dominates the cost.
        vae_groups: GroupNorm groups in the VAE (SD: 32); must divide every VAE width.
        text_layers: CLIP text transformer layers (SD 1.5: 12).
        text_heads: CLIP attention heads.
        control_scale: Standard deviation of the ControlNet's output convolutions, which ControlNet
            initialises to zero; random here so the skeleton images visibly steer the output.
    """

    unet_channels: tuple[int, int] = (32, 64)
    cross_attention_dim: int = 32
    vae_channels: tuple[int, int, int, int] = (8, 16, 32, 32)
    vae_groups: int = 8
    text_layers: int = 2
    text_heads: int = 4
    control_scale: float = 0.5


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Run with torch's global CPU generator seeded, restoring its state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tiny_unet(seed: int = 0, config: TinyConfig = TinyConfig()) -> UNet2DConditionModel:
    """The tiny UNet: a plain down block, then a cross-attention block (self-attention included)."""
    from diffusers import UNet2DConditionModel

    with _seeded(seed):
        return UNet2DConditionModel(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            block_out_channels=config.unet_channels,
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=config.cross_attention_dim,
            attention_head_dim=8,
        )


def tiny_controlnet(
    unet: UNet2DConditionModel, seed: int = 0, config: TinyConfig = TinyConfig()
) -> ControlNetModel:
    """A ControlNet copied from ``unet`` (as ControlNet training starts), re-initialised so that the
    skeleton image steers the output although nothing is trained: the conditioning encoder's convolutions
    get He-normal weights and zero biases (PyTorch's default initialisation shrinks the image's signal at
    every layer until a constant bias is all that is left), and the zero-initialised output convolutions
    get small random weights."""
    from diffusers import ControlNetModel

    with _seeded(seed + 1):
        controlnet = ControlNetModel.from_unet(unet)
        embedding = controlnet.controlnet_cond_embedding
        for conv in (embedding.conv_in, *embedding.blocks):
            torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            torch.nn.init.zeros_(conv.bias)
        for conv in (*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block, embedding.conv_out):
            torch.nn.init.normal_(conv.weight, std=config.control_scale)
            torch.nn.init.zeros_(conv.bias)
    return controlnet


def tiny_components(seed: int = 0, config: TinyConfig = TinyConfig()) -> dict[str, Any]:
    """Every component of the tiny pipeline except the ControlNet: ``vae``, ``text_encoder``,
    ``tokenizer``, ``unet``, ``scheduler`` (UniPC on SD's noise schedule), ``safety_checker=None`` and
    ``feature_extractor=None``, as ``StableDiffusionControlNetPipeline`` takes them."""
    from diffusers import AutoencoderKL, UniPCMultistepScheduler

    tokenizer = clip_tokenizer()
    with _seeded(seed + 2):
        vae = AutoencoderKL(
            block_out_channels=config.vae_channels,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            latent_channels=4,
            norm_num_groups=config.vae_groups,
            sample_size=64,
        )
    with _seeded(seed + 3):
        text_encoder = clip_text_encoder(
            tokenizer,
            width=config.cross_attention_dim,
            intermediate=2 * config.cross_attention_dim,
            layers=config.text_layers,
            heads=config.text_heads,
        )
    return {
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "unet": tiny_unet(seed, config),
        "scheduler": UniPCMultistepScheduler(**SD_SCHEDULE),
        "safety_checker": None,
        "feature_extractor": None,
    }


def build_tiny_pipeline(
    seed: int = 0, *, config: TinyConfig = TinyConfig(), controlnets: int = 1
) -> StableDiffusionControlNetPipeline:
    """Build the tiny SD + ControlNet pipeline on the CPU in float32, in about a second (mostly the
    tokenizer's vocabulary, cached after the first call).

    Args:
        seed: Seeds every weight; the same seed gives the same pipeline. Default 0.
        config: Model sizes. Default :class:`TinyConfig`.
        controlnets: How many ControlNets (each seeded differently); more than one gives a
            ``MultiControlNetModel``. Default 1.

    Returns:
        A ``StableDiffusionControlNetPipeline`` with a UniPC scheduler and no safety checker.
    """
    from diffusers import StableDiffusionControlNetPipeline
    from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

    components = tiny_components(seed, config)
    nets = [tiny_controlnet(components["unet"], seed + 10 * i, config) for i in range(controlnets)]
    pipe = StableDiffusionControlNetPipeline(
        **components,
        controlnet=nets[0] if controlnets == 1 else MultiControlNetModel(nets),
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_pipeline(folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny pipeline as a diffusers folder (``from_pretrained`` reloads it exactly) and its
    ControlNet alone under ``folder/controlnet``; returns ``folder``."""
    folder = Path(folder)
    build_tiny_pipeline(seed).save_pretrained(folder, safe_serialization=True)
    return folder


def save_random_lora(
    unet: UNet2DConditionModel, folder: str | Path, *, rank: int = 4, seed: int = 0, std: float = 0.3
) -> Path:
    """Write a LoRA with random (non-zero) weights for ``unet`` exactly as a diffusers training script
    does (PEFT adapter -> ``convert_state_dict_to_diffusers`` -> ``save_lora_weights``), for tests.

    ``unet`` is left unchanged. Returns the written ``folder/pytorch_lora_weights.safetensors``.
    """
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, get_peft_model_state_dict

    adapter = f"random_lora_{seed}"
    unet = copy.deepcopy(unet)  # PEFT wraps the layers it adapts; the caller's model stays plain
    with _seeded(seed + 4):
        unet.add_adapter(
            LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"]),
            adapter_name=adapter,
        )
        for name, param in unet.named_parameters():
            if f"lora_B.{adapter}" in name:  # PEFT starts B at zero, which would make the LoRA a no-op
                torch.nn.init.normal_(param, std=std)
    weights = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=adapter))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=weights, safe_serialization=True)
    return Path(folder) / LORA_FILE
