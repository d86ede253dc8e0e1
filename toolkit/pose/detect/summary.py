"""How often a detector found the person and each joint: the report ``poses extract`` prints."""

from __future__ import annotations

import numpy as np

from ..sequence import PoseSequence


def detection_summary(poses: PoseSequence, *, columns: int = 3) -> str:
    """How often a person and each joint were found: a line, then a table of joints and rates."""
    visible = poses.visible  # (T, J)
    with_person = int(visible.any(axis=1).sum())
    share = with_person / len(poses) if len(poses) else 0.0
    lines = [f"a person in {with_person} of {len(poses)} frames ({share:.1%}); each joint found in:"]
    rates = visible.mean(axis=0) if len(poses) else np.zeros(poses.num_joints)
    cells = [f"{name:<15}{rate:7.1%}" for name, rate in zip(poses.skeleton.joints, rates, strict=True)]
    lines += ["  " + "   ".join(cells[i : i + columns]) for i in range(0, len(cells), columns)]
    return "\n".join(lines)
