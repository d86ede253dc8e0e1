"""Starting ``accelerate`` so that every process a launcher started is a real rank.

``torchrun --nproc_per_node N`` (and ``accelerate launch --multi_gpu``, which calls it) start N processes
and tell each its rank through ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. On a machine without a GPU,
``accelerate`` ignores those unless it is told to use the CPU, and each process trains alone, as if it were
the only one, writing the same files. :func:`make_accelerator` tells it, so the N processes become N CPU
ranks talking over gloo. (``accelerate launch --cpu --num_processes N`` itself starts one process, whatever
N is: several CPU processes need ``torchrun`` or MPI.)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accelerate import Accelerator


def launched_world_size() -> int:
    """How many processes the launcher says this run has (1 when started directly)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def make_accelerator(**options: Any) -> Accelerator:
    """An ``accelerate.Accelerator`` with ``options``, on the CPU ranks the launcher started when there is
    no GPU (see the module docstring)."""
    import torch
    from accelerate import Accelerator

    if launched_world_size() > 1 and not torch.cuda.is_available():
        options.setdefault("cpu", True)
    return Accelerator(**options)
