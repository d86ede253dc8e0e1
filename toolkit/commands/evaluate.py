"""``toolkit eval``: run a method on a benchmark, score it, and write metrics, a report and a video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._args import comma_list

DESCRIPTION = """\
Run a pose-transfer method on a benchmark and score it. The method is fitted on each subject's training
frames (or loaded with --checkpoint), renders every held-out clip, and the frames are scored with the
metrics registry. OUT receives metrics.json, per_frame.csv, side_by_side.mp4, report.md with its plots,
and the generated frames; rerunning with the same settings reuses the frames already made.
Built-in benchmarks are rendered once into $TOOLKIT_BENCHMARK_CACHE
(default ~/.cache/pose-transfer-toolkit/benchmarks). See docs/evaluation.md."""


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "eval",
        help="run a method on a benchmark and score it",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--method", help="registered method name, e.g. ground-truth, copy-source (see --list)"
    )
    parser.add_argument(
        "--benchmark", default="synthetic-small", help="benchmark name (default synthetic-small; see --list)"
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        help="the benchmark's data folder: required for adapters of your own data (patn-*, video-folder); "
        "for built-in benchmarks, where to render them instead of the cache",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="folder written by the method's save(); load it instead of fitting (a subfolder named after a "
        "subject is used for that subject)",
    )
    parser.add_argument(
        "--config", type=Path, help="JSON file of method settings, passed to the method and to fit()"
    )
    parser.add_argument(
        "--metrics", type=comma_list, help="comma-separated metric names (default: all; see --list)"
    )
    parser.add_argument(
        "--metric-option",
        action="append",
        default=[],
        metavar="METRIC.SETTING=VALUE",
        help="a metric setting over its default, e.g. ssim.mode=patn or fid.inception=PATH; repeatable "
        "(values are read as JSON where they parse, else as text)",
    )
    parser.add_argument(
        "--lpips-backbone",
        type=Path,
        metavar="PATH",
        help="torchvision ImageNet AlexNet state dict (alexnet-owt-7be5be79.pth) that LPIPS needs; "
        "short for --metric-option lpips.backbone=PATH",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device for fitting and network metrics: auto (cuda if available), cpu, cuda or cuda:N "
        "(default auto)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed set before each subject (default 0)")
    parser.add_argument("--no-video", action="store_true", help="do not write side_by_side.mp4")
    parser.add_argument(
        "--save-methods",
        type=Path,
        metavar="DIR",
        help="save each fitted method into DIR/SUBJECT (load them later with --checkpoint DIR)",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="score a finished run again (by default its saved scores are reused when it holds every "
        "asked metric with the same settings)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--list", action="store_true", help="list methods, benchmarks and metrics, then exit")
    parser.add_argument("-o", "--out", type=Path, help="run folder, e.g. runs/NAME (created or resumed)")
    parser.set_defaults(run=_eval)


def _eval(args: argparse.Namespace) -> None:
    from ..eval.benchmarks import get_benchmark, load_benchmark
    from ..eval.harness import EvalError, EvalOptions, build_metrics, evaluate, resolve_method
    from ..eval.report import format_value

    if args.list:
        _print_listing()
        return
    if not args.method or not args.out:
        raise EvalError("give --method NAME and -o OUT (or --list to see what is available)")
    # Cheap checks first, so a typo fails before any rendering or fitting.
    resolve_method(args.method)
    get_benchmark(args.benchmark)
    metric_settings = _metric_settings(args.metric_option, args.lpips_backbone)
    build_metrics(args.metrics, metric_settings)
    if args.checkpoint is not None and not args.checkpoint.is_dir():
        raise EvalError(f"checkpoint {args.checkpoint} is not a folder; give the folder the method saved")
    options = EvalOptions(
        metrics=None if args.metrics is None else tuple(args.metrics),
        metric_settings=metric_settings,
        checkpoint=args.checkpoint,
        method_config=_read_config(args.config),
        seed=args.seed,
        device=_device(args.device),
        video=not args.no_video,
        progress=not args.no_progress,
        rescore=args.rescore,
        save_methods=args.save_methods,
    )
    benchmark = load_benchmark(args.benchmark, args.data_root, progress=options.progress)
    result = evaluate(args.method, benchmark, args.out, options)
    for name, entry in result.summary["metrics"].items():
        shown = format_value(entry["value"]) if entry["available"] else f"n/a ({entry['reason']})"
        print(f"{name:>16}: {shown}")
    cost = result.summary["cost"]
    print(f"{'s/frame':>16}: {format_value(cost['seconds_per_frame'])}")
    print(
        f"wrote {result.out}: report.md, metrics.json, per_frame.csv" + ("" if args.no_video else ", video")
    )


def _metric_settings(options: list[str], lpips_backbone: Path | None) -> dict[str, dict[str, object]]:
    """``["ssim.pad=40", ...]`` -> ``{"ssim": {"pad": 40}}``; values are JSON where they parse."""
    from ..eval.harness import EvalError

    settings: dict[str, dict[str, object]] = {}
    for option in options:
        key, sep, text = option.partition("=")
        metric, dot, name = key.strip().partition(".")
        if not (sep and dot and metric and name):
            raise EvalError(f"--metric-option expects METRIC.SETTING=VALUE, e.g. ssim.pad=40; got {option!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        settings.setdefault(metric, {})[name] = value
    if lpips_backbone is not None:
        settings.setdefault("lpips", {})["backbone"] = str(lpips_backbone)
    return settings


def _read_config(path: Path | None) -> dict:
    from ..eval.harness import EvalError

    if path is None:
        return {}
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise EvalError(f"{path}: no such config file") from None
    except json.JSONDecodeError as err:
        raise EvalError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise EvalError(f"{path}: expected a JSON object of settings, got {type(config).__name__}")
    return config


def _device(name: str) -> str:
    import torch

    from ..eval.harness import EvalError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EvalError(f"--device {name}: CUDA is not available here; use --device cpu")
    if not (name == "cpu" or name.startswith("cuda")):
        raise EvalError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return name


def _print_listing() -> None:
    from ..eval.benchmarks import BENCHMARKS
    from ..eval.metrics import METRICS
    from ..methods import METHODS, discover_methods

    failed = discover_methods()
    print("methods:")
    for name in sorted(METHODS):
        print(f"  {name}")
    for module, reason in failed.items():
        print(f"  ({module} not importable: {reason})")
    print("benchmarks:")
    for name, source in BENCHMARKS.items():
        print(f"  {name:<18} {source.description}")
    print("metrics:")
    for name, metric in METRICS.items():
        better = {True: "higher is better", False: "lower is better", None: "closer to 0 is better"}
        print(f"  {name:<18} {metric.kind} metric, {better[metric.higher_is_better]}")
