"""Pose-transfer methods behind one protocol, and the registry that names them.

Every method, from the GAN baselines to the harness's reference methods, implements :class:`Baseline`.
The training script and the evaluation harness use only this protocol and :data:`BASELINES`, so a new
method is one file plus one :func:`register_baseline` line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from toolkit.pose.sequence import PoseSequence


@dataclass(frozen=True, eq=False)
class SubjectFrames:
    """Frames of one subject with their poses: what a method learns from, or is given as a source.

    Args:
        images: ``(N, H, W, 3)`` uint8 RGB frames.
        poses: ``N`` poses on the frames' ``W x H`` canvas (BODY_18).
        masks: Optional ``(N, H, W)`` bool foreground masks.
        name: Subject name, for logs and reports.
        description: What the subject looks like, in words, where it is known (a mannequin benchmark gives
            its subject's caption, ``toolkit.data.mannequin.captions``); empty otherwise.
    """

    images: np.ndarray
    poses: PoseSequence
    masks: np.ndarray | None = None
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        images = self.images
        if not (isinstance(images, np.ndarray) and images.ndim == 4 and images.shape[-1] == 3):
            raise ValueError(f"images must be an (N, H, W, 3) array, got shape {np.shape(images)}")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 RGB, got {images.dtype}")
        if len(self.poses) != len(images):
            raise ValueError(f"{len(images)} images but {len(self.poses)} poses: they must pair up")
        if self.poses.canvas != (images.shape[2], images.shape[1]):
            raise ValueError(
                f"poses are on a {self.poses.width}x{self.poses.height} canvas but the images are "
                f"{images.shape[2]}x{images.shape[1]}: fit the poses to the images first"
            )
        if self.masks is not None and self.masks.shape != images.shape[:3]:
            raise ValueError(f"masks must have shape {images.shape[:3]}, got {self.masks.shape}")

    def __len__(self) -> int:
        return len(self.images)


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


BASELINES: dict[str, type[Baseline]] = {}

_B = TypeVar("_B", bound=type)


def register_baseline(name: str) -> Callable[[_B], _B]:
    """Class decorator: make a method available to the harness and the training script as ``name``."""

    def decorate(cls: _B) -> _B:
        if name in BASELINES:
            raise ValueError(f"a method named {name!r} is already registered ({BASELINES[name].__name__})")
        cls.name = name
        BASELINES[name] = cls
        return cls

    return decorate


def get_baseline(name: str) -> type[Baseline]:
    """The registered method class called ``name``; a one-line ``ValueError`` lists the known names."""
    try:
        return BASELINES[name]
    except KeyError:
        known = ", ".join(sorted(BASELINES)) or "none"
        raise ValueError(f"unknown method {name!r}; known: {known}") from None


from . import diffusion, knn, patn, pix2pix, posewarp, two_stage  # noqa: E402,F401  (registers the methods)
