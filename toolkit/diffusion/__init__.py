"""Diffusion generation: render a subject in every pose of a pose sequence with SD + ControlNet + LoRA.

- ``pipeline``: :class:`PoseTransferPipeline`, a subject rendered in poses, in memory.
- ``job``: :func:`run_generate`, ``toolkit generate`` as a function (files, videos, resuming).
- ``generate``: the batched, resumable, temporally consistent generation loop.
- ``consistency`` / ``noise``: cross-frame attention and per-frame noise (the ``--consistency`` registry).
- ``cross_frame`` / ``reference``: self-attention shared with the anchor frame and with reference photos.
- ``loading``: base model, ControlNet(s) and LoRA(s) from hub ids, local folders or single files.
- ``subjects``: the subject registry (``subject.toml`` + LoRA per folder).
- ``prompts``: prompt templates (``prompts/*.toml``).
- ``schedulers`` / ``speed``: the sampler registry and the speed knobs.
- ``tiny``: a random-weight SD + ControlNet pipeline for tests; ``tokenizer``: SD's CLIP tokenizer offline.

Submodules import torch and diffusers on first use, so ``import toolkit.diffusion`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "CONSISTENCY": ".consistency",
    "GenerateRequest": ".job",
    "GenerateResult": ".job",
    "GenerationSettings": ".generate",
    "PoseTransferPipeline": ".pipeline",
    "render_frames": ".generate",
    "LoraWeights": ".loading",
    "References": ".reference",
    "SCHEDULERS": ".schedulers",
    "SpeedOptions": ".speed",
    "apply_speed": ".speed",
    "encode_prompts": ".generate",
    "encode_references": ".reference",
    "plan_generation": ".job",
    "set_scheduler": ".schedulers",
    "Subject": ".subjects",
    "SubjectRegistry": ".subjects",
    "build_tiny_pipeline": ".tiny",
    "generate_frames": ".generate",
    "load_loras": ".loading",
    "load_pipeline": ".loading",
    "resolve_prompts": ".prompts",
    "run_generate": ".job",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
