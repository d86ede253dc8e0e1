"""Training checkpoints, written atomically, pruned to a limit, and resumed.

A checkpoint is a folder ``checkpoints/checkpoint-<step>/`` holding::

    lora_params.safetensors             every trainable tensor (see lora.trainable_state)
    pytorch_lora_weights.safetensors    the same LoRA in diffusers' format, usable on its own
    optimizer.pt, scheduler.pt          optimizer and learning-rate scheduler state
    random_states_<process>.pt          Python, NumPy, torch CPU and CUDA generator states, per process
    state.json                          the step; written last, so its presence marks a whole checkpoint

It is built in ``checkpoints/.checkpoint-<step>.tmp`` and renamed into place only when complete, so a run
killed while saving leaves every earlier checkpoint intact and no half-written folder that looks whole.
Saving and loading use plain ``torch.save``/``torch.load(weights_only=True)`` and safetensors, not
``accelerate.save_state``, which would also store the full frozen UNet.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...errors import ToolkitError
from ...weights import load_tensors

if TYPE_CHECKING:
    from accelerate import Accelerator

CHECKPOINTS_DIR = "checkpoints"
_NAME = re.compile(r"checkpoint-(\d+)")
STATE_FILE = "state.json"


class CheckpointError(ToolkitError):
    """A checkpoint to resume from is missing or does not fit the run."""


def checkpoint_steps(folder: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``folder`` as ``(step, path)``, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.fullmatch(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def sweep_checkpoint_temporaries(folder: Path) -> list[Path]:
    """Remove the ``.checkpoint-<step>.tmp`` and ``.old`` folders a run killed while saving left in
    ``folder``; returns them. Call it on the main process before training starts."""
    stale = sorted(folder.glob(".checkpoint-*.tmp")) + sorted(folder.glob(".checkpoint-*.old"))
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def resolve_resume(spec: str | None, folder: Path) -> Path | None:
    """The checkpoint to resume from: ``"latest"`` (``None`` when there is none yet) or a folder."""
    if spec is None:
        return None
    if spec == "latest":
        found = checkpoint_steps(folder)
        return found[-1][1] if found else None
    path = Path(spec)
    path = path if path.is_dir() else folder / spec
    if not (path / STATE_FILE).is_file():
        raise CheckpointError(
            f"no complete checkpoint at {spec!r} (looked in {path}); pass a checkpoint-<step> folder "
            "or --resume-from-checkpoint latest"
        )
    return path


def _random_states() -> dict[str, Any]:
    version, mt, gauss = random.getstate()
    # The legacy global NumPy generator is what user code and libraries may draw from.
    name, keys, position, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    states: dict[str, Any] = {
        "python": [version, list(mt), gauss],
        "numpy": [name, keys.tolist(), position, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict[str, Any]) -> None:
    version, mt, gauss = states["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


@dataclass(frozen=True)
class TrainingState:
    """What a checkpoint restores besides the tensors: the optimisation step reached and the run's seed."""

    step: int
    seed: int


def read_state(path: Path) -> TrainingState:
    """The step and seed recorded in checkpoint ``path``."""
    state = json.loads((path / STATE_FILE).read_text())
    return TrainingState(step=int(state["step"]), seed=int(state["seed"]))


def save_checkpoint(
    folder: Path,
    step: int,
    accelerator: Accelerator,
    *,
    seed: int,
    params: dict[str, torch.Tensor],
    optimizer: Any,
    scheduler: Any,
    write_lora: Any,
    total_limit: int | None = None,
) -> Path:
    """Write checkpoint ``step`` atomically under ``folder``; every process must call it.

    Args:
        folder: The run's ``checkpoints`` folder.
        step: Optimisation steps done.
        seed: The run's seed, for a resume without ``--seed``.
        accelerator: The run's Accelerator (the main process writes the shared files).
        params: :func:`~.lora.trainable_state` of the models.
        optimizer, scheduler: Objects with ``state_dict()``.
        write_lora: ``write_lora(path)`` writes the diffusers-format LoRA into a folder.
        total_limit: Keep at most this many checkpoints, dropping the oldest after a successful save.

    Returns:
        The checkpoint folder.
    """
    from safetensors.torch import save_file

    final = folder / f"checkpoint-{step}"
    tmp = folder / f".checkpoint-{step}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)  # left by a run killed while saving
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    torch.save(_random_states(), tmp / f"random_states_{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_file(params, str(tmp / "lora_params.safetensors"))
        write_lora(tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, "seed": seed}) + "\n")
        if final.exists():  # a rerun reaching the same step: swap, so one of the two is always whole
            old = folder / f".checkpoint-{step}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
        if total_limit is not None:
            for _, path in checkpoint_steps(folder)[:-total_limit]:
                shutil.rmtree(path)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(
    path: Path, accelerator: Accelerator, *, optimizer: Any, scheduler: Any
) -> tuple[TrainingState, dict[str, torch.Tensor]]:
    """Restore optimizer, scheduler and this process's random states from checkpoint ``path``; return its
    :class:`TrainingState` and the trainable tensors (for :func:`~.lora.load_trainable_state`)."""
    from safetensors.torch import load_file

    for name, owner in (("optimizer", optimizer), ("scheduler", scheduler)):
        owner.load_state_dict(load_tensors(path / f"{name}.pt", what=f"{name} state", error=CheckpointError))
    randoms = path / f"random_states_{accelerator.process_index}.pt"
    if not randoms.is_file():
        raise CheckpointError(
            f"{path} was saved by fewer processes than this run has ({accelerator.num_processes}); "
            "resume with the same number of processes"
        )
    _set_random_states(load_tensors(randoms, what="random states", error=CheckpointError))
    return read_state(path), load_file(str(path / "lora_params.safetensors"))
