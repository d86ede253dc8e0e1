"""Training checkpoints: one format for every trainer (the GAN baselines, DreamBooth, the mini stages).

A checkpoint is a folder ``checkpoints/checkpoint-<step>/``::

    tensors.safetensors   the trained weights (under the caller's prefixes) and every optimizer's tensors
    state.json            step, seed, the run's own record (``meta``), optimizer and scheduler settings,
                          and the Python, NumPy, torch and CUDA RNG states of every process, one per rank;
                          written last, so its presence marks a whole checkpoint
    ...                   whatever the caller adds to be usable on its own (a method's save, a LoRA)

It is built in ``checkpoints/.checkpoint-<step>.tmp`` and renamed into place when complete, so a run killed
while saving keeps every earlier checkpoint, and the next run sweeps the temporary away. Nothing is
pickled: tensors go to safetensors and the rest to JSON, so a checkpoint from elsewhere cannot run code.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ..atomic import write_json_atomic
from ..errors import ToolkitError

CHECKPOINTS_DIR = "checkpoints"
STATE_FILE = "state.json"
TENSORS_FILE = "tensors.safetensors"
_NAME = re.compile(r"checkpoint-(\d+)")
_OPTIMIZER = "optimizer/{name}/"


class CheckpointError(ToolkitError, ValueError):
    """A checkpoint is missing, incomplete, damaged or does not fit the run."""


# ---- random states ------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """This process's Python, NumPy (legacy global), torch CPU and CUDA generator states, JSON-ready."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [rng.tolist() for rng in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if torch.cuda.is_available() and state.get("cuda"):
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def every_rank(value: Any, accelerator: Any) -> list[Any]:
    """``value`` of every process in rank order, on every process (a collective: all must call it)."""
    if accelerator.num_processes == 1:
        return [value]
    from accelerate.utils import gather_object

    return gather_object([value])


# ---- optimizer state ----------------------------------------------------------------------------------


