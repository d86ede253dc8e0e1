"""The ``make demo`` job: learn a mannequin from 5 photos, render it walking, and compare every method.

1. ``walk.json``: the walk cycle of the ``demo-walk`` benchmark's held-out subject, whose ground-truth
   renders are known.
2. DreamBooth-LoRA of that subject ("demo") from its 5 photos on the packaged ``mini`` model, exactly as
   ``accelerate launch training/dreambooth.py`` trains it.
3. ``toolkit generate --subject demo --poses walk.json``: frames, MP4/GIF and contact sheet.
4. The GAN baselines, trained briefly on the same 5 photos, and the k-NN, rendered through the evaluation
   harness, with the diffusion run loaded from step 2's subject.
5. The comparison: a table, a bar chart and a side-by-side video of every method against the ground truth.

Every step resumes: a rerun reuses the trained subject, the generated frames and the finished runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data.media import write_image
from .manifest import write_manifest
from .pose.io import save_poses

SUBJECT = "demo"
BENCHMARK = "demo-walk"

# label -> (registered method, settings). The GAN budgets fit the 2-core, 15-minute goal of `make demo`;
# the perceptual terms are off because their VGG19 weights are not shipped.
DEMO_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "ground-truth": ("ground-truth", {}),
    "diffusion": ("diffusion", {}),
    # The same base and ControlNet without the subject's LoRA, with the same seeds: what the LoRA adds.
    "no-lora": ("diffusion", {"lora": False}),
    # No LoRA either, prompted with the subject's caption: how far words alone draw the subject.
    "caption": ("diffusion", {"lora": False, "describe": True}),
    # No training at all: one photo of the subject (the benchmark's source frame) as a reference.
    "reference": ("diffusion", {"lora": False, "reference": True}),
    # The LoRA and the reference photo together.
    "lora+reference": ("diffusion", {"reference": True}),
    "knn": ("knn", {}),
    "pix2pix": ("pix2pix-pose2pics", {"size": 128, "base_channels": 16, "disc_channels": 16, "steps": 300}),
    "posewarp": ("posewarp", {"size": 128, "width": 32, "disc_width": 16, "steps": 150, "batch_size": 4}),
    "patn": (
        "patn",
        {
            "height": 128,
            "width": 128,
            "base_channels": 16,
            "disc_channels": 16,
            "perceptual_weight": 0.0,
            "steps": 100,
            "batch_size": 4,
        },
    ),  # fmt: skip
    "two-stage": (
        "two-stage",
        {
            "size": 128,
            "base_channels": 16,
            "blocks": 4,
            "disc_channels": 16,
            "disc_scales": 1,
            "stage1_steps": 60,
            "stage2_steps": 30,
            "batch_size": 2,
        },
    ),  # fmt: skip
}
DEMO_METRICS = (
    "ssim", "masked_ssim", "silhouette_iou", "psnr", "l1", "part_color_error", "identity_accuracy", "flicker",
)  # fmt: skip


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo.

    Args:
        base: Base model spec. Default ``"mini"`` (packaged).
        controlnet: OpenPose ControlNet spec. Default ``"mini"``.
        lora_steps: DreamBooth-LoRA training steps. Default 400.
        lora_learning_rate: Their learning rate. Default 5e-4 (diffusers' DreamBooth-LoRA default).
        inference_steps: Denoising steps per frame. Default 20.
        guidance: Classifier-free guidance scale. Default 5.
        methods: ``label -> (method, settings)`` to compare; default :data:`DEMO_METHODS`.
        metrics: Metrics of the comparison; default :data:`DEMO_METRICS`.
        seed: Seed of training and sampling. Default 0.
        progress: Show progress bars. Default True.
    """

    base: str = "mini"
    controlnet: str = "mini"
    lora_steps: int = 400
    lora_learning_rate: float = 5e-4
    inference_steps: int = 20
    guidance: float = 5.0
    methods: Mapping[str, tuple[str, dict[str, Any]]] = field(default_factory=lambda: dict(DEMO_METHODS))
    metrics: tuple[str, ...] = DEMO_METRICS
    seed: int = 0
    progress: bool = True


