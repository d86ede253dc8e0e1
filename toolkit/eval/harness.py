"""The evaluation harness: run any method that follows the Baseline protocol on a benchmark, score it, and
write a run folder.

For each subject of the benchmark the harness builds the method (``cls(config)`` then ``fit`` on the
training frames, or ``cls.load`` of a checkpoint), renders every held-out clip with ``transfer``, saves the
frames, and finally scores all of them with the metrics registry. The run folder holds::

    OUT/
      manifest.json        command, versions, the settings the frames depend on; "complete" once finished
      frames/SUBJECT/CLIP/00000.png ...  generated frames; clip.json (frame count, seconds) written last
      metrics.json         per metric: value, settings, availability; cost; method; benchmark; versions
      per_frame.csv        clip, frame, one column per frame or sequence metric
      side_by_side.mp4     source | ground truth | generated, clip after clip
      report.md            the table and the plots beside it (per_frame.png, by_clip.png)

A rerun with the same settings reuses the saved frames of finished clips (and skips fitting a subject
whose clips are all done), so an interrupted run resumes; other settings in the same folder are refused.
The metrics may change between reruns. When every clip is reused and the finished run already holds each
asked metric with the same settings, its scores are read back instead of computed again (``rescore``
forces a fresh scoring, e.g. after a metric's code changed).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import write_json_atomic, write_text_atomic
from ..checks import check_choice
from ..data.media import MediaError, read_image, write_frames
from ..errors import ToolkitError
from ..manifest import MANIFEST_NAME, versions, write_manifest
from ..methods import Baseline, get_method
from ..progress import ProgressBar, progress_bar
from .benchmarks import Benchmark, EvalCase, EvalClip
from .cost import Cost, measure, peak_memory
from .metrics import METRICS, Metric, build_metric
from .reference import CaseTruth, TruthAware
from .report import per_frame_csv, read_per_frame_csv, write_report, write_side_by_side
from .scoring import ClipOutput, MetricSummary, finite_or_none, score

FRAMES_DIR = "frames"
CLIP_RECORD = "clip.json"
METRICS_NAME = "metrics.json"
PER_FRAME_NAME = "per_frame.csv"
VIDEO_NAME = "side_by_side.mp4"


class EvalError(ToolkitError, ValueError):
    """The evaluation cannot run as asked (unknown method or metric, missing checkpoint, bad output)."""


@dataclass(frozen=True)
class EvalOptions:
    """How :func:`evaluate` runs.

    Args:
        metrics: Metric names from the registry; None (default) for all of them.
        metric_settings: ``{metric: {setting: value}}`` over the metrics' defaults, e.g.
            ``{"lpips": {"backbone": "alexnet.pth"}}``. Default none.
        checkpoint: A folder saved by the method's ``save``; the method is loaded from it instead of fitted.
            A subfolder named after a subject, if present, is used for that subject.
        method_config: Passed to the method's constructor and ``fit``. Default empty.
        seed: Seeds Python, NumPy and torch before each subject is fitted and rendered. Default 0.
        device: Torch device of the network metrics, and of ``fit`` (through an ``accelerate``
            accelerator) when it is ``"cuda"``. Default ``"cpu"``.
        video: Write ``side_by_side.mp4``. Default True.
        video_frames: At most this many frames of clips go into the video. Default 1200.
        progress: Show progress bars. Default True.
        rescore: Score a finished run again even when it holds every asked metric. Default False.
        save_methods: A folder to save each fitted method into, one subfolder per subject, so that a later
            run (another benchmark on the same subjects, say) can load it as its ``checkpoint``. Default
            None (not saved).
    """

    metrics: tuple[str, ...] | None = None
    metric_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    checkpoint: Path | None = None
    method_config: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"
    video: bool = True
    video_frames: int = 1200
    progress: bool = True
    rescore: bool = False
    save_methods: Path | None = None


@dataclass(frozen=True, eq=False)
class EvalResult:
    """What :func:`evaluate` returns: the run folder, what ``metrics.json`` holds, and the scores."""

    out: Path
    summary: dict[str, Any]
    metrics: dict[str, MetricSummary]
    clips: list[ClipOutput]


# ---- methods and metrics ------------------------------------------------------------------------------


def resolve_method(name: str) -> type[Baseline]:
    """The registered method class ``name``; a one-line error lists the known methods (and why any could
    not be imported)."""
    try:
        return get_method(name)
    except ValueError as err:
        raise EvalError(str(err)) from None


def build_metrics(
    names: Sequence[str] | None, settings: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Metric]:
    """The metrics ``names`` (None: every registered metric), with ``settings`` (``{metric: {setting:
    value}}``) over their defaults; one-line errors for unknown names, settings or values."""
    names = list(METRICS) if names is None else list(names)
    settings = settings or {}
    for name in [*names, *settings]:
        check_choice(name, METRICS, "metric", EvalError)
    left_out = [name for name in settings if name not in names]
    if left_out:
        raise EvalError(f"settings are given for {left_out[0]}, which the chosen metrics leave out")
    try:
        return [build_metric(name, **settings.get(name, {})) for name in names]
    except (TypeError, ValueError) as err:
        raise EvalError(str(err)) from None


# ---- the run -----------------------------------------------------------------------------------------


def evaluate(
    method: str,
    benchmark: Benchmark,
    out: str | Path,
    options: EvalOptions | None = None,
    *,
    command: Sequence[str] | None = None,
) -> EvalResult:
    """Run ``method`` on ``benchmark``, score it and write the run folder ``out`` (see the module docstring).

    Args:
        method: A registered method name (``toolkit eval --list`` shows them).
        benchmark: A loaded benchmark (``toolkit.eval.benchmarks.load_benchmark``).
        out: The run folder; created if missing, resumed if it holds a run with the same settings.
        options: See :class:`EvalOptions`. Default ``EvalOptions()``.
        command: The command line for the manifest; default ``sys.argv``.

    Raises:
        EvalError: for an unknown method or metric, a missing checkpoint, a method that needs training
            on a benchmark without training frames, or a method returning frames of the wrong shape.
    """
    options = options or EvalOptions()
    out = Path(out)
    method_cls = resolve_method(method)
    metrics = build_metrics(options.metrics, options.metric_settings)
    if options.checkpoint is not None and not Path(options.checkpoint).is_dir():
        raise EvalError(f"checkpoint {options.checkpoint} is not a folder; give the folder the method saved")
    key = _run_key(method, benchmark, options)
    finished = _prepare_run_folder(out, key, command)

    # 1. Render every clip, subject by subject (reusing what an earlier run saved).
    started = time.perf_counter()
    outputs: list[ClipOutput] = []
    spent = _Spent()
    with progress_bar(desc=f"{method} on {benchmark.name}", unit="clip", disable=not options.progress) as bar:
        for case in benchmark.cases():
            bar.add_total(len(case.clips))
            outputs += _render_case(method_cls, case, out, options, spent, bar)
    if finished is not None and not options.rescore and all(o.reused for o in outputs):
        saved = _saved_run(out, metrics, outputs, options.video)
        if saved is not None:
            timings = {stage: float(s) for stage, s in finished.get("timings_s", {}).items()}
            write_manifest(
                out, command=command, seed=options.seed, options=key, timings=timings,
                outputs=finished.get("outputs", {}),
            )  # fmt: skip
            return EvalResult(out, *saved, outputs)
    # 2. Score them all.
    scoring_start = time.perf_counter()
    scores = score(
        outputs, metrics, temporal=benchmark.temporal, device=options.device, progress=options.progress
    )
    scoring_seconds = time.perf_counter() - scoring_start

    # 3. Write the results; the manifest last, marking the run complete.
    summary = _summary(method, benchmark, options, outputs, scores, spent, scoring_seconds)
    per_frame = {name: s.per_frame for name, s in scores.items() if s.available and s.per_frame}
    write_json_atomic(out / METRICS_NAME, summary)
    write_text_atomic(out / PER_FRAME_NAME, per_frame_csv([(o.id, len(o.clip)) for o in outputs], per_frame))
    written = [METRICS_NAME, PER_FRAME_NAME]
    if options.video:
        shown = [(o.id, o.clip.source_images[0], o.clip.truth, o.generated) for o in outputs]
        write_side_by_side(out / VIDEO_NAME, shown, method, benchmark.fps, options.video_frames)
        written.append(VIDEO_NAME)
    written += write_report(out, summary, per_frame)
    write_manifest(
        out,
        command=command,
        seed=options.seed,
        options=key,
        timings={
            "fit": spent.fit_seconds,
            "scoring": scoring_seconds,
            "total": time.perf_counter() - started,
        },
        outputs={"complete": True, "files": written, "clips": len(outputs)},
    )
    return EvalResult(out, summary, scores, outputs)


@dataclass
class _Spent:
    """What fitting and rendering cost over all subjects: seconds fitting, and peak CUDA memory."""

    fit_seconds: float = 0.0
    peak_cuda_mib: float | None = None

    def add(self, cost: Cost, *, fitting: bool = False) -> None:
        if fitting:
            self.fit_seconds += cost.seconds
        if cost.peak_cuda_mib is not None:
            self.peak_cuda_mib = max(self.peak_cuda_mib or 0.0, cost.peak_cuda_mib)


def _run_key(method: str, benchmark: Benchmark, options: EvalOptions) -> dict[str, Any]:
    """The settings the generated frames depend on: a rerun with the same key resumes."""
    checkpoint = None if options.checkpoint is None else str(Path(options.checkpoint).resolve())
    return {
        "method": method,
        "method_config": dict(options.method_config),
        "checkpoint": checkpoint,
        "seed": options.seed,
        "benchmark": benchmark.name,
        "benchmark_settings": json.loads(json.dumps(dict(benchmark.settings))),
    }


def _prepare_run_folder(
    out: Path, key: dict[str, Any], command: Sequence[str] | None
) -> dict[str, Any] | None:
    """Check that ``out`` is new, empty or a run with the same ``key``, and mark it unfinished until the
    run ends. Returns the manifest of the finished run it held, if any."""
    manifest = out / MANIFEST_NAME
    finished = None
    if out.exists() and not out.is_dir():
        raise EvalError(f"{out} is a file; give a folder for the run")
    if manifest.exists():
        try:
            record = json.loads(manifest.read_text())
            previous = record["options"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
            raise EvalError(f"{manifest}: unreadable ({err}); remove the folder or choose another") from None
        if previous != key:
            changed = sorted(k for k in key if previous.get(k) != key[k])
            raise EvalError(
                f"{out} holds a run with other settings ({', '.join(changed)} differ); "
                "use the same settings to resume, or choose another folder"
            )
        if record.get("outputs", {}).get("complete"):
            finished = record
    elif out.exists() and any(out.iterdir()):
        raise EvalError(f"{out} is not empty and holds no run; choose an empty or new folder")
    # Written first, so an interrupted run is recognised and resumed only with the same settings.
    write_manifest(out, command=command, seed=key["seed"], options=key, outputs={"complete": False})
    return finished


def _seed(seed: int) -> None:
    """Seed every global generator a method might draw from, as ``accelerate.utils.set_seed`` does."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (methods may use the legacy global generator)
    torch.manual_seed(seed)


