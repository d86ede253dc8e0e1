"""Saved methods on disk: a ``config.json`` naming the method and its settings, plus safetensors weights.

Every file is written atomically, and ``config.json`` last, so a folder with a ``config.json`` is complete.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..atomic import atomic_path, write_json_atomic
from ..train.checkpoint import CheckpointError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

D = TypeVar("D")


def config_from_dict(cls: type[D], values: Mapping[str, Any] | None, *, ignore: Iterable[str] = ()) -> D:
    """Build the dataclass ``cls`` from ``values``, its fields over their defaults.

    Keys in ``ignore`` are skipped (settings meant for someone else, e.g. the training loop's); any other
    unknown key is a one-line ``ValueError`` listing the known ones. JSON lists become tuples where the
    default is a tuple.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    skipped = set(ignore)
    unknown = sorted(k for k in (values or {}) if k not in fields and k not in skipped)
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no setting {unknown[0]!r}; its settings are {', '.join(fields)}"
        )
    chosen = {}
    for key, value in (values or {}).items():
        if key in fields:
            default = fields[key].default
            chosen[key] = tuple(value) if isinstance(value, list) and isinstance(default, tuple) else value
    return cls(**chosen)


def write_method(
    directory: str | Path,
    method: str,
    config: Any,
    tensors: Mapping[str, torch.Tensor] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save a method into ``directory``: ``model.safetensors`` (if ``tensors``), then ``config.json``.

    Args:
        directory: Created if missing.
        method: The registry name, checked again on load.
        config: The method's config dataclass.
        tensors: Weights; each is saved contiguous and on the CPU.
        extra: More JSON-safe entries for ``config.json``.

    Returns:
        ``directory`` as a ``Path``.
    """
    directory = Path(directory)
    if tensors is not None:
        with atomic_path(directory / WEIGHTS_NAME) as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    record = {"method": method, "config": dataclasses.asdict(config), **(extra or {})}
    write_json_atomic(directory / CONFIG_NAME, record)
    return directory


def read_method(directory: str | Path, method: str, *, weights: bool = True) -> tuple[dict[str, Any], dict]:
    """Read what :func:`write_method` saved: ``(config.json's content, tensors)``; ``tensors`` is empty
    when ``weights`` is False.

    Raises:
        CheckpointError: no ``config.json``, one of another method, or unreadable weights.
    """
    directory = Path(directory)
    path = directory / CONFIG_NAME
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(
            f"{directory}: no {CONFIG_NAME}; is this a folder a method was saved in?"
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable ({err})") from None
    if not isinstance(record, dict) or record.get("method") != method:
        found = record.get("method") if isinstance(record, dict) else None
        raise CheckpointError(f"{directory} holds the method {found!r}, not {method!r}")
    if not weights:
        return record, {}
    try:
        return record, load_file(str(directory / WEIGHTS_NAME))
    except (OSError, SafetensorError) as err:
        raise CheckpointError(f"{directory / WEIGHTS_NAME}: cannot read the weights ({err})") from None


def module_states(modules: Mapping[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """One flat tensor dict for several networks saved in one file: ``{"<name>.<key>": tensor}``."""
    return {
        f"{name}.{key}": value
        for name, module in modules.items()
        for key, value in module.state_dict().items()
    }


def module_state(tensors: Mapping[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The state dict of network ``name`` from a :func:`module_states` dict (prefix removed)."""
    prefix = f"{name}."
    return {key.removeprefix(prefix): value for key, value in tensors.items() if key.startswith(prefix)}


def saved_method_name(directory: str | Path) -> str | None:
    """The method named in ``directory/config.json``, or None when there is no readable one."""
    try:
        record = json.loads((Path(directory) / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record.get("method") if isinstance(record, dict) else None


def parse_setting(text: str) -> tuple[str, Any]:
    """``"key=value"`` from a command line -> ``(key, value)``; the value is read as JSON when it parses
    (``size=128``, ``flip=true``, ``driver=null``), else kept as a string (``driver=data/alice``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected a setting as KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value
