"""Pose-transfer methods behind one protocol, and the one registry that names them.

Every method, from the GAN baselines to the harness's reference methods, implements :class:`Baseline` and
is registered under a name with :func:`register_method`. The training script, the harness and the
commands use only this protocol and :func:`get_method`, so a new method is one file plus one
``register_method`` line, and one entry point in ``pyproject.toml``.

The toolkit never imports its methods by name: they are found through the ``pose_transfer_toolkit.methods``
entry points (the ``baselines`` package's modules and the harness's reference methods, in this project's
``pyproject.toml``; a third-party package adds its own the same way), which :func:`discover_methods`
imports on the first lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from .data.subject import SubjectFrames
from .pose.sequence import PoseSequence

ENTRY_POINTS = "pose_transfer_toolkit.methods"


@runtime_checkable
class Baseline(Protocol):
    """What every pose-transfer method implements.

    A method is built from its config (``cls(config)``), learns from a subject's frames with :meth:`fit`,
    renders new poses with :meth:`transfer`, and round-trips through :meth:`save` / :meth:`load`
    (safetensors weights plus a JSON config).
    """

    name: ClassVar[str]

    def fit(
        self, train_data: SubjectFrames, config: Mapping[str, Any] | None = None, accelerator: Any = None
    ) -> None:
        """Learn from ``train_data``; ``accelerator`` is an ``accelerate.Accelerator`` or None (CPU)."""

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """Render the subject of ``source_images`` (``(S, H, W, 3)`` uint8, posed as ``source_poses``) in
        every pose of ``target_poses``; returns ``(T, H, W, 3)`` uint8 frames on the target canvas."""

    def save(self, directory: Path) -> None:
        """Write weights (safetensors) and config (JSON) into ``directory``."""

    @classmethod
    def load(cls, directory: Path) -> Baseline:
        """A method restored from what :meth:`save` wrote."""


METHODS: dict[str, type[Baseline]] = {}
_B = TypeVar("_B", bound=type)


def register_method(name: str) -> Callable[[_B], _B]:
    """Class decorator: make a method available to the harness and the training script as ``name``."""

    def decorate(cls: _B) -> _B:
        if name in METHODS and METHODS[name] is not cls:
            raise ValueError(f"a method named {name!r} is already registered ({METHODS[name].__name__})")
        cls.name = name
        METHODS[name] = cls
        return cls

    return decorate


@cache
def discover_methods() -> dict[str, str]:
    """Import every module the ``pose_transfer_toolkit.methods`` entry points name (once), so their
    ``register_method`` lines run. Returns ``{module: reason}`` for modules that could not be imported (a
    missing optional dependency), so an unknown-method error can say why a method is absent."""
    failed = {}
    for point in entry_points(group=ENTRY_POINTS):
        try:
            point.load()
        except ImportError as err:
            failed[point.value] = str(err)
    return failed


def list_methods() -> list[str]:
    """The names of every registered method, sorted."""
    discover_methods()
    return sorted(METHODS)


def get_method(name: str) -> type[Baseline]:
    """The registered method class called ``name``; a one-line ``ValueError`` lists the known names and
    why any method module could not be imported."""
    if name not in METHODS:
        discover_methods()
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS)) or "none (is the package installed? pip install -e .)"
        hint = "".join(
            f"; {module} could not be imported ({reason})" for module, reason in discover_methods().items()
        )
        raise ValueError(f"unknown method {name!r}; known: {known}{hint}") from None
