"""Training checkpoints of :func:`toolkit.nn.trainer.train`: written atomically, restored exactly.

A checkpoint ``OUT/checkpoints/step_0000100/`` holds what the method's ``save`` writes (so it loads for
inference as it is) plus ``trainer.safetensors`` (every model's state, optimizer tensors) and
``trainer.json`` (step, optimizer settings, method config, and the Python, NumPy and torch RNG states of
every process, one entry per rank, so a resumed run continues each rank's streams). It is written
into a hidden temporary folder and renamed into place, and ``checkpoints/latest`` names it only then, so a
run killed at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..atomic import write_json_atomic, write_text_atomic
from .io import CheckpointError

if TYPE_CHECKING:
    from .trainer import Trainable, TrainingSetup, TrainOptions

CHECKPOINTS_DIR = "checkpoints"
LATEST_NAME = "latest"
STATE_TENSORS = "trainer.safetensors"
STATE_JSON = "trainer.json"


def save_checkpoint(
    output: Path,
    step: int,
    method: Trainable,
    setup: TrainingSetup,
    options: TrainOptions,
    rng_states: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``output/checkpoints/step_{step:07d}`` atomically, point ``latest`` at it, and delete all but
    the ``keep_checkpoints`` newest; returns its path. ``rng_states``: :func:`rng_state` of every process
    in rank order (default: this process's alone)."""
    root = output / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:07d}"
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        method.save(staging)
        tensors, optimizer_state = _training_tensors(setup)
        save_file(tensors, str(staging / STATE_TENSORS))
        state = {
            "step": step,
            "method": method.name,
            "method_config": dataclasses.asdict(method.config),
            "options": dataclasses.asdict(options),
            "optimizers": optimizer_state,
            "rng": rng_states if rng_states is not None else [rng_state()],
        }
        write_json_atomic(staging / STATE_JSON, state)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_text_atomic(root / LATEST_NAME, final.name + "\n")
    for old in sorted(p for p in root.glob("step_*") if p.is_dir())[: -options.keep_checkpoints]:
        shutil.rmtree(old)
    return final


def latest_checkpoint(output: str | Path) -> Path | None:
    """The checkpoint ``output/checkpoints/latest`` names, or None if there is none yet."""
    root = Path(output) / CHECKPOINTS_DIR
    try:
        name = (root / LATEST_NAME).read_text().strip()
    except FileNotFoundError:
        return None
    path = root / name
    return path if (path / STATE_JSON).is_file() else None


def load_checkpoint(
    path: str | Path, method: Trainable, setup: TrainingSetup, rank: int = 0, world: int = 1
) -> int:
    """Restore models, optimizers and this process's RNG states (rank ``rank`` of ``world``) from the
    checkpoint ``path`` into ``setup``; returns its step.

    Raises:
        CheckpointError: not a checkpoint, one of another method or config, or one saved by another
            number of processes.
    """
    path = Path(path)
    try:
        state = json.loads((path / STATE_JSON).read_text())
        tensors = load_file(str(path / STATE_TENSORS))
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not a readable training checkpoint ({err})") from None
    if state["method"] != method.name:
        raise CheckpointError(f"{path} is a checkpoint of {state['method']!r}, not {method.name!r}")
    mine = json.loads(json.dumps(dataclasses.asdict(method.config)))
    if state["method_config"] != mine:
        changed = sorted(k for k in mine if state["method_config"].get(k) != mine[k])
        raise CheckpointError(
            f"{path} was trained with other settings ({', '.join(changed)} differ); resume with the same "
            "method settings, or start a new output folder"
        )
    for name, model in setup.models.items():
        prefix = f"model/{name}/"
        model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    for name, optimizer in setup.optimizers.items():
        optimizer.load_state_dict(_optimizer_state_dict(name, state["optimizers"][name], tensors))
    if len(state["rng"]) != world:
        raise CheckpointError(
            f"{path} was saved by {len(state['rng'])} process(es); resume with the same number, not {world}"
        )
    set_rng_state(state["rng"][rank])
    return int(state["step"])


def resume_from(output: Path | None, resume: str | None) -> Path | None:
    """The checkpoint to resume from: None, ``"latest"`` of ``output`` or a checkpoint folder."""
    if resume is None:
        return None
    if resume == "latest":
        return latest_checkpoint(output)  # type: ignore[arg-type]
    path = Path(resume)
    if not (path / STATE_JSON).is_file():
        raise CheckpointError(f"{path}: no {STATE_JSON}; give a checkpoints/step_* folder or 'latest'")
    return path


def _training_tensors(setup: TrainingSetup) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every tensor to save (models, optimizer state, torch RNG) and the JSON part of optimizer state."""
    tensors = {}
    for name, model in setup.models.items():
        for key, value in model.state_dict().items():
            tensors[f"model/{name}/{key}"] = value.detach().cpu().contiguous()
    optimizers = {}
    for name, optimizer in setup.optimizers.items():
        state = optimizer.state_dict()
        plain: dict[str, dict[str, Any]] = {}
        for index, entries in state["state"].items():
            for key, value in entries.items():
                if torch.is_tensor(value):
                    tensors[f"optim/{name}/{index}/{key}"] = value.detach().cpu().contiguous()
                else:
                    plain.setdefault(str(index), {})[key] = value
        optimizers[name] = {
            "param_groups": state["param_groups"],
            "indices": [str(i) for i in state["state"]],
            "plain": plain,
        }
    return tensors, json.loads(json.dumps(optimizers))


def rng_state() -> dict[str, Any]:
    """This process's Python, NumPy, torch CPU and CUDA generator states, JSON-ready."""
    state: dict[str, Any] = {
        "python": _python_rng_state(),
        "numpy": _numpy_rng_state(),
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [rng.tolist() for rng in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(_python_state_from_json(state["python"]))
    np.random.set_state(_numpy_state_from_json(state["numpy"]))  # noqa: NPY002
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if torch.cuda.is_available() and state.get("cuda"):
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _optimizer_state_dict(name: str, saved: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict:
    state: dict[int, dict[str, Any]] = {int(i): dict(saved["plain"].get(i, {})) for i in saved["indices"]}
    prefix = f"optim/{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, entry = key[len(prefix) :].split("/", 1)
            state[int(index)][entry] = value
    return {"state": state, "param_groups": saved["param_groups"]}


def _python_rng_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _python_state_from_json(saved: list[Any]) -> tuple[Any, ...]:
    return saved[0], tuple(saved[1]), saved[2]


def _numpy_rng_state() -> list[Any]:
    kind, keys, position, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    return [kind, keys.tolist(), int(position), int(has_gauss), float(gauss)]


def _numpy_state_from_json(saved: list[Any]) -> tuple[Any, ...]:
    return saved[0], np.array(saved[1], dtype=np.uint32), saved[2], saved[3], saved[4]
