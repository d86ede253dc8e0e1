"""The DreamBooth/LoRA training loop, pose-aware.

1. Read the instance photos and their poses (a pose file, or the detector); measure body proportions.
2. Make the missing class images (prior preservation) with the base model (``models``).
3. Freeze the base model, add the LoRA adapter(s) (``models``), build the optimizer and learning-rate
   scheduler, and hand them to ``accelerate`` (which also wraps the model for multi-GPU runs).
4. Resume from a checkpoint if asked.
5. Train: each step (``step``) encodes the photos to latents, adds noise at random timesteps, and predicts
   the noise with the UNet. With pose conditioning the frozen ControlNet, fed each photo's skeleton, adds
   its residuals to the UNet's, so the pose is already explained by the ControlNet and the LoRA learns the
   subject's appearance rather than the photos' poses. Class images train without residuals: they were
   drawn without a ControlNet. Loss: MSE (Min-SNR weighted with ``snr_gamma``) plus the prior loss.
6. Every N steps: checkpoint, validation grid; at the end: the subject folder (LoRA, ``subject.toml``,
   validation grid, a copy of the photos for ``generate --reference subject``, a ``README.md`` model card
   as diffusers writes, manifest).

Every random draw of an example comes from a generator seeded by ``(seed, step, place in the global
batch)``, and the LoRA
dropout draws from the global generator, which checkpoints restore, so a resumed run repeats an
uninterrupted one exactly on the CPU.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...atomic import write_bytes_atomic
from ...data.media import list_images, write_image
from ...errors import ToolkitError
from ...locks import exclusive_folder
from ...manifest import write_manifest
from ...nn.distributed import make_accelerator
from ...nn.train_log import open_logger
from ...pose.proportions import BodyProportions
from ...train.checkpoint import (
    CHECKPOINTS_DIR,
    Checkpoint,
    resolve_resume,
    save_checkpoint,
    sweep_checkpoint_temporaries,
)
from ...train.loop import LoopSettings, run_steps
from ...train.sampling import BatchPlan
from ..loading import lora_file
from ..prompts import fill, load_template
from ..subjects import LORA_FILE, Subject, SubjectRegistry
from .card import write_model_card
from .config import DreamBoothConfig
from .data import ExampleSet, class_photos, read_photos
from .lora import export_kohya, load_trainable_state, save_lora, trainable_parameters, trainable_state
from .models import Models, generate_class_images, load_models, prepare_models, validation_pipeline
from .poses import detect_instance_poses, estimate_proportions, read_instance_poses
from .step import Trainer, encode_prompt
from .validation import render_validation, save_grid, validation_controls

if TYPE_CHECKING:
    from accelerate import Accelerator

    from ...data.subject import SubjectFrames
    from ...pose.sequence import PoseSequence

logger = logging.getLogger(__name__)

SAMPLE_FILE = "samples/validation.png"
PHOTOS_DIR = "photos"
CONCEPT_FILE = "concept_lora.safetensors"
DEFAULT_CLASS_PROMPT = "a photo of {class}"


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        folder: The subject folder.
        lora: Its ``pytorch_lora_weights.safetensors``.
        steps: Optimisation steps done in total (including those before a resume).
        losses: Mean loss of each step this process ran, over every process's examples.
        seconds: Wall time of the training steps alone (no validation, checkpoints or loading).
        proportions: Body proportions measured from the photos, if any.
        posed: How many instance photos train with pose conditioning.
        class_images_generated: Class images made by this run.
        kohya: The kohya export, if written.
        photos: The photos kept in the subject folder (paths relative to it).
        main_process: Whether this process is the one that wrote the folder (and should report).
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
    photos: tuple[str, ...] = ()
    main_process: bool = True

    @property
    def steps_per_second(self) -> float:
        return len(self.losses) / self.seconds if self.seconds else 0.0


def _prompts(config: DreamBoothConfig) -> tuple[str, str]:
    """``(instance prompt, class prompt)``: the literal ones of ``config``, else ``config.template``'s,
    filled with the token and class noun."""
    template = load_template(config.template)
    instance = config.instance_prompt or template.prompt
    class_prompt = config.class_prompt or template.class_prompt or DEFAULT_CLASS_PROMPT
    return fill(instance, config.token, config.class_noun), fill(
        class_prompt, config.token, config.class_noun
    )


def _run_seed(config: DreamBoothConfig, resume: Checkpoint | None) -> int:
    """``config.seed``; without it a resumed run keeps its checkpoint's, so its batches continue, and a
    new run draws one."""
    if config.seed is not None:
        return config.seed
    if resume is not None:
        return resume.seed
    return int(np.random.SeedSequence().generate_state(1)[0])


def _instance_photos(
    config: DreamBoothConfig, photos: SubjectFrames | None
) -> tuple[list[np.ndarray], list[str], list[PoseSequence | None]]:
    """The instance photos, their file names and one pose per photo (``None`` where nobody is seen):
    ``photos`` with their own poses when given in memory, else the images of ``config.instance_dir``
    with ``config.poses`` (else the detector's)."""
    if photos is not None:
        images = list(photos.images)
        poses = [photos.poses[i] if photos.poses[i].visible.any() else None for i in range(len(images))]
        return images, [_photo_name(i) for i in range(len(images))], poses
    if config.instance_dir is None:
        raise ToolkitError("no instance photos: pass --instance-dir DIR (or photos= to train())")
    images, names = read_photos(config.instance_dir)
    if config.poses is not None:
        return images, names, read_instance_poses(config.poses, images)
    return images, names, detect_instance_poses(images, config.detector)


def _photo_name(index: int) -> str:
    """The file name of in-memory photo ``index`` (zero-padded: natural order is frame order)."""
    return f"{index:05d}.png"


def _instance_examples(
    config: DreamBoothConfig, photos: SubjectFrames | None
) -> tuple[ExampleSet, BodyProportions | None]:
    """The instance photos prepared with their poses (see :func:`_instance_photos`) and the body
    proportions measured from the poses. A photo without a person trains without pose conditioning (with
    a warning).

    Raises:
        ToolkitError: pose conditioning is on and no photo shows a person.
    """
    images, names, poses = _instance_photos(config, photos)
    for name, pose in zip(names, poses, strict=True):
        if pose is None:
            logger.warning("no person found in %s: it trains without pose conditioning", name)
    proportions = estimate_proportions(poses)
    instances = ExampleSet.build(images, poses, config.resolution)
    if config.pose_conditioning and int(instances.posed.sum()) == 0:
        raise ToolkitError(
            f"no person was found in any photo of {config.instance_dir or 'the subject'}; pass --poses FILE "
            "with one pose per photo, or train with --pose-conditioning off"
        )
    return instances, proportions


def _optimizer(
    config: DreamBoothConfig, params: list[torch.nn.Parameter], processes: int
) -> torch.optim.Optimizer:
    """AdamW (bitsandbytes' 8-bit AdamW with ``use_8bit_adam``) over ``params``; with ``scale_lr`` the
    learning rate is multiplied by the global batch (accumulation x batch size x ``processes``)."""
    lr = config.learning_rate
    if config.scale_lr:
        lr *= config.gradient_accumulation_steps * config.train_batch_size * processes
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


def _lr_scheduler(
    config: DreamBoothConfig, optimizer: torch.optim.Optimizer, max_steps: int, processes: int
) -> Any:
    """diffusers' ``config.lr_scheduler`` over ``max_steps`` steps; ``accelerate`` steps a prepared
    scheduler once per process, so warm-up and length count every process's steps."""
    from diffusers.optimization import get_scheduler

    return get_scheduler(
        config.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=config.lr_warmup_steps * processes,
        num_training_steps=max_steps * processes,
        num_cycles=config.lr_num_cycles,
        power=config.lr_power,
    )


def _validation_grid(
    config: DreamBoothConfig,
    models: Models,
    unet: Any,
    text_encoder: Any | None,
    prompt: str,
    controls: np.ndarray,
    seed: int,
    device: torch.device,
) -> np.ndarray:
    """``(H, W, 3)`` uint8 grid of the instance ``prompt`` rendered on each skeleton of ``controls``
    ``(M, R, R, 3)`` by the unwrapped ``unet`` and ``text_encoder`` (``None``: the frozen one), which
    must be in eval mode."""
    pipe = validation_pipeline(models, unet, text_encoder or models.text_encoder)
    with torch.no_grad():
        embeds = encode_prompt(pipe.text_encoder, models.tokenizer, prompt, device)
    return render_validation(
        pipe,
        controls,
        embeds,
        steps=config.validation_inference_steps,
        seed=seed,
        controlnet_scale=config.controlnet_scale if config.pose_conditioning else 1.0,
    )


def _keep_photos(config: DreamBoothConfig, photos: SubjectFrames | None, folder: Path) -> tuple[str, ...]:
    """Copy the instance photos into ``folder/photos/`` (the in-memory ``photos`` as PNGs, else
    ``config.instance_dir``'s files byte for byte); returns their paths relative to ``folder``."""
    kept = []
    if photos is not None:
        for i, image in enumerate(photos.images):
            kept.append(f"{PHOTOS_DIR}/{_photo_name(i)}")
            write_image(folder / kept[-1], image)
        return tuple(kept)
    assert config.instance_dir is not None  # _instance_photos checked it
    for photo in list_images(config.instance_dir):
        kept.append(f"{PHOTOS_DIR}/{photo.name}")
        write_bytes_atomic(folder / kept[-1], photo.read_bytes())
    return tuple(kept)


def _keep_concept(init_lora: Path, folder: Path) -> None:
    """Copy the concept LoRA (a file, or a folder written by ``save_lora_weights``) into ``folder``, so
    the subject renders without the original."""
    weights = lora_file(init_lora)
    assert weights is not None  # checked by DreamBoothConfig
    write_bytes_atomic(folder / CONCEPT_FILE, weights.read_bytes())


def _record_subject(
    config: DreamBoothConfig,
    registry: SubjectRegistry,
    result: TrainResult,
    seed: int,
    started: float,
    command: list[str] | None,
) -> None:
    """Write ``subject.toml`` and the manifest of a finished run (``started``: ``time.perf_counter()`` at
    its start)."""
    subject = Subject(
        name=config.subject,
        token=config.token,
        class_noun=config.class_noun,
        base=config.base,
        controlnets=(config.controlnet,),
        template=config.template,
        prompt=config.instance_prompt,
        proportions=result.proportions,
        samples=(SAMPLE_FILE,),
        photos=result.photos,
        concept_lora=CONCEPT_FILE if config.init_lora is not None else None,
        concept_scale=config.init_lora_scale,
        training={**config.record(), "seed": seed, "steps": result.steps, "posed_photos": result.posed},
    )
    registry.save(subject)
    write_manifest(
        result.folder,
        command=command,
        seed=seed,
        options=config.record(),
        models={"base": config.base, "controlnet": config.controlnet},
        timings={"total": time.perf_counter() - started, "train_steps": result.seconds},
        outputs={
            "steps": result.steps,
            "final_loss": result.losses[-1] if result.losses else None,
            "lora": result.lora.name,
            "kohya": result.kohya.name if result.kohya else None,
        },
    )


def train(
    config: DreamBoothConfig, *, photos: SubjectFrames | None = None, command: list[str] | None = None
) -> TrainResult:
    """Train subject ``config.subject`` and write its folder (see the module docstring).

    Args:
        config: The run's settings.
        photos: The instance photos and one pose each, in memory (``SubjectFrames``; a pose with no
            joint seen trains that photo without pose conditioning); default: ``config.instance_dir``
            and ``config.poses``.
        command: The command line for the manifest; default ``sys.argv``.

    Returns:
        :class:`TrainResult` (on every process; only the main process writes files).

    Raises:
        ToolkitError / ValueError: bad input, in one line.
    """
    accelerator = make_accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps, mixed_precision=config.mixed_precision
    )
    registry = SubjectRegistry.at(config.subjects_dir)
    folder = registry.folder(config.subject)
    with ExitStack() as stack:
        if accelerator.is_main_process:  # the one process that writes
            stack.enter_context(exclusive_folder(folder, f"subject {config.subject!r}"))
        return _train(config, photos, accelerator, registry, folder, command)


