"""DreamBooth/LoRA training of a subject, pose-aware (``training/dreambooth.py``).

- ``config``: :class:`DreamBoothConfig`, every argument with diffusers' defaults.
- ``data``: photos cropped with their poses, flips that swap left and right, the batch plan.
- ``poses``: the photos' poses (detector or file) and the body proportions measured from them.
- ``prior``: class images for prior preservation (only the missing ones are made).
- ``lora``: adapters, diffusers-format saving, kohya export.
- ``checkpoint``: atomic checkpoints, total limit, resume.
- ``models``: loading, freezing, adapters, class images. ``step``: one optimisation step and its loss.
- ``loop``: :func:`train`. ``validation``: grids and metric logs. ``cli``: the flags.

Submodules import torch and diffusers on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DreamBoothConfig": ".config",
    "TrainResult": ".loop",
    "build_parser": ".cli",
    "main": ".cli",
    "train": ".loop",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