def _clip_dir(case: EvalCase, clip: EvalClip) -> str:
    """Where a clip's frames go, relative to the run folder: ``frames/SUBJECT/CLIP``."""
    safe = [name.replace("/", "_").replace("\\", "_") for name in (case.subject, clip.name)]
    return f"{FRAMES_DIR}/{safe[0]}/{safe[1]}"


def _render_case(
    method_cls: type[Baseline],
    case: EvalCase,
    out: Path,
    options: EvalOptions,
    spent: _Spent,
    bar: ProgressBar,
) -> list[ClipOutput]:
    """Every clip of one subject, reusing saved ones; adds what fitting and rendering cost to ``spent``."""
    saved = {clip.name: _read_saved(out / _clip_dir(case, clip), clip) for clip in case.clips}
    if all(found is not None for found in saved.values()):
        bar.update(len(case.clips))
        return [_output(case, clip, *saved[clip.name], reused=True) for clip in case.clips]

    _seed(options.seed)
    with measure(device=options.device) as cost:
        method = _build_method(method_cls, case, options)
    spent.add(cost, fitting=True)
    if options.save_methods is not None and options.checkpoint is None:
        method.save(Path(options.save_methods) / case.subject)
    outputs = []
    for clip in case.clips:
        if saved[clip.name] is not None:
            outputs.append(_output(case, clip, *saved[clip.name], reused=True))
        else:
            with measure(frames=len(clip), device=options.device) as cost:
                generated = method.transfer(clip.source_images, clip.source_poses, clip.target_poses)
            spent.add(cost)
            _check_generated(method_cls.name, f"{case.subject}/{clip.name}", generated, clip)
            folder = out / _clip_dir(case, clip)
            write_frames(folder, generated)
            write_json_atomic(folder / CLIP_RECORD, {"frames": len(generated), "seconds": cost.seconds})
            outputs.append(_output(case, clip, generated, cost.seconds, reused=False))
        bar.update(1)
    return outputs


