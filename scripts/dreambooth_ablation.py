"""Which DreamBooth/LoRA settings make the LoRA learn the subject: one rung changes one setting.

    python scripts/dreambooth_ablation.py -o outputs/ablation          # every rung, both benchmarks
    python scripts/dreambooth_ablation.py -o outputs/ablation --only base,locon --benchmarks demo-walk

Every rung trains the diffusion method (``baselines.diffusion``: DreamBooth/LoRA on ``--base``, rendered
through its OpenPose ControlNet) on each benchmark subject's few photos, prompted ``"a {token} {class}"``
with no colour words (the ``mannequin`` template), renders the held-out poses with the same seeds and scores
them through the harness into ``OUT/BENCHMARK/RUNG`` (finished runs are reused). ``OUT/ablation.md`` then
holds one table per benchmark: identity accuracy, part colour error, silhouette IoU, SSIM and the training
seconds of every rung (all of a benchmark's subjects, on this machine).

The rungs, against ``base`` (the defaults of ``training/dreambooth.py`` and ``make demo``):
LoRA rank 4 / 16 / 64; attention-only adapters against LoCon (attention and the ResNet convolutions); a
text-encoder LoRA; more steps and other learning rates; prior preservation; pose conditioning off.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from toolkit.atomic import write_text_atomic
from toolkit.errors import ToolkitError
from toolkit.eval.benchmarks import load_benchmark
from toolkit.eval.harness import EvalOptions, evaluate, read_run

# The base rung: what `make demo` trains (the packaged model, 400 steps of 4 at 5e-4, rank 4, attention).
BASE: dict[str, Any] = {
    "base": "mini",
    "controlnet": "mini",
    "template": "mannequin",
    "train_steps": 400,
    "learning_rate": 5e-4,
}
# rung -> what it changes.
RUNGS: dict[str, dict[str, Any]] = {
    "base": {},
    "rank-16": {"rank": 16},
    "rank-64": {"rank": 64},
    "locon": {"lora_targets": "attention+conv"},
    "text-encoder": {"train_text_encoder": True},
    "steps-800": {"train_steps": 800},
    "lr-1e-4": {"learning_rate": 1e-4},
    "lr-1e-3": {"learning_rate": 1e-3},
    "prior": {"prior_preservation": True},
    "no-pose": {"pose_conditioning": False},
}
BENCHMARKS = ("demo-walk", "synthetic-fewshot")
METRICS = ("identity_accuracy", "part_color_error", "silhouette_iou", "ssim")
COLUMNS = {  # metric -> table header, decimals
    "identity_accuracy": ("identity accuracy ↑", 3),
    "part_color_error": ("part colour error ↓", 2),
    "silhouette_iou": ("silhouette IoU ↑", 3),
    "ssim": ("SSIM ↑", 3),
}


def table(benchmark: str, runs: dict[str, Path]) -> list[str]:
    """Markdown lines: one row per rung of ``runs`` (rung -> finished run folder)."""
    headers = [header for header, _ in COLUMNS.values()]
    lines = [
        f"### {benchmark}",
        "",
        f"| rung | changes | {' | '.join(headers)} | training s |",
        "|---|---|" + "---|" * (len(headers) + 1),
    ]
    for rung, run in runs.items():
        record = read_run(run)
        cells = [
            f"{record['metrics'][name]['value']:.{digits}f}" if record["metrics"][name]["available"] else "–"
            for name, (_, digits) in COLUMNS.items()
        ]
        changes = ", ".join(f"`{key} = {value}`" for key, value in RUNGS[rung].items()) or "defaults"
        fit = record["cost"]["fit_seconds"]
        lines.append(f"| {rung} | {changes} | {' | '.join(cells)} | {fit:.0f} |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-o", "--out", type=Path, required=True, help="output folder (finished runs are reused)"
    )
    parser.add_argument("--only", help=f"comma-separated rungs among {', '.join(RUNGS)} (default: all)")
    parser.add_argument(
        "--benchmarks", default=",".join(BENCHMARKS), help=f"comma-separated (default {','.join(BENCHMARKS)})"
    )
    parser.add_argument("--base", default=BASE["base"], help="base model; its ControlNet is the same name")
    parser.add_argument("--seed", type=int, default=0, help="seed of training and sampling (default 0)")
    args = parser.parse_args(argv)
    rungs = list(RUNGS) if args.only is None else [r.strip() for r in args.only.split(",")]
    unknown = [r for r in rungs if r not in RUNGS]
    if unknown:
        print(
            f"dreambooth_ablation: error: unknown rung {unknown[0]!r}; known: {', '.join(RUNGS)}",
            file=sys.stderr,
        )
        return 2
    lines = [
        "# DreamBooth ablation",
        "",
        f"Base rung: {', '.join(f'`{k} = {v}`' for k, v in BASE.items())}.",
        "",
    ]
    try:
        for name in args.benchmarks.split(","):
            benchmark = load_benchmark(name)
            runs = {}
            for rung in rungs:
                settings = {**BASE, "base": args.base, "controlnet": args.base, **RUNGS[rung]}
                options = EvalOptions(metrics=METRICS, method_config=settings, seed=args.seed)
                started = time.perf_counter()
                runs[rung] = evaluate("diffusion", benchmark, args.out / name / rung, options).out
                print(f"{name} {rung}: {time.perf_counter() - started:.0f} s", flush=True)
            lines += table(name, runs)
    except (ToolkitError, ValueError) as err:
        print(f"dreambooth_ablation: error: {err}", file=sys.stderr)
        return 2
    write_text_atomic(args.out / "ablation.md", "\n".join(lines))
    print(f"wrote {args.out / 'ablation.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
