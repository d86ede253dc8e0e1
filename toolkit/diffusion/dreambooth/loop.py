"""The DreamBooth/LoRA training loop, pose-aware.

1. Read the instance photos and their poses (a pose file, or the detector); measure body proportions.
2. Make the missing class images (prior preservation) with the base model.
3. Freeze the base model, add the LoRA adapter(s), build the optimizer and learning-rate scheduler, and
   hand them to ``accelerate`` (which also wraps the model for multi-GPU runs).
4. Resume from a checkpoint if asked.
5. Train: each step encodes the photos to latents, adds noise at random timesteps, and predicts the noise
   with the UNet. With pose conditioning the frozen ControlNet, fed each photo's skeleton, adds its
   residuals to the UNet's, so the pose is already explained by the ControlNet and the LoRA learns the
   subject's appearance rather than the photos' poses. Class images train without residuals: they were
   drawn without a ControlNet. Loss: MSE (Min-SNR weighted with ``snr_gamma``) plus the prior loss.
6. Every N steps: checkpoint, validation grid; at the end: the subject folder (LoRA, ``subject.toml``,
   validation grid, manifest).

Every random draw of a step comes from a generator seeded by ``(seed, step, process)``, and the LoRA
dropout draws from the global generator, which checkpoints restore, so a resumed run repeats an
uninterrupted one exactly on the CPU.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ...data.media import write_image
from ...errors import ToolkitError
from ...manifest import write_manifest
from ...pose.proportions import BodyProportions
from ..loading import load_pipeline
from ..prompts import fill, load_template
from ..subjects import LORA_FILE, Subject, SubjectRegistry
from .checkpoint import CHECKPOINTS_DIR, load_checkpoint, read_state, resolve_resume, save_checkpoint
from .config import DreamBoothConfig
from .data import BatchPlan, ExampleSet, class_photos, read_photos, seeded
from .lora import (
    TEXT_TARGETS,
    UNET_TARGETS,
    add_lora,
    export_kohya,
    load_trainable_state,
    save_lora,
    trainable_parameters,
    trainable_state,
)
from .poses import detect_instance_poses, estimate_proportions, read_instance_poses
from .prior import ensure_class_images
from .validation import create_logger, render_validation, save_grid, validation_controls

if TYPE_CHECKING:
    from accelerate import Accelerator

logger = logging.getLogger(__name__)

SAMPLE_FILE = "samples/validation.png"
WEIGHT_DTYPES = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DEFAULT_CLASS_PROMPT = "a photo of {class}"


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        folder: The subject folder.
        lora: Its ``pytorch_lora_weights.safetensors``.
        steps: Optimisation steps done in total (including those before a resume).
        losses: Mean loss of each step this process ran.
        seconds: Wall time of the training steps alone (no validation, checkpoints or loading).
        proportions: Body proportions measured from the photos, if any.
        posed: How many instance photos train with pose conditioning.
        class_images_generated: Class images made by this run.
        kohya: The kohya export, if written.
    """

    folder: Path
    lora: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    proportions: BodyProportions | None = None
    posed: int = 0
    class_images_generated: int = 0
    kohya: Path | None = None

    @property
    def steps_per_second(self) -> float:
        return len(self.losses) / self.seconds if self.seconds else 0.0


def _prompts(config: DreamBoothConfig) -> tuple[str, str]:
    template = load_template(config.template)
    instance = fill(template.prompt, config.token, config.class_noun)
    return instance, fill(template.class_prompt or DEFAULT_CLASS_PROMPT, config.token, config.class_noun)


def _optimizer(
    config: DreamBoothConfig, params: list[torch.nn.Parameter], lr: float
) -> torch.optim.Optimizer:
    if config.use_8bit_adam:
        try:
            import bitsandbytes as bnb
        except ImportError as err:
            raise ToolkitError(
                f"--use-8bit-adam needs bitsandbytes, which does not import here ({err}); "
                "pip install bitsandbytes, or drop the flag"
            ) from None
        factory: Any = bnb.optim.AdamW8bit
    else:
        factory = torch.optim.AdamW
    return factory(
        params,
        lr=lr,
        betas=(config.adam_beta1, config.adam_beta2),
        weight_decay=config.adam_weight_decay,
        eps=config.adam_epsilon,
    )


