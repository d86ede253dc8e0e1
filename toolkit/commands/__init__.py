"""CLI command groups. Each module exposes ``register(subparsers)``; ``COMMANDS`` lists them in help order."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import data, demo, evaluate, generate, poses, subjects, transfer, ui

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

COMMANDS: dict[str, Register] = {
    "poses": poses.register,
    "generate": generate.register,
    "subjects": subjects.register,
    "data": data.register,
    "demo": demo.register,
    "eval": evaluate.register,
    "transfer": transfer.register,
    "ui": ui.register,
}