def _optimizer_state(name: str, optimizer: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state dict split into tensors (``optimizer/<name>/<param>/<key>``) and JSON."""
    state = optimizer.state_dict()
    tensors, plain = {}, {}
    prefix = _OPTIMIZER.format(name=name)
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                plain.setdefault(str(index), {})[key] = value
    saved = {
        "param_groups": state["param_groups"],
        "indices": [str(i) for i in state["state"]],
        "plain": plain,
    }
    return tensors, json.loads(json.dumps(saved))


def _optimizer_state_dict(name: str, saved: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> dict:
    state: dict[int, dict[str, Any]] = {int(i): dict(saved["plain"].get(i, {})) for i in saved["indices"]}
    prefix = _OPTIMIZER.format(name=name)
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, entry = key[len(prefix) :].split("/", 1)
            state[int(index)][entry] = value
    return {"state": state, "param_groups": saved["param_groups"]}


# ---- writing ------------------------------------------------------------------------------------------


def save_checkpoint(
    root: Path,
    step: int,
    *,
    seed: int,
    tensors: Mapping[str, torch.Tensor],
    optimizers: Mapping[str, Any],
    schedulers: Mapping[str, Any] | None = None,
    rng: list[dict[str, Any]],
    meta: Mapping[str, Any] | None = None,
    write_files: Callable[[Path], None] | None = None,
    keep: int | None = None,
) -> Path:
    """Write ``root/checkpoint-<step>`` atomically (call it on the main process only); returns its path.

    Args:
        root: The checkpoints folder.
        step: Optimisation steps done.
        seed: The run's seed.
        tensors: The trained weights, under names the caller chooses (e.g. ``model/generator/...``).
        optimizers: Named optimizers; their state is saved in full.
        schedulers: Named learning-rate schedulers (``state_dict()`` must be JSON-ready, as torch's are).
        rng: :func:`rng_state` of every process, in rank order (see :func:`every_rank`).
        meta: What the run wants to check or restore on resume (method, settings ...); JSON-ready.
        write_files: ``write_files(folder)`` adds files that make the checkpoint usable on its own.
        keep: Keep at most this many checkpoints, dropping the oldest after a successful save.
    """
    root.mkdir(parents=True, exist_ok=True)
    final, tmp = root / f"checkpoint-{step}", root / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if write_files is not None:
            write_files(tmp)
        everything = {name: value.detach().cpu().contiguous() for name, value in tensors.items()}
        optimizer_json = {}
        for name, optimizer in optimizers.items():
            more, optimizer_json[name] = _optimizer_state(name, optimizer)
            everything.update(more)
        save_file(everything, str(tmp / TENSORS_FILE))
        state = {
            "step": step,
            "seed": seed,
            "meta": dict(meta or {}),
            "optimizers": optimizer_json,
            "schedulers": {name: s.state_dict() for name, s in (schedulers or {}).items()},
            "rng": rng,
        }
        write_json_atomic(tmp / STATE_FILE, json.loads(json.dumps(state)))
        if final.exists():  # a rerun reaching the same step: swap, so that one of the two is always whole
            old = root / f".checkpoint-{step}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep is not None:
        for _, path in checkpoint_steps(root)[:-keep]:
            shutil.rmtree(path)
    return final


def sweep_checkpoint_temporaries(root: Path) -> list[Path]:
    """Remove the ``.checkpoint-<step>.tmp`` and ``.old`` folders a run killed while saving left in
    ``root``; returns them. Call it on the main process before training starts."""
    stale = sorted(root.glob(".checkpoint-*.tmp")) + sorted(root.glob(".checkpoint-*.old"))
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


# ---- reading ------------------------------------------------------------------------------------------


def checkpoint_steps(root: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``root`` as ``(step, path)``, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _NAME.fullmatch(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back: what :func:`save_checkpoint` wrote in ``path``."""

    path: Path
    step: int
    seed: int
    meta: dict[str, Any]
    state: dict[str, Any]

    def restore(
        self,
        *,
        optimizers: Mapping[str, Any],
        schedulers: Mapping[str, Any] | None = None,
        rank: int = 0,
        world: int = 1,
    ) -> dict[str, torch.Tensor]:
        """Load the optimizers' and schedulers' states and this process's RNG states (rank ``rank`` of
        ``world``); returns the weights (every tensor that is not an optimizer's).

        Raises:
            CheckpointError: saved by another number of processes, or damaged.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        saved_ranks = len(self.state["rng"])
        if saved_ranks != world:
            raise CheckpointError(
                f"{self.path} was saved by {saved_ranks} process(es); resume with the same number, "
                f"not {world}"
            )
        try:
            tensors = load_file(str(self.path / TENSORS_FILE))
        except (OSError, SafetensorError) as err:
            raise CheckpointError(f"{self.path / TENSORS_FILE}: not readable ({err})") from None
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(_optimizer_state_dict(name, self.state["optimizers"][name], tensors))
        for name, scheduler in (schedulers or {}).items():
            scheduler.load_state_dict(self.state["schedulers"][name])
        set_rng_state(self.state["rng"][rank])
        return {k: v for k, v in tensors.items() if not k.startswith("optimizer/")}


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint in folder ``path``; a one-line :class:`CheckpointError` if it is not a whole one."""
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        return Checkpoint(path, int(state["step"]), int(state["seed"]), dict(state["meta"]), state)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: not a readable training checkpoint ({err})") from None


def resolve_resume(spec: str | Path | None, root: Path, flag: str = "--resume") -> Checkpoint | None:
    """The checkpoint to resume from: ``None``; ``"latest"`` (``None`` when there is none yet); or a
    ``checkpoint-<step>`` folder (a path, or a name under ``root``)."""
    if spec is None:
        return None
    if str(spec) == "latest":
        found = checkpoint_steps(root)
        return read_checkpoint(found[-1][1]) if found else None
    path = Path(spec)
    path = path if path.is_dir() else root / str(spec)
    if not (path / STATE_FILE).is_file():
        raise CheckpointError(
            f"no complete checkpoint at {str(spec)!r} (looked in {path}); pass a checkpoint-<step> folder "
            f"or {flag} latest"
        )
    return read_checkpoint(path)
