"""Which samples each step trains on, drawn from the seed and the step alone, so that a resumed run sees
exactly the batches of an uninterrupted one, and N processes together see what one process of N times the
batch sees. Three schemes, one per kind of trainer:

- :class:`EpochBatches` (the GAN baselines): epochs back to back, each a permutation seeded by
  ``(seed, epoch)``; each sample's augmentation is keyed by its position in the run.
- :class:`BatchPlan` (DreamBooth): the same permutations, each epoch padded to whole global batches (a
  short last batch wraps to the epoch's first examples, as diffusers' loader restarts), with flips and
  every other draw keyed by the example's place in the global batch.
- :class:`RandomBatches` (the mini model's stages, over tens of thousands of frames): drawn with
  replacement from ``(seed, step, rank)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler


def seeded(*keys: int) -> np.random.Generator:
    """A NumPy generator determined by ``keys`` (e.g. ``(seed, step)``)."""
    return np.random.default_rng(np.random.SeedSequence([int(k) % 2**63 for k in keys]))


def epoch_order(seed: int, epoch: int, size: int) -> np.ndarray:
    """The order in which epoch ``epoch`` reads ``size`` samples: a permutation seeded by
    ``(seed, epoch)``."""
    return seeded(seed, epoch).permutation(size)


class EpochBatches(Sampler[list[tuple[int, int]]]):
    """Batches of dataset keys ``(index, draw)`` for steps ``start`` .. ``stop - 1`` (counted from 0).

    The samples are read in epochs, each a permutation drawn from ``(seed, epoch)``; sample position p of
    the whole run gets ``draw = seed * 2**40 + p``, which seeds its augmentation. Both depend only on the
    position, so step s's batch is the same however the run got there. With several processes, each
    takes its own ``batch_size`` slice of every global batch.
    """

    def __init__(
        self, size: int, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1
    ) -> None:
        if size < 1:
            raise ValueError("the training dataset is empty")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world
        self._epoch, self._order = -1, np.arange(0)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            first = (step * self.world + self.rank) * self.batch_size
            yield [self._key(p) for p in range(first, first + self.batch_size)]

    def _key(self, position: int) -> tuple[int, int]:
        epoch, k = divmod(position, self.size)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, epoch_order(self.seed, epoch, self.size)
        return int(self._order[k]), self.seed * 2**40 + position


@dataclass(frozen=True)
class BatchPlan:
    """Which examples each micro-step trains on.

    Args:
        length: Examples per epoch (diffusers: the larger of the instance and class counts).
        batch_size: Examples per process per micro-step.
        processes: Number of processes; each takes its own slice of the global batch.
        seed: Seed of the order and the flips.
        random_flip: Mirror each example with probability 1/2.
    """

    length: int
    batch_size: int
    processes: int
    seed: int
    random_flip: bool

    @property
    def global_batch(self) -> int:
        """Examples per micro-step over all processes."""
        return self.batch_size * self.processes

    @property
    def micro_steps_per_epoch(self) -> int:
        return -(-self.length // self.global_batch)

    def slots(self, process: int) -> range:
        """The places of ``process``'s examples in the micro-step's global batch: every random draw of
        an example is keyed by its place, so N processes of batch B draw what one process of batch N*B
        draws."""
        return range(process * self.batch_size, (process + 1) * self.batch_size)

    def indices(self, micro_step: int, process: int) -> tuple[np.ndarray, np.ndarray]:
        """``(B,)`` example indices (modulo ``length``) and ``(B,)`` flips for one process at one
        micro-step; a short last batch of an epoch wraps around to the epoch's first examples."""
        epoch, position = divmod(micro_step, self.micro_steps_per_epoch)
        order = epoch_order(self.seed, epoch, self.length)
        start = position * self.global_batch + process * self.batch_size
        picked = order[np.arange(start, start + self.batch_size) % self.length]
        flips = np.array(
            [seeded(self.seed, micro_step, slot, 1).random() < 0.5 for slot in self.slots(process)]
        )
        return picked, flips & self.random_flip


class RandomBatches(Sampler[list[int]]):
    """Batch indices for optimisation steps ``start + 1 .. steps``, each drawn (with replacement) from a
    generator seeded by ``(seed, step, rank)``: a resumed run sees exactly the batches an uninterrupted one
    would, whatever the number of data-loading workers."""

    def __init__(
        self, size: int, batch_size: int, *, seed: int, start: int, steps: int, rank: int = 0
    ) -> None:
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start, self.steps, self.rank = start, steps, rank

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start + 1, self.steps + 1):
            generator = torch.Generator().manual_seed(step_seed(self.seed, step, self.rank, stream=0))
            yield torch.randint(self.size, (self.batch_size,), generator=generator).tolist()


def step_seed(seed: int, step: int, rank: int, *, stream: int) -> int:
    """A 63-bit seed for one step's random draws: ``stream`` 0 picks the batch, 1 the noise."""
    return int(np.random.SeedSequence([seed, step, rank, stream]).generate_state(2, np.uint64)[0] >> 1)
