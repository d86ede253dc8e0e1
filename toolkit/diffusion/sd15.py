"""Stable Diffusion 1.5's architecture at its real sizes, with random weights: UNet, VAE, CLIP text
encoder and an OpenPose ControlNet copied from the UNet. For timing and memory measurements (speed does not
depend on the weights' values) where the real weights cannot be downloaded; never for pictures.

The sizes are SD 1.5's published ``config.json`` files: UNet blocks (320, 640, 1280, 1280), two layers
each, cross-attention on 768-wide text embeddings, 8 attention heads; VAE blocks (128, 256, 512, 512), two
layers, 4 latent channels; CLIP ViT-L/14's text tower (768 wide, 12 layers, 12 heads, 3072 MLP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from .tiny import SD_SCHEDULE
from .tokenizer import clip_text_encoder, clip_tokenizer

if TYPE_CHECKING:
    from diffusers import StableDiffusionControlNetPipeline

SIZE = 512


def sd15_components(seed: int = 0) -> dict[str, Any]:
    """SD 1.5's components with random weights, as ``StableDiffusionControlNetPipeline`` takes them,
    ControlNet included (float32, on the CPU)."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel, UniPCMultistepScheduler

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=SIZE // 8,
            in_channels=4,
            out_channels=4,
            block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=2,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=768,
            attention_head_dim=8,
        )
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            sample_size=SIZE,
        )
        tokenizer = clip_tokenizer()
        text_encoder = clip_text_encoder(tokenizer, width=768, intermediate=3072, layers=12, heads=12)
        controlnet = ControlNetModel.from_unet(unet)
    return {
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "unet": unet,
        "controlnet": controlnet,
        "scheduler": UniPCMultistepScheduler(**SD_SCHEDULE),
        "safety_checker": None,
        "feature_extractor": None,
    }


def build_sd15_pipeline(
    device: str | torch.device = "cpu", dtype: torch.dtype = torch.float16, seed: int = 0
) -> StableDiffusionControlNetPipeline:
    """SD 1.5 + an OpenPose ControlNet at their real sizes, random weights, on ``device`` in ``dtype``."""
    from diffusers import StableDiffusionControlNetPipeline

    pipe = StableDiffusionControlNetPipeline(**sd15_components(seed), requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device, dtype)
