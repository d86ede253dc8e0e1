"""What every mini training stage shares: a stage gives a model to train, a dataset and a loss; this
module builds AdamW (constant learning rate after a linear warm-up, an optional linear decay, gradient
clipping), seeded batches and per-step generators, and runs the steps in the training core
(:mod:`toolkit.train.loop`: progress, loss log, checkpoints in its one format), resumed with
``resume="latest"`` or a folder. Batches, noise and timesteps of step ``s`` come from generators seeded by
``(seed, s, process)``, so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset

from ...nn.train_log import open_logger
from ...train.checkpoint import (
    CHECKPOINTS_DIR,
    CheckpointError,
    resolve_resume,
    save_checkpoint,
    sweep_checkpoint_temporaries,
)
from ...train.loop import LoopSettings, run_steps
from ...train.sampling import RandomBatches, step_seed

if TYPE_CHECKING:
    from accelerate import Accelerator

# loss(model, batch, generator) -> named losses; the one called "loss" is optimised.
LossFn = Callable[[torch.nn.Module, dict[str, Any], torch.Generator], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class LoopOptions:
    """Settings of one training stage.

    Args:
        output: The run folder; checkpoints go to ``output/checkpoints/<stage>/``, logs to
            ``output/logs/<stage>/``.
        steps: Optimisation steps in all (a resumed run stops at the same total).
        batch_size: Samples per step and process. Default 16.
        learning_rate: AdamW learning rate. Default 1e-4.
        warmup_steps: Linear warm-up of the learning rate. Default 0.
        decay_steps: Linear decay of the learning rate to 0 over the last ``decay_steps`` steps. Default 0
            (constant to the end). Until the decay starts, the run is the constant-rate run step for step,
            so a constant-rate run can be resumed with a decay from any checkpoint before it.
        max_grad_norm: Gradient clipping. Default 1.
        seed: Seeds the model's initialisation, batches, noise and timesteps. Default 0.
        checkpoint_every: Steps between checkpoints (the last step is always saved). Default 500.
        checkpoints_total_limit: Keep this many newest checkpoints; None keeps all. Default 2.
        resume: ``"latest"`` (start fresh if there is none) or a checkpoint folder; None starts fresh.
        logger: ``"auto"``, ``"tensorboard"`` or ``"csv"``. Default ``"auto"``.
        log_every: Steps between log rows. Default 10.
        num_workers: Data-loading processes. Default 0 (in the main process).
        progress: Show a progress bar (main process only). Default True.
    """

    output: Path
    steps: int
    batch_size: int = 16
    learning_rate: float = 1e-4
    warmup_steps: int = 0
    decay_steps: int = 0
    max_grad_norm: float = 1.0
    seed: int = 0
    checkpoint_every: int = 500
    checkpoints_total_limit: int | None = 2
    resume: str | None = None
    logger: str = "auto"
    log_every: int = 10
    num_workers: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("warmup_steps", "decay_steps"):
            if not 0 <= getattr(self, name) <= self.steps:
                raise ValueError(
                    f"{name} must be between 0 and the {self.steps} steps, got {getattr(self, name)}"
                )


def learning_rate_factor(step: int, options: LoopOptions) -> float:
    """The learning rate of step ``step + 1`` over ``options.learning_rate``: a linear warm-up over
    ``warmup_steps``, then 1, then a linear decay to 0 over the last ``decay_steps``."""
    warmup = min(1.0, (step + 1) / max(1, options.warmup_steps))
    decay = min(1.0, (options.steps - step) / options.decay_steps) if options.decay_steps else 1.0
    return warmup * decay


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    batch: dict[str, Any] = {"caption": [item["caption"] for item in items]}
    for key in items[0]:
        if key != "caption":
            batch[key] = torch.stack([item[key] for item in items])
    return batch


def train_stage(
    stage: str,
    model: torch.nn.Module,
    dataset: Dataset,
    loss_fn: LossFn,
    options: LoopOptions,
    accelerator: Accelerator,
) -> int:
    """Train ``model`` (its trainable parameters) for ``options.steps`` steps, resuming when asked.

    Args:
        stage: Name of the stage (``"vae"``, ``"unet"``, ``"controlnet"``): names its checkpoint and log
            folders.
        model: The model to train, already initialised from ``options.seed``; a resumed checkpoint
            overwrites its weights.
        dataset: The samples (a :class:`MiniDataset`, or its frames encoded by a frozen VAE).
        loss_fn: ``loss_fn(model, batch, generator)`` -> dict of scalar losses; ``"loss"`` is optimised.
            ``batch`` is on ``accelerator.device``; ``generator`` is a CPU generator seeded for this step.
        options: The loop's settings.
        accelerator: The run's ``Accelerator``.

    Returns:
        The last step done. The trained weights are in ``model`` (unwrapped from ``accelerate``).

    Raises:
        CheckpointError: the checkpoint to resume from is missing or was trained with another seed.
    """
    folder = options.output / CHECKPOINTS_DIR / stage
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=options.learning_rate, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, options))

    main = accelerator.is_main_process
    if main:
        sweep_checkpoint_temporaries(folder)
    start = 0
    resume = resolve_resume(options.resume, folder, flag="--resume-from-checkpoint")
    if resume is not None:
        if resume.seed != options.seed:
            raise CheckpointError(
                f"{resume.path} was trained with seed {resume.seed}; resume with --seed {resume.seed}"
            )
        weights = resume.restore(
            optimizers={"optimizer": optimizer},
            schedulers={"scheduler": scheduler},
            rank=accelerator.process_index,
            world=accelerator.num_processes,
        )
        model.load_state_dict({k.removeprefix("model/"): v for k, v in weights.items()})
        start = resume.step
    model, optimizer = accelerator.prepare(model, optimizer)

    sampler = RandomBatches(
        len(dataset),
        options.batch_size,
        seed=options.seed,
        start=start,
        steps=options.steps,
        rank=accelerator.process_index,
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=options.num_workers, collate_fn=_collate
    )
    batches = iter(loader)
    log = open_logger(options.output / "logs" / stage, options.logger, start) if main else None
    model.train()

    def step_fn(step: int) -> dict[str, float]:
        batch = {k: v.to(accelerator.device) if torch.is_tensor(v) else v for k, v in next(batches).items()}
        generator = torch.Generator().manual_seed(
            step_seed(options.seed, step, accelerator.process_index, stream=1)
        )
        # The whole loss under mixed precision, as the VAE stage calls encode and decode, not forward.
        with accelerator.autocast():
            losses = loss_fn(model, batch, generator)
        accelerator.backward(losses["loss"])
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(trainable, options.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return {k: v.item() for k, v in losses.items()}

    def save(step: int, rng: list[dict[str, Any]]) -> None:
        unwrapped = accelerator.unwrap_model(model)
        save_checkpoint(
            folder, step, seed=options.seed,
            tensors={f"model/{k}": v for k, v in unwrapped.state_dict().items()},
            optimizers={"optimizer": optimizer}, schedulers={"scheduler": scheduler}, rng=rng,
            write_files=lambda path: unwrapped.save_pretrained(path / stage),
            keep=options.checkpoints_total_limit,
        )  # fmt: skip

    settings = LoopSettings(
        steps=options.steps, start=start, desc=f"training {stage}", log_every=options.log_every,
        checkpoint_every=options.checkpoint_every, progress=options.progress,
    )  # fmt: skip
    try:
        done = run_steps(step_fn, settings, accelerator, log=log, save=save)
    finally:
        if log is not None:
            log.close()
    model.eval()
    accelerator.unwrap_model(model).eval()
    return done.step