def _encode(text_encoder: Any, tokenizer: Any, prompt: str, device: torch.device) -> torch.Tensor:
    """``(1, 77, D)`` embeddings of ``prompt`` (gradients flow when the encoder has a LoRA)."""
    ids = tokenizer(
        prompt,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    return text_encoder(ids.to(device), return_dict=False)[0]


def _loss(
    pred: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor, scheduler: Any, snr_gamma: float | None
) -> torch.Tensor:
    """MSE, or with ``snr_gamma`` the Min-SNR weighting of Hang et al. 2023 as diffusers applies it:
    ``min(SNR, gamma) / SNR`` for epsilon prediction, ``min(SNR, gamma) / (SNR + 1)`` for v."""
    if snr_gamma is None:
        return F.mse_loss(pred.float(), target.float(), reduction="mean")
    from diffusers.training_utils import compute_snr

    snr = compute_snr(scheduler, timesteps)
    weight = torch.clamp(snr, max=snr_gamma)
    weight = weight / (snr + 1) if scheduler.config.prediction_type == "v_prediction" else weight / snr
    per_example = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    return (per_example * weight).mean()


@dataclass
class _Models:
    """The models and objects a step needs."""

    vae: Any
    unet: Any
    text_encoder: Any
    tokenizer: Any
    controlnet: Any
    noise_scheduler: Any
    sampler_config: Any
    weight_dtype: torch.dtype


def _load_models(config: DreamBoothConfig, accelerator: Accelerator) -> _Models:
    from diffusers import DDPMScheduler

    pipe = load_pipeline(config.base, [config.controlnet])
    weight_dtype = WEIGHT_DTYPES[accelerator.mixed_precision]
    return _Models(
        vae=pipe.vae,
        unet=pipe.unet,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        controlnet=pipe.controlnet,
        noise_scheduler=DDPMScheduler.from_config(pipe.scheduler.config),
        sampler_config=pipe.scheduler.config,
        weight_dtype=weight_dtype,
    )


def _class_images(config: DreamBoothConfig, models: _Models, prompt: str, accelerator: Accelerator) -> int:
    """Generate the missing class images on the main process (UniPC sampler, in
    ``prior_generation_precision``: default fp16 on CUDA, else fp32); returns how many were made."""
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


def _instance_poses(config: DreamBoothConfig, images: list[np.ndarray]) -> list[Any]:
    if config.poses is not None:
        return read_instance_poses(config.poses, images)
    return detect_instance_poses(images, config.detector)


def _prepare_models(config: DreamBoothConfig, models: _Models, accelerator: Accelerator) -> None:
    """Freeze everything, move it to the device in the weights' dtype, add the adapters (kept in fp32)."""
    from diffusers.training_utils import cast_training_params

    for model in (models.vae, models.unet, models.text_encoder, models.controlnet):
        model.requires_grad_(False)
        model.to(accelerator.device)
        if models.weight_dtype != torch.float32:  # diffusers warns about any explicit cast, even a no-op
            model.to(dtype=models.weight_dtype)
    add_lora(models.unet, UNET_TARGETS, config.rank, config.alpha, config.lora_dropout)
    if config.train_text_encoder:
        add_lora(models.text_encoder, TEXT_TARGETS, config.rank, config.alpha, config.lora_dropout)
    if config.gradient_checkpointing:
        models.unet.enable_gradient_checkpointing()
        if config.train_text_encoder:
            models.text_encoder.gradient_checkpointing_enable()
    trained = [models.unet] + ([models.text_encoder] if config.train_text_encoder else [])
    cast_training_params(trained, dtype=torch.float32)


def _step_generator(seed: int, micro_step: int, process: int) -> torch.Generator:
    return torch.Generator("cpu").manual_seed(int(seeded(seed, micro_step, process, 2).integers(2**62)))


class _Trainer:
    """One run's state; :meth:`micro_step` is one forward/backward pass."""

    def __init__(
        self,
        config: DreamBoothConfig,
        models: _Models,
        accelerator: Accelerator,
        instances: ExampleSet,
        classes: ExampleSet | None,
        prompts: tuple[str, str],
    ) -> None:
        self.config, self.models, self.accelerator = config, models, accelerator
        self.instances, self.classes, self.prompts = instances, classes, prompts
        self.device = accelerator.device
        self.text_embeds: tuple[torch.Tensor, torch.Tensor] | None = None
        if not config.train_text_encoder:
            with torch.no_grad():
                self.text_embeds = self.encode_prompts()

    def encode_prompts(self) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.models
        return tuple(_encode(m.text_encoder, m.tokenizer, p, self.device) for p in self.prompts)  # type: ignore[return-value]

    def micro_step(self, plan: BatchPlan, micro_step: int, seed: int) -> torch.Tensor:
        """Loss of one micro-batch (instance examples, then class examples with prior preservation)."""
        config, m = self.config, self.models
        process = self.accelerator.process_index
        generator = _step_generator(seed, micro_step, process)
        indices, flips = plan.indices(micro_step, process)
        pixels, controls, posed = self.instances.batch(indices % len(self.instances), flips)
        count = len(indices)
        if self.classes is not None:
            class_pixels, _, _ = self.classes.batch(indices % len(self.classes), flips)
            pixels = torch.cat([pixels, class_pixels])
        pixels = pixels.to(self.device, m.weight_dtype)
        with torch.no_grad():
            latents = (
                m.vae.encode(pixels).latent_dist.sample(generator=generator) * m.vae.config.scaling_factor
            )
        from diffusers.utils.torch_utils import randn_tensor

        noise = randn_tensor(latents.shape, generator=generator, device=self.device, dtype=latents.dtype)
        steps = m.noise_scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, steps, (len(latents),), generator=generator).to(self.device)
        noisy = m.noise_scheduler.add_noise(latents, noise, timesteps)

        instance_embeds, class_embeds = self.text_embeds or self.encode_prompts()
        embeds = [instance_embeds.expand(count, -1, -1)]
        if self.classes is not None:
            embeds.append(class_embeds.expand(count, -1, -1))
        hidden = torch.cat(embeds).to(m.weight_dtype)

        residuals: dict[str, Any] = {}
        if config.pose_conditioning and bool(posed.any()):
            residuals = self.controlnet_residuals(
                noisy[:count], timesteps[:count], hidden[:count], controls, posed
            )
        pred = m.unet(noisy, timesteps, hidden, return_dict=False, **residuals)[0]
        if m.noise_scheduler.config.prediction_type == "v_prediction":
            target = m.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        loss = _loss(pred[:count], target[:count], timesteps[:count], m.noise_scheduler, config.snr_gamma)
        if self.classes is not None:
            prior = F.mse_loss(pred[count:].float(), target[count:].float(), reduction="mean")
            loss = loss + config.prior_loss_weight * prior
        return loss

    def controlnet_residuals(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        hidden: torch.Tensor,
        controls: torch.Tensor,
        posed: torch.Tensor,
    ) -> dict[str, Any]:
        """The frozen ControlNet's residuals for the instance examples, zero for examples without a pose
        and, with prior preservation, for the class examples appended after them."""
        m = self.models
        with torch.no_grad():
            down, mid = m.controlnet(
                noisy,
                timesteps,
                encoder_hidden_states=hidden,
                controlnet_cond=controls.to(self.device, m.weight_dtype),
                conditioning_scale=self.config.controlnet_scale,
                return_dict=False,
            )
        mask = posed.to(self.device, m.weight_dtype).view(-1, 1, 1, 1)
        pad = 0 if self.classes is None else len(noisy)

        def masked(residual: torch.Tensor) -> torch.Tensor:
            residual = residual * mask
            return torch.cat([residual, residual.new_zeros((pad, *residual.shape[1:]))]) if pad else residual

        return {
            "down_block_additional_residuals": [masked(r) for r in down],
            "mid_block_additional_residual": masked(mid),
        }


