"""Hooks on diffusers models for the length of a block: what the speed knobs (:mod:`~.deep_cache`,
:mod:`~.control_once`, :mod:`~.control_embedding`) are built on. They use diffusers' own hook registry
(``diffusers.hooks``), so the pipeline's code is untouched and nothing stays attached afterwards."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from diffusers.hooks import HookRegistry, ModelHook


@contextmanager
def hooks_attached(hooks: Iterable[tuple[torch.nn.Module, ModelHook]], name: str) -> Iterator[None]:
    """Register each ``(module, hook)`` under ``name`` inside the block; every hook that was registered is
    removed when it ends, also on an error."""
    registries = []
    try:
        for module, hook in hooks:
            registry = HookRegistry.check_if_exists_or_initialize(module)
            registry.register_hook(hook, name)
            registries.append(registry)
        yield
    finally:
        for registry in registries:
            registry.remove_hook(name, recurse=False)
