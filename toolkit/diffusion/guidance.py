"""Classifier-free guidance on only the first steps (``--guidance-stop``): the picture is laid out in the
first steps, where guidance matters; afterwards one conditional pass per step replaces two, so the rest
runs at twice the speed. The switch is a diffusers ``callback_on_step_end`` (the "dynamic CFG" recipe of
diffusers' documentation), so the pipeline itself is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# What the callback replaces in the ControlNet pipeline's loop: the inputs it doubled for guidance.
TENSOR_INPUTS = ["prompt_embeds", "image"]


def guided_steps(steps: int, guidance_stop: float) -> int:
    """How many of ``steps`` keep guidance: ``round(steps * guidance_stop)``, at least 1."""
    return max(1, round(steps * guidance_stop))


def stop_guidance_after(step: int) -> Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]:
    """A ``callback_on_step_end`` that turns guidance off once ``step`` steps are done: the guidance scale
    goes to 0 and the inputs the pipeline doubled (prompt embeddings ``(2N, 77, D)``, control images
    ``(2N, 3, H, W)`` or a list of them) keep their conditional half."""

    def callback(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if index + 1 != step:
            return {}
        pipe._guidance_scale = 0.0  # the pipeline reads do_classifier_free_guidance from it every step

        def conditional(value: torch.Tensor) -> torch.Tensor:
            return value.chunk(2)[1]  # the pipeline stacks [unconditional, conditional]

        image = tensors["image"]
        return {
            "prompt_embeds": conditional(tensors["prompt_embeds"]),
            "image": [conditional(i) for i in image] if isinstance(image, list) else conditional(image),
        }

    return callback
