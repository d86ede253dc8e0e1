"""Train (or load) every baseline on a benchmark, evaluate each with the harness, and compare them.

    python scripts/compare_baselines.py -o runs/baselines                  # DEFAULT_LABELS, trained here
    python scripts/compare_baselines.py -o runs/quick --only copy-source,knn
    python scripts/compare_baselines.py -o runs/b --checkpoints saved/     # saved/LABEL[/SUBJECT]
    python scripts/compare_baselines.py -o runs/a --save-methods saved/    # writes saved/LABEL/SUBJECT
    python scripts/compare_baselines.py -o runs/ablation --only ablation-pl-stage1,ablation-da,\
        ablation-future,ablation-stage2,ablation-unpaired                  # Ren et al.'s Table 5 ladder

Each entry of ``ENTRIES`` is a label, a registered method and its settings; every registered method has
one, and the GAN entries carry a CPU-sized budget (``*_ON_CPU``: reduced widths and step counts). For every
entry the harness (``toolkit.eval.harness.evaluate``) fits the method on each subject's training frames
(or loads ``--checkpoints/LABEL``), renders the held-out clips and scores them into ``OUT/runs/LABEL``
(a finished run with the same settings is reused, its scores too unless ``--rescore``). Then
``toolkit.eval.compare`` writes the table, the labelled grid video and the bar chart into
``OUT/comparison/``; ``OUT/comparison/settings.md`` lists each entry's settings and fitting seconds;
``OUT/comparison/pose_change.md`` scores each entry on the quarter of held-out frames whose pose is
furthest from the source's; and, when ``knn`` is among the entries,
``OUT/comparison/knn_thresholding.md`` counts the k-NN's index switches and measures its flicker with and
without frame thresholding, on the held-out poses as they are and with detector-like noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from baselines.knn import KnnRetrieval
from baselines.two_stage import ABLATIONS
from toolkit.atomic import write_text_atomic
from toolkit.data.subject import SubjectFrames
from toolkit.errors import ToolkitError
from toolkit.eval.benchmarks import Benchmark, EvalCase, cache_root, get_benchmark, load_benchmark
from toolkit.eval.benchmarks.synthetic import SyntheticBenchmark
from toolkit.eval.compare import compare
from toolkit.eval.harness import PER_FRAME_NAME, EvalOptions, evaluate, read_run
from toolkit.eval.metrics import Flicker, MetricInputs
from toolkit.eval.report import read_per_frame_csv
from toolkit.pose.match import count_switches
from toolkit.pose.ops import jitter_poses
from toolkit.pose.sequence import PoseSequence

# CPU budgets: each fits the three subjects of synthetic-small in about 4 to 12 minutes on one thread.
PIX2PIX_ON_CPU: dict[str, Any] = {
    "size": 128,
    "base_channels": 16,
    "disc_channels": 16,
    "steps": 600,
    "batch_size": 8,
}
# Perceptual term off: it needs ImageNet VGG19 weights, which are not shipped.
PATN_ON_CPU: dict[str, Any] = {
    "height": 128,
    "width": 128,
    "base_channels": 16,
    "disc_channels": 16,
    "perceptual_weight": 0.0,
    "steps": 150,
    "batch_size": 4,
}
# The full model (all of ABLATIONS["+unpaired"]'s switches, the default), L1 reconstruction (no VGG19).
TWO_STAGE_ON_CPU: dict[str, Any] = {
    "size": 128,
    "base_channels": 16,
    "blocks": 4,
    "disc_channels": 16,
    "disc_scales": 1,
    "stage1_steps": 100,
    "stage2_steps": 50,
    "batch_size": 2,
}
# The same network given 8x the steps (about 21 minutes a subject on one thread), for the temporal test on
# synthetic-noisy. The L1 term takes pix2pix's weight, 100: the paper's 10 weighs its VGG term.
TWO_STAGE_LONG_ON_CPU: dict[str, Any] = {
    **TWO_STAGE_ON_CPU,
    "stage1_steps": 900,
    "stage2_steps": 300,
    "reconstruction_weight": 100.0,
}
POSEWARP_ON_CPU: dict[str, Any] = {
    "size": 128,
    "width": 32,
    "disc_width": 16,
    "steps": 300,
    "batch_size": 4,
}
# Ren et al.'s ablation ladder (Table 5) on 64 px networks: 800 + 400 steps, 3.5 to 9 minutes a rung on
# two threads.
TWO_STAGE_ABLATION_ON_CPU: dict[str, Any] = {
    **TWO_STAGE_ON_CPU,
    "size": 64,
    "stage1_steps": 800,
    "stage2_steps": 400,
}

# DreamBooth-LoRA on the packaged mini model, as `make demo` trains its subject.
DIFFUSION_ON_CPU: dict[str, Any] = {
    "base": "mini",
    "controlnet": "mini",
    "train_steps": 400,
    "learning_rate": 5e-4,
}

# label -> (method, settings); every registered method has at least one entry.
ENTRIES: dict[str, tuple[str, dict[str, Any]]] = {
    "copy-source": ("copy-source", {}),
    "ground-truth": ("ground-truth", {}),
    "diffusion": ("diffusion", DIFFUSION_ON_CPU),
    # The same models without the subject's LoRA: what the LoRA adds.
    "diffusion-no-lora": ("diffusion", {**DIFFUSION_ON_CPU, "lora": False}),
    # No LoRA either, but prompted with the subject's caption: how far words alone draw the subject.
    "diffusion-caption": ("diffusion", {**DIFFUSION_ON_CPU, "lora": False, "describe": True}),
    # No training: the source photo as a reference (reference-only attention), the seed papers' setting.
    "diffusion-reference": ("diffusion", {**DIFFUSION_ON_CPU, "lora": False, "reference": True}),
    # The LoRA and the source photo as a reference together.
    "diffusion-lora-reference": ("diffusion", {**DIFFUSION_ON_CPU, "reference": True}),
    "knn": ("knn", {}),
    "knn-lam0": ("knn", {"lam": 0.0}),
    "knn-flow": ("knn", {"smoothing": "flow"}),
    "pix2pix-pose2pics": ("pix2pix-pose2pics", PIX2PIX_ON_CPU),
    "pix2pix-pics2pics": ("pix2pix-pics2pics", PIX2PIX_ON_CPU),
    "patn": ("patn", PATN_ON_CPU),
    "two-stage": ("two-stage", TWO_STAGE_ON_CPU),
    "two-stage-long": ("two-stage", TWO_STAGE_LONG_ON_CPU),
    "posewarp": ("posewarp", POSEWARP_ON_CPU),
    "posewarp-upper": ("posewarp-upper", POSEWARP_ON_CPU),
} | {
    f"ablation-{rung.lstrip('+')}": ("two-stage", {**TWO_STAGE_ABLATION_ON_CPU, **switches})
    for rung, switches in ABLATIONS.items()
}

# What runs without --only: the baselines table (the reference ground truth and the ablation stay out).
DEFAULT_LABELS = (
    "copy-source", "knn", "knn-lam0", "knn-flow", "pix2pix-pose2pics", "pix2pix-pics2pics", "patn",
    "two-stage", "posewarp",
)  # fmt: skip

METRICS = (
    "ssim", "masked_ssim", "silhouette_iou", "psnr", "l1", "pckh", "fid", "part_color_error",
    "identity_accuracy", "flicker", "warp_error",
)  # fmt: skip


def _jittered(poses: PoseSequence, pixels: float, seed: int) -> PoseSequence:
    """``poses`` with Gaussian noise of ``pixels`` on every joint, as a detector adds it."""
    return jitter_poses(poses, pixels, np.random.default_rng(seed))


def knn_thresholding_table(
    benchmark: Benchmark, lams: tuple[float, ...] = (0.0, 0.003), jitter: float = 1.5
) -> str:
    """Markdown: index switches and flicker of the k-NN with each ``lam``, on the held-out poses as they are
    and with ``jitter`` pixels of detector-like noise; then the switches clip by clip."""
    conditions = {"exact poses": 0.0, f"poses + {jitter:g} px noise": jitter}
    switches = {(lam, c): 0 for lam in lams for c in conditions}
    flicker: dict[tuple[float, str], list[np.ndarray]] = {(lam, c): [] for lam in lams for c in conditions}
    rows = []
    for case in benchmark.cases():
        methods = {lam: KnnRetrieval({"lam": lam}) for lam in lams}
        for method in methods.values():
            method.fit(training_frames(case))
        for k, clip in enumerate(case.clips):
            counts = {}
            for condition, pixels in conditions.items():
                poses = _jittered(clip.target_poses, pixels, seed=k) if pixels else clip.target_poses
                for lam, method in methods.items():
                    counts[lam, condition] = count_switches(method.retrieve(poses))
                    switches[lam, condition] += counts[lam, condition]
                    frames = method.transfer(clip.source_images, clip.source_poses, poses)
                    flicker[lam, condition].append(
                        Flicker().compute(MetricInputs(frames, clip.truth)).per_frame
                    )
            cells = " | ".join(str(counts[lam, c]) for c in conditions for lam in lams)
            rows.append(f"| {case.subject}/{clip.name} | {len(clip)} | {cells} |")
    summary = ["| lam | " + " | ".join(f"switches, {c} | flicker, {c}" for c in conditions) + " |",
               "|---|" + "---|---|" * len(conditions)]  # fmt: skip
    for lam in lams:
        cells = " | ".join(
            f"{switches[lam, c]} | {np.mean(np.concatenate(flicker[lam, c])):+.5f}" for c in conditions
        )
        summary.append(f"| {lam:g} | {cells} |")
    header = (
        "| clip | frames | " + " | ".join(f"{c}, lam = {lam:g}" for c in conditions for lam in lams) + " |"
    )
    rule = "|" + "---|" * (2 + len(lams) * len(conditions))
    return "\n".join([*summary, "", "Index switches per clip:", "", header, rule, *rows])


def training_frames(case: EvalCase) -> SubjectFrames:
    """The case's training frames; the k-NN tables run on synthetic benchmarks, which always have them."""
    if case.train is None:
        raise ToolkitError(
            f"{case.subject}: the benchmark has no training frames for the k-NN to retrieve from"
        )
    return case.train


