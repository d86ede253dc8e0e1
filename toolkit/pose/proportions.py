"""Body proportions: segment lengths shared by procedural motions, mannequins and retargeting."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

# BODY_18 joint pairs whose distance one BodyProportions field fixes: (joint, joint, field). The torso runs
# from the neck to the hips' midpoint, so it is not a joint pair.
PROPORTION_BONES: tuple[tuple[str, str, str], ...] = (
    ("right_shoulder", "left_shoulder", "shoulder_width"),
    ("right_hip", "left_hip", "hip_width"),
    ("right_shoulder", "right_elbow", "upper_arm"),
    ("left_shoulder", "left_elbow", "upper_arm"),
    ("right_elbow", "right_wrist", "forearm"),
    ("left_elbow", "left_wrist", "forearm"),
    ("right_hip", "right_knee", "thigh"),
    ("left_hip", "left_knee", "thigh"),
    ("right_knee", "right_ankle", "shin"),
    ("left_knee", "left_ankle", "shin"),
)


@dataclass(frozen=True)
class BodyProportions:
    """Segment lengths as fractions of standing height (crown to sole).

    Defaults are adult averages from Drillis & Contini's anthropometric table; the vertical chain
    ``ankle_height + shin + thigh + torso + neck + head`` sums to 1.

    Args:
        head: Crown to chin.
        neck: Chin to the shoulder line (OpenPose's neck joint).
        torso: Neck joint to the hip line.
        thigh: Hip to knee.
        shin: Knee to ankle.
        ankle_height: Ankle to sole.
        upper_arm: Shoulder to elbow.
        forearm: Elbow to wrist.
        shoulder_width: Between the shoulder joints.
        hip_width: Between the hip joints.
    """

    head: float = 0.130
    neck: float = 0.052
    torso: float = 0.288
    thigh: float = 0.245
    shin: float = 0.246
    ankle_height: float = 0.039
    upper_arm: float = 0.186
    forearm: float = 0.146
    shoulder_width: float = 0.220
    hip_width: float = 0.140

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"BodyProportions.{f.name} must be a positive number, got {value!r}")

    @property
    def total_height(self) -> float:
        """Sum of the vertical chain; 1.0 for proportions that are normalised to height."""
        return self.head + self.neck + self.torso + self.thigh + self.shin + self.ankle_height

    def normalized(self) -> BodyProportions:
        """The same body scaled so that :attr:`total_height` is 1."""
        scale = 1.0 / self.total_height
        return BodyProportions(**{k: v * scale for k, v in asdict(self).items()})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> BodyProportions:
        """Build from a mapping; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown body proportion(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**{k: float(v) for k, v in values.items()})

    @classmethod
    def sample(cls, rng: np.random.Generator, spread: float = 0.08) -> BodyProportions:
        """Random plausible proportions: each default scaled by ``1 + U(-spread, spread)``, then normalised
        to unit height and rounded to 6 decimals (so they print and serialise tidily). Deterministic for a
        given generator state."""
        base = asdict(cls())
        jitter = rng.uniform(-spread, spread, size=len(base))
        body = cls(**{k: v * (1.0 + float(d)) for (k, v), d in zip(base.items(), jitter, strict=True)})
        return cls(**{k: round(v, 6) for k, v in asdict(body.normalized()).items()})