def _train_subject(out: Path, case: Any, config: DemoConfig) -> Path:
    """Step 2: the 5 photos and their poses into ``out/photos``, then DreamBooth-LoRA into
    ``out/subjects/demo`` (skipped when that subject is already trained). Returns the subject folder."""
    from .diffusion.dreambooth import DreamBoothConfig, train
    from .diffusion.subjects import SubjectRegistry

    registry = SubjectRegistry.at(out / "subjects")
    if SUBJECT in registry.names():
        return registry.folder(SUBJECT)
    photos = out / "photos"
    for i, image in enumerate(case.train.images):
        write_image(photos / f"{i:02d}.png", image)
    poses = save_poses(out / "photos_poses.json", case.train.poses)
    train(
        DreamBoothConfig(
            subject=SUBJECT,
            instance_dir=photos,
            poses=poses,
            class_noun="mannequin",
            template="mannequin",
            base=config.base,
            controlnet=config.controlnet,
            resolution=case.train.images.shape[1],
            max_train_steps=config.lora_steps,
            learning_rate=config.lora_learning_rate,
            lr_warmup_steps=0,
            seed=config.seed,
            subjects_dir=out / "subjects",
            validation_steps=0,
            checkpointing_steps=config.lora_steps,
            report_to="csv",
            progress=config.progress,
        ),
        command=["toolkit", "demo"],
    )
    return registry.folder(SUBJECT)


def _generate(out: Path, walk: Path, size: tuple[int, int], config: DemoConfig) -> Path:
    """Step 3: ``toolkit generate --subject demo --poses walk.json --size WxH`` into ``out/generate``."""
    from .diffusion.job import GenerateRequest, run_generate

    request = GenerateRequest(
        poses=walk,
        out=out / "generate",
        subject=SUBJECT,
        subjects_dir=out / "subjects",
        size=size,
        steps=config.inference_steps,
        guidance=config.guidance,
        seed=config.seed,
        progress=config.progress,
    )
    command = ["toolkit", "generate", "--subject", SUBJECT, "--poses", str(walk)]
    command += ["--size", f"{size[0]}x{size[1]}", "--steps", str(config.inference_steps)]
    command += ["--guidance", str(config.guidance), "--seed", str(config.seed)]
    return run_generate(request, command=command).out


def _compare(out: Path, benchmark: Any, subject: Path, config: DemoConfig) -> Path:
    """Steps 4 and 5: every method of ``config.methods`` through the harness into ``out/runs/LABEL``,
    then the comparison into ``out/comparison``."""
    from .eval.compare import compare
    from .eval.harness import EvalOptions, evaluate

    runs = []
    for label, (method, settings) in config.methods.items():
        if method == "diffusion":  # step 2's subject and models, sampled as in step 3
            settings = {
                "base": config.base,
                "controlnet": config.controlnet,
                "inference_steps": config.inference_steps,
                "guidance": config.guidance,
                "seed": config.seed,
                **settings,
            }
            if settings.get("lora", True):
                settings["subject_dir"] = str(subject)
        options = EvalOptions(
            metrics=config.metrics,
            method_config=settings,
            seed=config.seed,
            progress=config.progress,
        )
        runs.append(evaluate(method, benchmark, out / "runs" / label, options).out)
    compare(runs, out / "comparison")
    return out / "comparison"


def run_demo(
    out: str | Path,
    config: DemoConfig = DemoConfig(),
    *,
    command: Sequence[str] | None = None,
    report: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Run the five steps of the module docstring into ``out``; ``report`` gets one line per finished step.

    Returns:
        The main outputs by name: ``walk``, ``subject``, ``generate``, ``comparison``, ``manifest``.

    Raises:
        ToolkitError: in one line, e.g. when the packaged mini model is missing.
    """
    from .diffusion.loading import resolve_source
    from .eval.benchmarks import load_benchmark

    resolve_source(config.base, "base model", "--base")  # a missing model fails now, not minutes in
    resolve_source(config.controlnet, "ControlNet", "--controlnet", part="controlnet")
    out = Path(out)
    timings: dict[str, float] = {}
    paths: dict[str, Path] = {}
    benchmark = load_benchmark(BENCHMARK, out / "benchmark", progress=config.progress)
    case = next(benchmark.cases())
    walk = case.clips[0].target_poses
    steps: list[tuple[str, str, Callable[[], Path]]] = [
        ("walk", "walk cycle", lambda: save_poses(out / "walk.json", walk)),
        ("subject", "DreamBooth-LoRA subject", lambda: _train_subject(out, case, config)),
        ("generate", "generated walk", lambda: _generate(out, paths["walk"], walk.canvas, config)),
        (
            "comparison",
            "comparison of every method",
            lambda: _compare(out, benchmark, paths["subject"], config),
        ),
    ]
    for name, what, run in steps:
        began = time.perf_counter()
        paths[name] = run()
        timings[name] = time.perf_counter() - began
        report(f"{what}: {paths[name]} ({timings[name]:.0f} s)")
    paths["manifest"] = write_manifest(
        out,
        command=command,
        seed=config.seed,
        options={"base": config.base, "controlnet": config.controlnet, "lora_steps": config.lora_steps},
        timings=timings,
        outputs={name: str(path) for name, path in paths.items()},
    )
    return paths