def knn_slow_motion_table(
    benchmark: Benchmark, lams: tuple[float, ...] = (0.0, 0.003), slowdown: int = 4, jitter: float = 1.5
) -> str:
    """Markdown: the k-NN on a training clip played ``slowdown`` times slower with ``jitter`` pixels of pose
    noise, the case frame thresholding is for. The truth of every frame is the bank's own frame of that
    pose, so flicker is measured exactly."""
    switches = dict.fromkeys(lams, 0)
    flicker: dict[float, list[np.ndarray]] = {lam: [] for lam in lams}
    for k, case in enumerate(benchmark.cases()):
        train = training_frames(case)
        clip = np.arange(min(48, len(train)))
        order = np.repeat(clip, slowdown)
        poses = _jittered(train.poses[order], jitter, seed=k)
        for lam in lams:
            method = KnnRetrieval({"lam": lam})
            method.fit(train)
            switches[lam] += count_switches(method.retrieve(poses))
            frames = method.transfer(train.images[:1], train.poses[:1], poses)
            truth = train.images[order]
            flicker[lam].append(Flicker().compute(MetricInputs(frames, truth)).per_frame)
    lines = ["| lam | switches | flicker |", "|---|---|---|"]
    lines += [f"| {lam:g} | {switches[lam]} | {np.mean(np.concatenate(flicker[lam])):+.5f} |" for lam in lams]
    return "\n".join(lines)


