"""Feature caching across denoising steps (``--cache-interval K``), after DeepCache (Ma et al., CVPR 2024).

Between neighbouring steps the UNet's deep features barely change; its shallowest level does. Every K-th
step runs in full and keeps what the deep part returned; the K - 1 steps after it run only the shallow
path (``conv_in``, the first down block, the last up block, ``conv_out``) and take the deep blocks'
outputs from the cache, so the last up block receives the cached deep feature beside fresh skip
connections. The ControlNet's residuals are kept from the full step too. The first step of every
pipeline call, and any step whose batch differs from the cached one (guidance switched off by
``--guidance-stop``), runs in full.

It is built on diffusers' hook registry (``diffusers.hooks.ModelHook``), the mechanism of its own caches
(FasterCache, FirstBlockCache ...), none of which covers ``UNet2DConditionModel``; the pipeline's code is
untouched and the hooks are removed when the context ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from diffusers.hooks import ModelHook

from .hooks import hooks_attached

HOOK = "toolkit_deep_cache"


@dataclass
class CacheClock:
    """Which step of the denoising loop a model call belongs to, and whether that step runs in full.

    Calls of one step (the ControlNet's, then the UNet's) share a timestep and a batch size; a new pair
    starts a new step; a timestep above the last one starts a new loop (the next pipeline call). A step
    runs in full ``interval`` steps after the last full one, at the start of a loop, and when its batch
    differs from the cached one.
    """

    interval: int
    since_full: int = 0  # steps since the last full one
    key: tuple[float, int] | None = None
    batch: int | None = None  # batch size of the last full step, whose outputs are cached
    full: bool = True

    def step(self, timestep: Any, batch: int) -> bool:
        """Register a model call at ``timestep`` on ``batch`` samples; True when its step runs in full."""
        value = float(timestep.flatten()[0]) if torch.is_tensor(timestep) else float(timestep)
        key = (value, batch)
        if key != self.key:
            restart = self.key is None or value > self.key[0]
            self.since_full += 1
            self.full = restart or batch != self.batch or self.since_full >= self.interval
            if self.full:
                self.since_full, self.batch = 0, batch
            self.key = key
        return self.full


def _timestep_and_batch(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, int]:
    """``(timestep, batch)`` of a UNet or ControlNet call ``forward(sample, timestep, ...)``."""
    sample = kwargs["sample"] if "sample" in kwargs else args[0]
    timestep = kwargs["timestep"] if "timestep" in kwargs else args[1]
    return timestep, sample.shape[0]


class _Clocked(ModelHook):
    """On a whole model (UNet or ControlNet): ticks the clock; with ``replay`` (the ControlNet), returns
    its last full output on cached steps."""

    def __init__(self, clock: CacheClock, replay: bool) -> None:
        super().__init__()
        self.clock, self.replay, self.cached = clock, replay, None

    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        full = self.clock.step(*_timestep_and_batch(args, kwargs))
        if full or not self.replay or self.cached is None:
            output = self.fn_ref.original_forward(*args, **kwargs)
            if self.replay:
                self.cached = output
            return output
        return self.cached


class _Deep(ModelHook):
    """On one deep block of the UNet: runs it on full steps, keeping its output; returns that output on
    cached steps."""

    def __init__(self, clock: CacheClock) -> None:
        super().__init__()
        self.clock, self.cached = clock, None

    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        if self.clock.full or self.cached is None:
            self.cached = self.fn_ref.original_forward(*args, **kwargs)
        return self.cached


def deep_blocks(unet: torch.nn.Module) -> list[torch.nn.Module]:
    """The blocks a cached step skips: every down block but the first, the mid block, every up block but
    the last."""
    return [*unet.down_blocks[1:], unet.mid_block, *unet.up_blocks[:-1]]


@contextmanager
def deep_cache(pipe: Any, interval: int) -> Iterator[CacheClock | None]:
    """Cache ``pipe``'s deep UNet features (and its ControlNet's residuals) for ``interval - 1`` steps out
    of every ``interval``; ``interval`` 1 changes nothing. Yields the clock (None when off)."""
    if interval < 1:
        raise ValueError(f"cache interval must be 1 (off) or more, got {interval}")
    if interval == 1:
        yield None
        return
    clock = CacheClock(interval)
    hooked: list[tuple[torch.nn.Module, ModelHook]] = [(pipe.unet, _Clocked(clock, replay=False))]
    if getattr(pipe, "controlnet", None) is not None:
        hooked.append((pipe.controlnet, _Clocked(clock, replay=True)))
    hooked += [(block, _Deep(clock)) for block in deep_blocks(pipe.unet)]
    with hooks_attached(hooked, HOOK):
        yield clock
