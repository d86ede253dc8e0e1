"""Learning-rate schedules the trainers share."""

from __future__ import annotations


def hold_then_linear_decay(lr: float, step: int, steps: int, decay_from: float) -> float:
    """pix2pix's schedule, which PATN and Ren et al. use too: ``lr`` for the first ``decay_from`` of the
    ``steps`` (counted from 1), then linear towards 0 (never below it)."""
    start = decay_from * steps
    if step <= start:
        return lr
    return lr * max(0.0, steps - step + 1) / (steps - start + 1)
