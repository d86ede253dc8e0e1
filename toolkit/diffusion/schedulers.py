"""Sampler registry: ``--scheduler`` names mapped to diffusers schedulers and their usual settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..checks import lookup

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    from diffusers.schedulers.scheduling_utils import SchedulerMixin


@dataclass(frozen=True)
class SchedulerSpec:
    """One sampler.

    Args:
        class_name: The diffusers scheduler class.
        steps: Default number of denoising steps with this sampler.
        guidance: Default classifier-free guidance scale with this sampler.
        description: One line for ``--help``.
        a1111_name: The sampler's name in A1111's "parameters" text (what its PNG info shows).
        options: Extra config overrides passed to ``from_config``.
    """

    class_name: str
    steps: int
    guidance: float
    description: str
    a1111_name: str
    options: dict[str, Any] = field(default_factory=dict)


SCHEDULERS: dict[str, SchedulerSpec] = {
    "unipc": SchedulerSpec(
        "UniPCMultistepScheduler",
        20,
        7.5,
        "UniPC multistep, diffusers' ControlNet default (20 steps)",
        "UniPC",
    ),
    "ddim": SchedulerSpec("DDIMScheduler", 30, 7.5, "DDIM, deterministic (eta 0), 30 steps", "DDIM"),
    "dpm": SchedulerSpec(
        "DPMSolverMultistepScheduler",
        20,
        7.5,
        "DPM-Solver++ (2M) with Karras sigmas, 20 steps",
        "DPM++ 2M Karras",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
    ),
    "lcm": SchedulerSpec(
        "LCMScheduler",
        4,
        1.0,
        "Latent Consistency sampler: 4 steps, guidance 1; use with --lcm-lora",
        "LCM",
    ),
}
DEFAULT_SCHEDULER = "unipc"


def scheduler_spec(name: str) -> SchedulerSpec:
    """The registry entry ``name``; raises ``ValueError`` listing the known names."""
    return lookup(SCHEDULERS, name, "scheduler")


def set_scheduler(pipe: DiffusionPipeline, name: str) -> SchedulerMixin:
    """Replace ``pipe.scheduler`` with sampler ``name`` built from the current scheduler's config (so the
    model's noise schedule is kept); returns the new scheduler."""
    import diffusers

    spec = scheduler_spec(name)
    scheduler_class = getattr(diffusers, spec.class_name)
    pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config, **spec.options)
    return pipe.scheduler