def pose_change(source: PoseSequence, targets: PoseSequence) -> np.ndarray:
    """``(T,)`` how far each target pose is from the source pose: the mean distance between the joints both
    have, in units of the source's height (the span of its present joints' y)."""
    a, b = source.keypoints[0], targets.keypoints  # (J, 3), (T, J, 3)
    both = (a[None, :, 2] > 0) & (b[..., 2] > 0)
    distance = np.linalg.norm(b[..., :2] - a[None, :, :2], axis=-1)  # (T, J)
    height = np.ptp(a[a[:, 2] > 0, 1])
    return np.where(both, distance, 0).sum(1) / np.maximum(both.sum(1), 1) / height


def largest_pose_change_table(
    benchmark: Benchmark, labels: list[str], runs: list[Path], share: float = 0.25
) -> str:
    """Markdown: each run's SSIM, masked SSIM and silhouette IoU on the ``share`` of held-out frames whose
    target pose is furthest from the source pose, beside its scores on the rest."""
    change = {}
    for case in benchmark.cases():
        for clip in case.clips:
            change[f"{case.subject}/{clip.name}"] = pose_change(clip.source_poses, clip.target_poses)
    everything = np.concatenate(list(change.values()))
    cut = np.quantile(everything, 1 - share)
    metrics = ("ssim", "masked_ssim", "silhouette_iou")
    lines = [
        f"Frames whose target pose is furthest from the source (top {share:.0%}: mean joint move above "
        f"{cut:.2f} of the body height, {int((everything > cut).sum())} of {everything.size} frames):",
        "",
        "| method | " + " | ".join(f"{m}, largest change | {m}, the rest" for m in metrics) + " |",
        "|---|" + "---|---|" * len(metrics),
    ]
    for label, run in zip(labels, runs, strict=True):
        per_frame = read_per_frame_csv((run / PER_FRAME_NAME).read_text())
        cells = []
        for metric in metrics:
            values = np.concatenate(list(per_frame[metric].values()))
            large = np.concatenate([change[clip] > cut for clip in per_frame[metric]])
            cells.append(f"{values[large].mean():.4f} | {values[~large].mean():.4f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_settings(labels: list[str], runs: list[Path], path: Path) -> Path:
    """Write ``path``: a markdown table of each label's method, settings and fitting seconds (all subjects,
    as the run's ``metrics.json`` records them: 0 when loaded, and only the last sitting's subjects when an
    interrupted run was resumed). Returns ``path``."""
    lines = ["| label | method | settings | fit seconds |", "|---|---|---|---|"]
    for label, run in zip(labels, runs, strict=True):
        method, settings = ENTRIES[label]
        shown = ", ".join(f"`{key} = {value}`" for key, value in settings.items()) or "defaults"
        fit = read_run(run)["cost"]["fit_seconds"]
        lines.append(f"| {label} | `{method}` | {shown} | {fit:.0f} |")
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def _load(name: str, data_root: Path | None, pose_noise: float | None) -> Benchmark:
    """The benchmark ``name``, with ``pose_noise`` pixels of noise on its held-out poses if given."""
    if pose_noise is None:
        return load_benchmark(name, data_root)
    source = get_benchmark(name)
    if not isinstance(source, SyntheticBenchmark):
        raise ValueError(f"--pose-noise applies to the mannequin benchmarks, not {name!r}")
    noisy = replace(source, name=f"{name}@{pose_noise:g}px", pose_noise=pose_noise)
    return noisy.load(data_root or cache_root() / name)  # the same frames: the noise is added on reading


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder (runs resume)")
    parser.add_argument(
        "--benchmark", default="synthetic-small", help="benchmark name (default synthetic-small)"
    )
    parser.add_argument("--data-root", type=Path, help="the benchmark's data folder (default: its cache)")
    parser.add_argument(
        "--pose-noise",
        type=float,
        metavar="PX",
        help="drive a mannequin benchmark with PX pixels of detector-like noise on every held-out joint "
        "(its pose_noise; the benchmark is then named NAME@PXpx)",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated labels among {', '.join(ENTRIES)} (default {', '.join(DEFAULT_LABELS)})",
    )
    parser.add_argument("--checkpoints", type=Path, help="folder of saved methods, one subfolder per label")
    parser.add_argument(
        "--save-methods",
        type=Path,
        metavar="DIR",
        help="save every fitted method into DIR/LABEL/SUBJECT, to pass as --checkpoints to a later run",
    )
    parser.add_argument("--metrics", default=",".join(METRICS), help="comma-separated metrics")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--rescore", action="store_true", help="score finished runs again instead of reusing their scores"
    )
    args = parser.parse_args()
    labels = list(DEFAULT_LABELS) if args.only is None else [label.strip() for label in args.only.split(",")]
    unknown = [label for label in labels if label not in ENTRIES]
    if unknown:
        print(
            f"compare_baselines: error: unknown entry {unknown[0]!r}; known: {', '.join(ENTRIES)}",
            file=sys.stderr,
        )
        return 2
    try:
        benchmark = _load(args.benchmark, args.data_root, args.pose_noise)
        runs = []
        for label in labels:
            method, settings = ENTRIES[label]
            checkpoint = None if args.checkpoints is None else args.checkpoints / label
            options = EvalOptions(
                metrics=tuple(args.metrics.split(",")),
                checkpoint=checkpoint if checkpoint is not None and checkpoint.is_dir() else None,
                method_config=settings,
                seed=args.seed,
                rescore=args.rescore,
                save_methods=None if args.save_methods is None else args.save_methods / label,
            )
            started = time.perf_counter()
            result = evaluate(method, benchmark, args.out / "runs" / label, options)
            fit = result.summary["cost"]["fit_seconds"]
            print(f"{label}: {time.perf_counter() - started:.0f} s, of which fitting {fit:.0f} s")
            runs.append(result.out)
        written = compare(runs, args.out / "comparison")
        written.append(write_settings(labels, runs, args.out / "comparison" / "settings.md"))
        table = largest_pose_change_table(benchmark, labels, runs)
        write_text_atomic(args.out / "comparison" / "pose_change.md", f"# Largest pose change\n\n{table}\n")
        if "knn" in labels:
            held_out, slow = knn_thresholding_table(benchmark), knn_slow_motion_table(benchmark)
            text = (
                f"# k-NN frame thresholding\n\n## Held-out clips\n\n{held_out}\n\n"
                f"## The first training clip at 1/4 speed with 1.5 px pose noise\n\n{slow}\n"
            )
            write_text_atomic(args.out / "comparison" / "knn_thresholding.md", text)
    except (ToolkitError, ValueError) as err:
        print(f"compare_baselines: error: {err}", file=sys.stderr)
        return 2
    for run in runs:
        summary = read_run(run)
        values = {name: entry["value"] for name, entry in summary["metrics"].items()}
        shown = ", ".join(f"{name} {value:.4g}" for name, value in values.items() if isinstance(value, float))
        print(f"{run.name}: {shown}")
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
