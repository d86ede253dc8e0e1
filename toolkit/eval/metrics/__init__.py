"""Evaluation metrics behind one protocol and one registry.

Every metric takes a :class:`MetricInputs` (generated and target ``(N, H, W, 3)`` uint8 frames, optional
masks, target poses, known background, torch device) and returns a :class:`MetricResult` (value, per-frame
or per-transition values, the settings it used, availability and reason)::

    from toolkit.eval.metrics import METRICS, MetricInputs, build_metric

    inputs = MetricInputs(generated, target, masks=masks, materials=materials, poses=poses)
    results = {name: metric.compute(inputs) for name, metric in
               ((name, build_metric(name)) for name in METRICS)}
    build_metric("ssim", mode="patn", pad=40).compute(inputs).value  # PATN's DeepFashion SSIM

``METRICS`` maps each name to its class; the class's fields are its settings, with the published defaults.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ...checks import lookup
from .base import Metric, MetricInputError, MetricInputs, MetricKind, MetricResult, MetricUnavailable, Score
from .fid import FID, KID, frechet_distance, kernel_inception_distance
from .identity import IDENTITY_REGIONS, IdentityAccuracy, PartColorError
from .lpips import LPIPS
from .pckh import PCKH_RULES, PCKh
from .pixel import L1, PSNR
from .silhouette import SilhouetteIoU
from .ssim import SSIM, SSIM_MODES, MaskedSSIM
from .temporal import Flicker, WarpError

METRICS: dict[str, type[Metric]] = {
    metric.name: metric
    for metric in (
        SSIM,
        MaskedSSIM,
        PSNR,
        L1,
        LPIPS,
        FID,
        KID,
        SilhouetteIoU,
        PCKh,
        PartColorError,
        IdentityAccuracy,
        Flicker,
        WarpError,
    )  # fmt: skip
}


def list_metrics() -> list[str]:
    """Names of the registered metrics."""
    return list(METRICS)


def build_metric(name: str, **settings: Any) -> Metric:
    """The metric registered as ``name`` with ``settings`` (its dataclass fields) over its defaults.

    Raises:
        ValueError: an unknown name or setting, or a setting with a bad value.
    """
    metric = lookup(METRICS, name, "metric")
    known = [f.name for f in fields(metric)]
    unknown = [key for key in settings if key not in known]
    if unknown:
        raise ValueError(
            f"{name} has no setting {unknown[0]!r}; its settings are {', '.join(known) or 'none'}"
        )
    return metric(**settings)


__all__ = [
    "FID",
    "IDENTITY_REGIONS",
    "KID",
    "L1",
    "LPIPS",
    "METRICS",
    "PCKH_RULES",
    "PSNR",
    "SSIM",
    "SSIM_MODES",
    "Flicker",
    "IdentityAccuracy",
    "MaskedSSIM",
    "Metric",
    "MetricInputError",
    "MetricInputs",
    "MetricKind",
    "MetricResult",
    "MetricUnavailable",
    "PCKh",
    "PartColorError",
    "Score",
    "SilhouetteIoU",
    "WarpError",
    "build_metric",
    "frechet_distance",
    "kernel_inception_distance",
    "list_metrics",
]
