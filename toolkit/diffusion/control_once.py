"""The ControlNet on the conditional half only (``--control-once``).

Under classifier-free guidance the pipeline runs the ControlNet on a doubled batch: the same latents and
skeletons twice, once with the negative prompt and once with the prompt. The two halves differ only in the
text the ControlNet's cross-attention reads, which moves its residuals little; this runs it once, on the
conditional half, and hands both halves those residuals. Unlike diffusers' ``guess_mode`` (which gives the
unconditional half no control at all), the pose still steers both halves, so guidance does not push away
from it. Without guidance it changes nothing.

A diffusers hook (``diffusers.hooks.ModelHook``) on the pipeline's ControlNet; removed when the context ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from diffusers.hooks import ModelHook

from .hooks import hooks_attached

HOOK = "toolkit_control_once"


def _conditional(value: Any) -> Any:
    """The conditional half of a doubled batch (the pipeline stacks [unconditional, conditional])."""
    if isinstance(value, list | tuple):
        return type(value)(_conditional(v) for v in value)
    return value.chunk(2)[1]


def _doubled(value: Any) -> Any:
    """The ControlNet's outputs for one half, repeated for both: ``(N, ...)`` -> ``(2N, ...)``."""
    if isinstance(value, list | tuple):
        return type(value)(_doubled(v) for v in value)
    return torch.cat([value, value])


class _ConditionalOnly(ModelHook):
    def __init__(self, pipe: Any) -> None:
        super().__init__()
        self.pipe = pipe

    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        if not self.pipe.do_classifier_free_guidance:
            return self.fn_ref.original_forward(*args, **kwargs)
        args = tuple(_conditional(a) if torch.is_tensor(a) and a.ndim == 4 else a for a in args)
        for name in ("sample", "encoder_hidden_states", "controlnet_cond"):
            if name in kwargs:
                kwargs[name] = _conditional(kwargs[name])
        return _doubled(self.fn_ref.original_forward(*args, **kwargs))


@contextmanager
def control_once(pipe: Any, enabled: bool) -> Iterator[None]:
    """Run ``pipe``'s ControlNet on the conditional half only, while guidance is on (see the module
    docstring); ``enabled`` False changes nothing. Enter it before :func:`~.deep_cache.deep_cache`, whose
    hook must see the doubled batch the UNet sees."""
    if not enabled or getattr(pipe, "controlnet", None) is None:
        yield
        return
    with hooks_attached([(pipe.controlnet, _ConditionalOnly(pipe))], HOOK):
        yield
