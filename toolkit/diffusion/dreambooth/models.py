"""The networks of a DreamBooth run: loading them, the class images the base model draws for prior
preservation, freezing them and adding the LoRA adapters, and the validation pipeline built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ..loading import LoraWeights, load_loras, load_pipeline
from .config import DreamBoothConfig
from .lora import TEXT_TARGETS, UNET_TARGETS, add_lora
from .prior import ensure_class_images

if TYPE_CHECKING:
    from accelerate import Accelerator

WEIGHT_DTYPES = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Models:
    """The models and objects a training step needs.

    Attributes:
        vae: ``AutoencoderKL``, frozen.
        unet: ``UNet2DConditionModel``; trains its LoRA adapter (``accelerate`` may wrap it).
        text_encoder: ``CLIPTextModel``; trains its adapter with ``train_text_encoder``, else frozen.
        tokenizer: ``CLIPTokenizer``.
        controlnet: ``ControlNetModel``, frozen.
        noise_scheduler: ``DDPMScheduler`` that noises the training latents.
        sampler_config: The base pipeline's scheduler config, for the samplers of class images and
            validation.
        weight_dtype: Dtype of the frozen weights (from ``accelerate``'s mixed precision).
    """

    vae: Any
    unet: Any
    text_encoder: Any
    tokenizer: Any
    controlnet: Any
    noise_scheduler: Any
    sampler_config: Any
    weight_dtype: torch.dtype


CONCEPT = "concept"  # adapter name of --init-lora


def load_models(config: DreamBoothConfig, accelerator: Accelerator) -> Models:
    """Load ``config.base`` with ``config.controlnet`` (on the CPU, float32) as :class:`Models`, with the
    weight dtype of ``accelerator.mixed_precision``; ``config.init_lora`` is fused into its weights, so
    class images, training and validation all use the concept's base."""
    from diffusers import DDPMScheduler

    pipe = load_pipeline(config.base, [config.controlnet], base_config=config.base_config)
    if config.init_lora is not None:
        load_loras(pipe, [LoraWeights(config.init_lora, config.init_lora_scale, CONCEPT)])
    weight_dtype = WEIGHT_DTYPES[accelerator.mixed_precision]
    return Models(
        vae=pipe.vae,
        unet=pipe.unet,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        controlnet=pipe.controlnet,
        noise_scheduler=DDPMScheduler.from_config(pipe.scheduler.config),
        sampler_config=pipe.scheduler.config,
        weight_dtype=weight_dtype,
    )


def generate_class_images(
    config: DreamBoothConfig, models: Models, prompt: str, accelerator: Accelerator
) -> int:
    """Generate the missing class images of ``config.class_dir`` with the base model (before any adapter
    is added), on the main process, with the UniPC sampler in ``prior_generation_precision`` (default
    fp16 on CUDA, else fp32). Every process waits for them; returns how many were made here (0 on the
    other processes)."""
    from diffusers import StableDiffusionPipeline, UniPCMultistepScheduler

    assert config.class_dir is not None
    default = torch.float16 if accelerator.device.type == "cuda" else torch.float32
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
        config.prior_generation_precision or "", default
    )

    def pipeline() -> StableDiffusionPipeline:
        pipe = StableDiffusionPipeline(
            vae=models.vae,
            text_encoder=models.text_encoder,
            tokenizer=models.tokenizer,
            unet=models.unet,
            scheduler=UniPCMultistepScheduler.from_config(models.sampler_config),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(accelerator.device, dtype)

    made = 0
    if accelerator.is_main_process:
        written = ensure_class_images(
            config.class_dir,
            config.num_class_images,
            prompt,
            pipeline,
            resolution=config.resolution,
            batch_size=config.sample_batch_size,
            steps=config.class_inference_steps,
            seed=config.seed or 0,
            progress=config.progress,
        )
        made = len(written)
    accelerator.wait_for_everyone()
    return made


def prepare_models(config: DreamBoothConfig, models: Models, accelerator: Accelerator) -> None:
    """Freeze every network, move it to ``accelerator.device`` in ``models.weight_dtype``, and add the
    LoRA adapter(s) of ``config``, kept in float32 (in place). Draws the adapters' initial weights from
    the global torch generator."""
    from diffusers.training_utils import cast_training_params

    for model in (models.vae, models.unet, models.text_encoder, models.controlnet):
        model.requires_grad_(False)
        model.to(accelerator.device)
        if models.weight_dtype != torch.float32:  # diffusers warns about any explicit cast, even a no-op
            model.to(dtype=models.weight_dtype)
    add_lora(models.unet, UNET_TARGETS[config.lora_targets], config.rank, config.alpha, config.lora_dropout)
    if config.train_text_encoder:
        add_lora(models.text_encoder, TEXT_TARGETS, config.rank, config.alpha, config.lora_dropout)
    if config.gradient_checkpointing:
        models.unet.enable_gradient_checkpointing()
        if config.train_text_encoder:
            models.text_encoder.gradient_checkpointing_enable()
    trained = [models.unet] + ([models.text_encoder] if config.train_text_encoder else [])
    cast_training_params(trained, dtype=torch.float32)


def validation_pipeline(models: Models, unet: Any, text_encoder: Any) -> Any:
    """A ``StableDiffusionControlNetPipeline`` (UniPC sampler, no progress bar) of the frozen parts of
    ``models`` and the given unwrapped ``unet`` and ``text_encoder``, which carry the adapters."""
    from diffusers import StableDiffusionControlNetPipeline, UniPCMultistepScheduler

    pipe = StableDiffusionControlNetPipeline(
        vae=models.vae,
        text_encoder=text_encoder,
        tokenizer=models.tokenizer,
        unet=unet,
        controlnet=models.controlnet,
        scheduler=UniPCMultistepScheduler.from_config(models.sampler_config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
