"""Per-frame noise that depends only on (seed, frame index), never on how frames are batched.

Every random tensor of a run is drawn from its own CPU generator, seeded by NumPy's ``SeedSequence`` from
``(seed, stream, key)``: ``key`` is 0 for noise shared by all frames and ``i + 1`` for frame ``i``'s own.
So frame 7 starts from the same latents whether it is generated in a first run beside frames 4-6 or
alone in a rerun, and on any device (the noise is drawn on the CPU and then moved).

Noise modes (how frame ``i``'s initial latents ``z_i`` are made; ``e_i`` is frame ``i``'s own noise):

- ``shared``: ``z_i = e`` for every frame, one noise for the whole clip.
- ``independent``: ``z_i = e_i``.
- ``blend``: an AR(1) chain ``z_0 = e``, ``z_i = c z_{i-1} + sqrt(1 - c^2) e_i``: each frame's latents are
  the previous frame's blended with fresh noise, so they stay unit-variance Gaussian and drift slowly
  (correlation ``c^k`` between frames ``k`` apart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..checks import check_choice

# Independent random streams of one run.
LATENT_STREAM = 0  # initial latents
STEP_STREAM = 1  # noise a stochastic sampler (LCM, DDIM with eta > 0) adds during denoising

NOISE_MODES = ("shared", "independent", "blend")


def derived_seed(seed: int, stream: int, key: int) -> int:
    """A 64-bit generator seed for ``(seed, stream, key)``; different triples give unrelated streams."""
    sequence = np.random.SeedSequence(seed, spawn_key=(stream, key))
    return int(sequence.generate_state(1, dtype=np.uint64)[0])


def generator(seed: int, stream: int, key: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`derived_seed`."""
    return torch.Generator("cpu").manual_seed(derived_seed(seed, stream, key))


@dataclass
class FrameNoise:
    """The noise of every frame of one run.

    Args:
        seed: The run's seed, >= 0.
        shape: Latent shape of one frame, ``(C, h, w)``.
        mode: One of ``NOISE_MODES``. Default ``"shared"``.
        blend: The ``blend`` mode's correlation ``c`` with the previous frame, in [0, 1). Default 0.95.
    """

    seed: int
    shape: tuple[int, int, int]
    mode: str = "shared"
    blend: float = 0.95
    _chain: list[torch.Tensor] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        check_choice(self.mode, NOISE_MODES, "noise mode")
        if not 0.0 <= self.blend < 1.0:
            raise ValueError(f"blend must be in [0, 1), got {self.blend}")

    def _key(self, index: int) -> int:
        return 0 if self.mode == "shared" else index + 1

    def _gaussian(self, key: int) -> torch.Tensor:
        return torch.randn(self.shape, generator=generator(self.seed, LATENT_STREAM, key))

    def _blended(self, index: int) -> torch.Tensor:
        # The chain is kept from frame 0 up to the furthest frame asked for; calls ask in increasing order.
        if not self._chain:
            self._chain.append(self._gaussian(0))
        c = self.blend
        for i in range(len(self._chain), index + 1):
            self._chain.append(c * self._chain[i - 1] + math.sqrt(1.0 - c * c) * self._gaussian(i + 1))
        return self._chain[index]

    def latents(self, indices: Sequence[int]) -> torch.Tensor:
        """Initial latents of frames ``indices``: ``(N, C, h, w)`` float32 on the CPU, unscaled (the
        pipeline multiplies them by the scheduler's initial sigma)."""
        if self.mode == "blend":
            return torch.stack([self._blended(i) for i in indices])
        return torch.stack([self._gaussian(self._key(i)) for i in indices])

    def step_generators(self, indices: Sequence[int]) -> list[torch.Generator]:
        """One fresh CPU generator per frame for the noise a stochastic sampler adds while denoising:
        shared by all frames in ``shared`` mode, the frame's own otherwise."""
        return [generator(self.seed, STEP_STREAM, self._key(i)) for i in indices]