def _validation_pipeline(models: _Models, unet: Any, text_encoder: Any) -> Any:
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


def train(config: DreamBoothConfig, *, command: list[str] | None = None) -> TrainResult:
    """Train subject ``config.subject`` and write its folder (see the module docstring).

    Args:
        config: The run's settings.
        command: The command line for the manifest; default ``sys.argv``.

    Returns:
        :class:`TrainResult` (on every process; only the main process writes files).

    Raises:
        ToolkitError / ValueError: bad input, in one line.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from diffusers.optimization import get_scheduler
    from tqdm import tqdm

    accelerator = Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps, mixed_precision=config.mixed_precision
    )
    registry = SubjectRegistry.at(config.subjects_dir)
    folder = registry.folder(config.subject)
    checkpoints = folder / CHECKPOINTS_DIR
    resume = resolve_resume(config.resume_from_checkpoint, checkpoints)
    if config.resume_from_checkpoint == "latest" and resume is None:
        accelerator.print(f"no checkpoint in {checkpoints} yet; starting a new run")
    # Without --seed a run draws one; a resumed run keeps its checkpoint's, so its batches continue.
    if config.seed is not None:
        seed = config.seed
    elif resume is not None:
        seed = read_state(resume).seed
    else:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    set_seed(seed)
    started = time.perf_counter()

    # 1. Photos, poses, proportions.
    images, names = read_photos(config.instance_dir)
    poses = _instance_poses(config, images)
    for name, pose in zip(names, poses, strict=True):
        if pose is None:
            logger.warning("no person found in %s: it trains without pose conditioning", name)
    proportions = estimate_proportions(poses)
    instances = ExampleSet.build(images, poses, config.resolution)
    posed = int(instances.posed.sum())
    if config.pose_conditioning and posed == 0:
        raise ToolkitError(
            f"no person was found in any photo of {config.instance_dir}; pass --poses FILE with one pose "
            "per photo, or train with --pose-conditioning off"
        )
    prompts = _prompts(config)

    # 2. Models and class images.
    models = _load_models(config, accelerator)
    made = 0
    classes = None
    if config.with_prior_preservation:
        assert config.class_dir is not None
        made = _class_images(config, models, prompts[1], accelerator)
        classes = ExampleSet.build(
            class_photos(config.class_dir, config.num_class_images), None, config.resolution
        )

    # 3. Adapters, optimizer, scheduler, accelerate.
    _prepare_models(config, models, accelerator)
    te = models.text_encoder if config.train_text_encoder else None
    lr = config.learning_rate
    if config.scale_lr:
        lr *= config.gradient_accumulation_steps * config.train_batch_size * accelerator.num_processes
    optimizer = _optimizer(config, trainable_parameters(models.unet, te), lr)
    plan = BatchPlan(
        length=max(len(instances), len(classes) if classes is not None else 0),
        batch_size=config.train_batch_size,
        processes=accelerator.num_processes,
        seed=seed,
        random_flip=config.random_flip,
    )
    updates_per_epoch = math.ceil(plan.micro_steps_per_epoch / config.gradient_accumulation_steps)
    max_steps = config.max_train_steps or config.num_train_epochs * updates_per_epoch
    lr_scheduler = get_scheduler(
        config.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=config.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=max_steps * accelerator.num_processes,
        num_cycles=config.lr_num_cycles,
        power=config.lr_power,
    )
    if te is not None:
        models.unet, models.text_encoder, optimizer, lr_scheduler = accelerator.prepare(
            models.unet, models.text_encoder, optimizer, lr_scheduler
        )
    else:
        models.unet, optimizer, lr_scheduler = accelerator.prepare(models.unet, optimizer, lr_scheduler)
    unwrap = accelerator.unwrap_model
    trainer = _Trainer(config, models, accelerator, instances, classes, prompts)

    def unwrapped() -> tuple[Any, Any]:
        return unwrap(models.unet), unwrap(models.text_encoder) if te is not None else None

    # 4. Resume.
    step = 0
    if resume is not None:
        state, params = load_checkpoint(resume, accelerator, optimizer=optimizer, scheduler=lr_scheduler)
        load_trainable_state(params, *unwrapped())
        step = state.step
        accelerator.print(f"resumed from {resume} at step {step}")

    # 5. Train.
    log = create_logger(config.report_to, folder / "logs") if accelerator.is_main_process else None
    controls = validation_controls(config.validation_motions, config.resolution)
    trained = [models.unet] + ([models.text_encoder] if te is not None else [])
    params = trainable_parameters(*trained)
    result = TrainResult(
        folder=folder,
        lora=folder / LORA_FILE,
        steps=step,
        proportions=proportions,
        posed=posed,
        class_images_generated=made,
    )

    def validate(at: int) -> np.ndarray:
        unet, text_encoder = unwrapped()
        for model in trained:
            model.eval()
        pipe = _validation_pipeline(models, unet, text_encoder or models.text_encoder)
        with torch.no_grad():
            embeds = _encode(pipe.text_encoder, models.tokenizer, prompts[0], accelerator.device)
        image = render_validation(
            pipe,
            controls,
            embeds,
            steps=config.validation_inference_steps,
            seed=seed,
            controlnet_scale=config.controlnet_scale if config.pose_conditioning else 1.0,
        )
        for model in trained:
            model.train()
        save_grid(folder, at, image)
        if log is not None:
            log.image("validation", image, at)
        return image

    for model in trained:
        model.train()
    show = config.progress and accelerator.is_main_process
    bar = tqdm(total=max_steps, initial=step, desc="train", unit="step", disable=not show)
    while step < max_steps:
        tick = time.perf_counter()
        losses = []
        for micro in range(config.gradient_accumulation_steps):
            with accelerator.accumulate(*trained):
                loss = trainer.micro_step(plan, step * config.gradient_accumulation_steps + micro, seed)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            losses.append(float(loss.detach()))
        step += 1
        loss_value = float(np.mean(losses))
        if not math.isfinite(loss_value):
            raise ToolkitError(f"the loss is {loss_value} at step {step}; lower --learning-rate or use fp32")
        result.losses.append(loss_value)
        result.seconds += time.perf_counter() - tick
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if log is not None:
            log.log({"loss": loss_value, "lr": lr_scheduler.get_last_lr()[0]}, step)
        if step % config.checkpointing_steps == 0:
            save_checkpoint(
                checkpoints,
                step,
                accelerator,
                seed=seed,
                params=trainable_state(*unwrapped()),
                optimizer=optimizer,
                scheduler=lr_scheduler,
                write_lora=lambda path: save_lora(path, *unwrapped()),
                total_limit=config.checkpoints_total_limit,
            )
        if accelerator.is_main_process and config.validation_steps and step % config.validation_steps == 0:
            validate(step)
    bar.close()
    result.steps = step

    # 6. The subject folder.
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unet, text_encoder = unwrapped()
        result.lora = save_lora(folder, unet, text_encoder)
        if config.export_kohya:
            result.kohya = export_kohya(folder, unet, text_encoder, config.alpha)
        write_image(folder / SAMPLE_FILE, validate(step))
        subject = Subject(
            name=config.subject,
            token=config.token,
            class_noun=config.class_noun,
            base=config.base,
            controlnets=(config.controlnet,),
            template=config.template,
            proportions=proportions,
            samples=(SAMPLE_FILE,),
            training={**config.record(), "seed": seed, "steps": step, "posed_photos": posed},
        )
        registry.save(subject)
        write_manifest(
            folder,
            command=command,
            seed=seed,
            options=config.record(),
            models={"base": config.base, "controlnet": config.controlnet},
            timings={"total": time.perf_counter() - started, "train_steps": result.seconds},
            outputs={
                "steps": step,
                "final_loss": result.losses[-1] if result.losses else None,
                "lora": result.lora.name,
                "kohya": result.kohya.name if result.kohya else None,
            },
        )
        if log is not None:
            log.close()
    accelerator.wait_for_everyone()
    return result
