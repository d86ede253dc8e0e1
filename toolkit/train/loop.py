"""The step loop every trainer runs: the GAN baselines (``toolkit.nn.trainer``), DreamBooth and the mini
stages. A trainer says what one step does; the loop runs the steps from where a resumed run left off and
does the rest the same way for all of them:

- a progress bar on the main process, showing the step's losses;
- the losses of the *global* batch (each process's, averaged over the processes);
- a loss log row every ``log_every`` steps (and at the last), written by the main process;
- a checkpoint every ``checkpoint_every`` steps (and at the last), with every process's RNG states,
  written by the main process (:mod:`.checkpoint`);
- a checkpoint of the last step before it stops when asked to (:mod:`toolkit.progress`);
- a one-line error when a loss named ``"loss"`` stops being finite.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ToolkitError
from ..progress import Cancelled, cancel_requested, progress_bar
from .checkpoint import every_rank, rng_state

# step (counted from 1) -> this process's losses of that step
StepFn = Callable[[int], Mapping[str, float]]
# (step, every rank's RNG states) -> None: write a checkpoint (main process only)
SaveFn = Callable[[int, list[dict[str, Any]]], Any]


@dataclass(frozen=True)
class LoopSettings:
    """How :func:`run_steps` runs.

    Args:
        steps: Total optimisation steps of the run.
        start: Steps already done (by the checkpoint resumed from); 0 for a fresh run.
        desc: The progress bar's label.
        log_every: Steps between log rows; the last step is always logged.
        checkpoint_every: Steps between checkpoints; the last step is always saved.
        progress: Show the progress bar (main process only).
    """

    steps: int
    start: int = 0
    desc: str = "train"
    log_every: int = 10
    checkpoint_every: int = 500
    progress: bool = True


@dataclass
class LoopResult:
    """What :func:`run_steps` did: the last step, its (global) losses, and the seconds spent in steps."""

    step: int
    losses: dict[str, float]
    seconds: float


def global_mean(losses: Mapping[str, float], accelerator: Any) -> dict[str, float]:
    """Each loss averaged over the processes: the loss of the global batch, what one process logs."""
    if accelerator.num_processes == 1 or not losses:
        return dict(losses)
    values = torch.tensor(list(losses.values()), dtype=torch.float64, device=accelerator.device)
    means = accelerator.reduce(values, reduction="mean").tolist()
    return dict(zip(losses, means, strict=True))


def run_steps(
    step_fn: StepFn,
    settings: LoopSettings,
    accelerator: Any,
    *,
    log: Any = None,
    save: SaveFn | None = None,
    after_step: Callable[[int, Mapping[str, float]], None] | None = None,
) -> LoopResult:
    """Run steps ``settings.start + 1 .. settings.steps`` of ``step_fn``.

    Args:
        step_fn: One optimisation step; returns this process's losses as floats.
        settings: Length, logging and checkpoint intervals.
        accelerator: An ``accelerate.Accelerator`` (or anything with its ``num_processes``,
            ``is_main_process``, ``device`` and ``reduce``).
        log: A loss log (``toolkit.nn.train_log``) on the main process, else None.
        save: Writes a checkpoint; called on the main process at checkpoint steps. None saves nothing.
        after_step: Called on the main process after each step (and its checkpoint) with the step and
            its global losses: sample grids, validation.

    Raises:
        ToolkitError: the loss called ``"loss"`` is NaN or infinite.
        Cancelled: the context's :class:`~toolkit.progress.Watcher` asked to stop; the step it stopped
            after was checkpointed first (when ``save`` is given).
    """
    main = accelerator.is_main_process
    result = LoopResult(settings.start, {}, 0.0)
    bar = progress_bar(
        total=settings.steps, initial=settings.start, desc=settings.desc, unit="step",
        disable=not (settings.progress and main),
    )  # fmt: skip
    with bar:
        for step in range(settings.start + 1, settings.steps + 1):
            began = time.perf_counter()
            losses = global_mean(step_fn(step), accelerator)
            result.seconds += time.perf_counter() - began
            result.step, result.losses = step, losses
            if "loss" in losses and not math.isfinite(losses["loss"]):
                raise ToolkitError(
                    f"the loss is {losses['loss']} at step {step}; lower the learning rate or train in fp32"
                )
            bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items() if k != "lr"})
            bar.update(1, stoppable=False)  # the watcher hears of the step; the loop decides the stop
            last = step == settings.steps
            if log is not None and (step % settings.log_every == 0 or last):
                log.write(step, result.seconds, losses)
            # Read once, so that the checkpoint and the stop agree: a run asked to stop saves this step
            # first, and resuming loses nothing.
            stopping = cancel_requested()
            if save is not None and (step % settings.checkpoint_every == 0 or last or stopping):
                rng = every_rank(rng_state(), accelerator)  # every process takes part
                if main:
                    save(step, rng)
            if after_step is not None and main:
                after_step(step, losses)
            if stopping:
                raise Cancelled()
    return result