def _train(
    config: DreamBoothConfig,
    photos: SubjectFrames | None,
    accelerator: Accelerator,
    registry: SubjectRegistry,
    folder: Path,
    command: list[str] | None,
) -> TrainResult:
    """:func:`train` once the subject folder is this run's."""
    from accelerate.utils import set_seed

    checkpoints = folder / CHECKPOINTS_DIR
    if accelerator.is_main_process:
        sweep_checkpoint_temporaries(checkpoints)
    resume = resolve_resume(config.resume_from_checkpoint, checkpoints, flag="--resume-from-checkpoint")
    if config.resume_from_checkpoint == "latest" and resume is None:
        accelerator.print(f"no checkpoint in {checkpoints} yet; starting a new run")
    seed = _run_seed(config, resume)
    set_seed(seed)
    started = time.perf_counter()

    # 1. Photos, poses, proportions.
    instances, proportions = _instance_examples(config, photos)
    prompts = _prompts(config)

    # 2. Models and class images.
    models = load_models(config, accelerator)
    made, classes = 0, None
    if config.with_prior_preservation:
        assert config.class_dir is not None
        made = generate_class_images(config, models, prompts[1], accelerator)
        classes = ExampleSet.build(
            class_photos(config.class_dir, config.num_class_images), None, config.resolution
        )

    # 3. Adapters, optimizer, scheduler, accelerate.
    prepare_models(config, models, accelerator)
    te = models.text_encoder if config.train_text_encoder else None
    optimizer = _optimizer(config, trainable_parameters(models.unet, te), accelerator.num_processes)
    plan = BatchPlan(
        length=max(len(instances), len(classes) if classes is not None else 0),
        batch_size=config.train_batch_size,
        processes=accelerator.num_processes,
        seed=seed,
        random_flip=config.random_flip,
    )
    updates_per_epoch = math.ceil(plan.micro_steps_per_epoch / config.gradient_accumulation_steps)
    max_steps = config.max_train_steps or config.num_train_epochs * updates_per_epoch
    lr_scheduler = _lr_scheduler(config, optimizer, max_steps, accelerator.num_processes)
    if te is not None:
        models.unet, models.text_encoder, optimizer, lr_scheduler = accelerator.prepare(
            models.unet, models.text_encoder, optimizer, lr_scheduler
        )
    else:
        models.unet, optimizer, lr_scheduler = accelerator.prepare(models.unet, optimizer, lr_scheduler)
    trainer = Trainer(config, models, accelerator, instances, classes, prompts)

    # 4. Resume.
    step = 0
    if resume is not None:
        weights = resume.restore(
            optimizers={"optimizer": optimizer},
            schedulers={"scheduler": lr_scheduler},
            rank=accelerator.process_index,
            world=accelerator.num_processes,
        )
        load_trainable_state({k.removeprefix("params/"): v for k, v in weights.items()}, *trainer.unwrapped())
        step = resume.step
        accelerator.print(f"resumed from {resume.path} at step {step}")

    # 5. Train.
    log = open_logger(folder / "logs", config.report_to, step) if accelerator.is_main_process else None
    controls = validation_controls(config.validation_motions, config.resolution)
    result = TrainResult(
        folder=folder,
        lora=folder / LORA_FILE,
        steps=step,
        proportions=proportions,
        posed=int(instances.posed.sum()),
        class_images_generated=made,
        main_process=accelerator.is_main_process,
    )

    def validate(at: int) -> np.ndarray:
        for model in trainer.trained:
            model.eval()
        unet, text_encoder = trainer.unwrapped()
        prompt = (
            fill(config.validation_prompt, config.token, config.class_noun)
            if config.validation_prompt
            else prompts[0]
        )
        image = _validation_grid(
            config, models, unet, text_encoder, prompt, controls, seed, accelerator.device
        )
        for model in trainer.trained:
            model.train()
        save_grid(folder, at, image)
        if log is not None:
            log.image("validation", image, at)
        return image

    for model in trainer.trained:
        model.train()

    def step_fn(at: int) -> dict[str, float]:
        loss = trainer.step(plan, at - 1, seed, optimizer, lr_scheduler)
        return {"loss": loss, "lr": lr_scheduler.get_last_lr()[0]}

    def save(at: int, rng: list[dict[str, Any]]) -> None:
        params = trainable_state(*trainer.unwrapped())
        save_checkpoint(
            checkpoints, at, seed=seed, tensors={f"params/{k}": v for k, v in params.items()},
            optimizers={"optimizer": optimizer}, schedulers={"scheduler": lr_scheduler}, rng=rng,
            write_files=lambda path: save_lora(path, *trainer.unwrapped()),
            keep=config.checkpoints_total_limit,
        )  # fmt: skip

    def after_step(at: int, losses: Mapping[str, float]) -> None:
        result.losses.append(losses["loss"])
        if config.validation_steps and at % config.validation_steps == 0:
            validate(at)

    settings = LoopSettings(
        steps=max_steps, start=step, desc="train", log_every=1,
        checkpoint_every=config.checkpointing_steps, progress=config.progress,
    )  # fmt: skip
    done = run_steps(step_fn, settings, accelerator, log=log, save=save, after_step=after_step)
    result.steps, result.seconds = done.step, done.seconds

    # 6. The subject folder.
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unet, text_encoder = trainer.unwrapped()
        result.lora = save_lora(folder, unet, text_encoder)
        if config.export_kohya:
            result.kohya = export_kohya(folder, unet, text_encoder, config.alpha)
        write_image(folder / SAMPLE_FILE, validate(result.steps))
        write_model_card(folder, config, prompts, result.steps, SAMPLE_FILE)
        result.photos = _keep_photos(config, photos, folder)
        if config.init_lora is not None:
            _keep_concept(config.init_lora, folder)
        _record_subject(config, registry, result, seed, started, command)
        if log is not None:
            log.close()
    accelerator.wait_for_everyone()
    return result