def _build_method(method_cls: type[Baseline], case: EvalCase, options: EvalOptions) -> Baseline:
    if options.checkpoint is not None:
        folder = Path(options.checkpoint)
        method = method_cls.load(folder / case.subject if (folder / case.subject).is_dir() else folder)
    else:
        method = method_cls(dict(options.method_config))  # type: ignore[call-arg]
    if isinstance(method, TruthAware):
        method.attach_truth(CaseTruth.from_case(case))
    if options.checkpoint is None:
        if case.train is not None:
            accelerator = _accelerator(options.device)
            method.fit(case.train, dict(options.method_config), accelerator)
        elif getattr(method_cls, "needs_training", True):
            raise EvalError(
                f"benchmark case {case.subject!r} has no training frames and {method_cls.name} must be "
                "trained: train it elsewhere and pass --checkpoint"
            )
    return method


def _accelerator(device: str) -> Any:
    """An ``accelerate.Accelerator`` for CUDA, None (meaning CPU) otherwise."""
    if not device.startswith("cuda"):
        return None
    from accelerate import Accelerator

    return Accelerator()


def _read_saved(folder: Path, clip: EvalClip) -> tuple[np.ndarray, float] | None:
    """The frames and seconds of a finished clip folder, or None if it is missing or incomplete."""
    try:
        record = json.loads((folder / CLIP_RECORD).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("frames") != len(clip):
        return None
    try:
        frames = np.stack([read_image(folder / f"{t:05d}.png") for t in range(len(clip))])
    except MediaError:  # a frame was deleted or damaged: render the clip again
        return None
    return (frames, float(record["seconds"])) if frames.shape == clip.truth.shape else None


def _check_generated(method: str, clip_id: str, generated: object, clip: EvalClip) -> None:
    expected = clip.truth.shape
    if not isinstance(generated, np.ndarray) or generated.dtype != np.uint8 or generated.shape != expected:
        got = f"{getattr(generated, 'dtype', type(generated).__name__)} {getattr(generated, 'shape', '')}"
        raise EvalError(f"{method}.transfer returned {got} for {clip_id}; expected uint8 {expected}")


def _output(
    case: EvalCase, clip: EvalClip, generated: np.ndarray, seconds: float, reused: bool
) -> ClipOutput:
    return ClipOutput(f"{case.subject}/{clip.name}", _clip_dir(case, clip), clip, generated, seconds, reused)


# ---- outputs -----------------------------------------------------------------------------------------


def _saved_run(
    out: Path, metrics: Sequence[Metric], outputs: Sequence[ClipOutput], video: bool
) -> tuple[dict[str, Any], dict[str, MetricSummary]] | None:
    """The ``metrics.json`` of a finished run folder and the scores it holds for ``metrics`` on ``outputs``,
    or None when it lacks one of them, scored it with other settings, covers other clips, or lacks the
    video that is asked for."""
    try:
        summary = json.loads((out / METRICS_NAME).read_text())
        per_frame = read_per_frame_csv((out / PER_FRAME_NAME).read_text())
    except (OSError, ValueError):
        return None
    if [(c["id"], c["frames"]) for c in summary.get("clips", [])] != [(o.id, len(o.clip)) for o in outputs]:
        return None
    if video and not (out / VIDEO_NAME).exists():
        return None
    scores = {}
    for metric in metrics:
        saved = summary.get("metrics", {}).get(metric.name)
        if saved is None or saved["settings"] != json.loads(json.dumps(metric.settings)):
            return None
        frames = per_frame.get(metric.name, {})
        if saved["available"] and metric.kind != "set" and len(frames) != len(outputs):
            return None
        value = math.nan if saved["value"] is None else float(saved["value"])
        scores[metric.name] = MetricSummary(
            metric.name, metric.kind, value, metric.higher_is_better, saved["available"], saved["reason"],
            metric.settings, saved["details"], frames if saved["available"] else {},
        )  # fmt: skip
    return summary, scores


def _summary(
    method: str,
    benchmark: Benchmark,
    options: EvalOptions,
    outputs: list[ClipOutput],
    scores: dict[str, MetricSummary],
    spent: _Spent,
    scoring_seconds: float,
) -> dict[str, Any]:
    frames = sum(len(o.clip) for o in outputs)
    transfer_seconds = sum(o.seconds for o in outputs)
    return {
        "method": method,
        "method_config": dict(options.method_config),
        "checkpoint": None if options.checkpoint is None else str(options.checkpoint),
        "benchmark": {
            "name": benchmark.name,
            "root": str(benchmark.root),
            "fps": benchmark.fps,
            "settings": dict(benchmark.settings),
        },
        "metrics": {name: summary.to_dict() for name, summary in scores.items()},
        "clips": [
            {
                "id": o.id,
                "frames_dir": o.folder,
                "frames": len(o.clip),
                "seconds": round(o.seconds, 4),
                "reused": o.reused,
                "metrics": {
                    name: finite_or_none(s.per_clip()[o.id])
                    for name, s in scores.items()
                    if o.id in s.per_frame
                },
            }
            for o in outputs
        ],
        "cost": {
            "frames": frames,
            "frames_generated_now": sum(len(o.clip) for o in outputs if not o.reused),
            "transfer_seconds": round(transfer_seconds, 4),
            "seconds_per_frame": round(transfer_seconds / frames, 6) if frames else None,
            "fit_seconds": round(spent.fit_seconds, 4),
            "scoring_seconds": round(scoring_seconds, 4),
            # The process's high-water mark: loading the benchmark and the metric networks count too.
            "peak_rss_mib": round(peak_memory()["rss_mib"] or 0.0, 1),
            "peak_vram_mib": None if spent.peak_cuda_mib is None else round(spent.peak_cuda_mib, 1),
        },
        "device": options.device,
        "seed": options.seed,
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# ---- reading runs back ------------------------------------------------------------------------------


def read_run(run: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a finished run folder; a one-line error if there is none."""
    path = Path(run) / METRICS_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EvalError(f"{run}: no {METRICS_NAME}; is this a finished `toolkit eval` run folder?") from None
    except json.JSONDecodeError as err:
        raise EvalError(f"{path}: unreadable ({err})") from None


def read_generated(run: str | Path, clip: Mapping[str, Any]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 generated frames of one entry of a run's ``metrics.json`` ``clips`` list."""
    folder = Path(run) / clip["frames_dir"]
    return np.stack([read_image(folder / f"{t:05d}.png") for t in range(clip["frames"])])


__all__ = [
    "EvalError",
    "EvalOptions",
    "EvalResult",
    "build_metrics",
    "evaluate",
    "read_generated",
    "read_run",
    "resolve_method",
]
