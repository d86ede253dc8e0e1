"""The GPU measurements, in one command that cannot fail for a trivial reason: every part has a time cap,
and a part that fails is recorded (its error in one line) while the others run.

    python scripts/gpu_check.py --out outputs/gpu_check          # on a CUDA machine, under 8 minutes
    python scripts/gpu_check.py --smoke --out /tmp/check          # on a CPU, at tiny sizes (CI runs this)

Parts (``--part NAME`` to run only some):

- ``generation``: SD 1.5-size UNet, ControlNet and VAE (random weights: speed does not depend on them),
  512 x 512, 20 UniPC steps, fp16: a plain per-frame ``StableDiffusionControlNetPipeline`` loop against
  ours (batched, shared noise and cross-frame attention), with ``torch.compile``, with xformers where it
  imports, and LCM at 4 steps. Seconds per frame and peak VRAM.
- ``dreambooth``: one LoRA training step at 512 px, batch 1 (UNet forward and backward with the frozen
  ControlNet's residuals), with and without gradient checkpointing; seconds per step and peak VRAM.
- ``gan``: frames per second of pix2pix, PATN, posewarp and two-stage inference at 256 px.
- ``pose-encoding``: Gaussian heatmaps on the GPU against the CPU (largest difference) and their speed.

Writes ``OUT/gpu_check.json`` and ``OUT/gpu_check.md`` (rows for docs/benchmarks.md). The machine needs
torch, transformers, accelerate, peft, safetensors and diffusers (see ``make gpu-bundle``).
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Context:
    """Where and how large to measure: ``smoke`` runs every code path on the CPU at tiny sizes."""

    device: torch.device
    dtype: torch.dtype
    smoke: bool
    size: int  # generation and DreamBooth resolution
    gan_size: int
    frames: int
    steps: int


def context(smoke: bool) -> Context:
    if smoke or not torch.cuda.is_available():
        return Context(torch.device("cpu"), torch.float32, True, 64, 64, 4, 2)
    return Context(torch.device("cuda"), torch.float16, False, 512, 256, 16, 20)


# ---- measuring ----------------------------------------------------------------------------------------


def synchronize(ctx: Context) -> None:
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()


@contextmanager
def measured(ctx: Context, row: dict[str, Any], count: int, unit: str) -> Iterator[None]:
    """Time the block (``seconds``, ``seconds_per_<unit>`` over ``count``) and its peak GPU memory into
    ``row``."""
    if ctx.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    synchronize(ctx)
    start = time.perf_counter()
    yield
    synchronize(ctx)
    seconds = time.perf_counter() - start
    row.update({"seconds": round(seconds, 4), f"seconds_per_{unit}": float(f"{seconds / count:.4g}")})
    if ctx.device.type == "cuda":
        row["peak_vram_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)


class PartTimeout(Exception):
    pass


@contextmanager
def time_cap(seconds: int) -> Iterator[None]:
    """Raise :class:`PartTimeout` in the block after ``seconds`` (Unix)."""

    def expired(signum: int, frame: Any) -> None:
        raise PartTimeout(f"stopped after its {seconds} s cap")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---- the parts ----------------------------------------------------------------------------------------


def _pipeline(ctx: Context) -> Any:
    if ctx.smoke:
        from toolkit.diffusion.tiny import build_tiny_pipeline

        return build_tiny_pipeline().to(ctx.device, ctx.dtype)
    from toolkit.diffusion.sd15 import build_sd15_pipeline

    return build_sd15_pipeline(ctx.device, ctx.dtype)


def part_generation(ctx: Context, rows: list[dict[str, Any]]) -> None:
    from toolkit.diffusion.controls import prepare_poses, skeleton_images
    from toolkit.diffusion.generate import GenerationSettings, encode_prompts, render_frames
    from toolkit.diffusion.schedulers import set_scheduler
    from toolkit.diffusion.speed import SpeedOptions, apply_speed
    from toolkit.pose.motions import make_motion

    pipe = _pipeline(ctx)
    poses = make_motion("walk", frames=ctx.frames, width=ctx.size, height=ctx.size)
    skeletons = skeleton_images(prepare_poses(poses, ctx.size, ctx.size))
    drawn = skeletons.draw(range(len(skeletons)))

    row: dict[str, Any] = {"what": "plain per-frame diffusers loop", "frames": ctx.frames}
    with measured(ctx, row, ctx.frames, "frame"):
        for i, control in enumerate(drawn):
            generator = torch.Generator(ctx.device).manual_seed(i)
            image = torch.from_numpy(control).permute(2, 0, 1)[None].to(ctx.device, ctx.dtype) / 255
            pipe(
                "a person", image=image, num_inference_steps=ctx.steps, generator=generator, output_type="np"
            )
    rows.append(row)

    def ours(what: str, settings: GenerationSettings, guidance: float = 7.5) -> None:
        embeddings = encode_prompts(pipe, "a person", "", guidance)
        render_frames(pipe, skeletons[:2], embeddings, settings, progress=False)  # warm-up (and compile)
        row = {"what": what, "frames": ctx.frames}
        with measured(ctx, row, ctx.frames, "frame"):
            render_frames(pipe, skeletons, embeddings, settings, progress=False)
        rows.append(row)

    apply_speed(pipe, SpeedOptions(device=ctx.device.type))
    for mechanism in ("shared-noise", "cross-frame"):
        ours(
            f"ours, batch 8, {mechanism}", GenerationSettings(steps=ctx.steps, batch=8, consistency=mechanism)
        )
    for what, knob in (
        ("--cache-interval 3", {"cache_interval": 3}),
        ("--control-once", {"control_once": True}),
    ):
        ours(f"ours, batch 8, cross-frame, {what}", GenerationSettings(steps=ctx.steps, batch=8, **knob))
    try:
        apply_speed(pipe, SpeedOptions(device=ctx.device.type, attention="xformers"))
        ours("ours, batch 8, cross-frame, xformers", GenerationSettings(steps=ctx.steps, batch=8))
    except Exception as err:  # xformers is optional: record why it did not run
        rows.append({"what": "ours with xformers", "error": _one_line(err)})
    set_scheduler(pipe, "lcm")
    ours("ours, batch 8, LCM 4 steps (no guidance)", GenerationSettings(steps=4, guidance=1.0, batch=8), 1.0)
    set_scheduler(pipe, "unipc")
    if ctx.smoke:  # compiling on a CPU takes minutes: the smoke run checks every other path
        rows.append({"what": "ours, batch 8, cross-frame, torch.compile", "error": "skipped in --smoke"})
        return
    apply_speed(pipe, SpeedOptions(device=ctx.device.type, compile=True))
    ours("ours, batch 8, cross-frame, torch.compile", GenerationSettings(steps=ctx.steps, batch=8))


def part_dreambooth(ctx: Context, rows: list[dict[str, Any]]) -> None:
    from peft import LoraConfig

    pipe = _pipeline(ctx)
    unet, controlnet = pipe.unet, pipe.controlnet
    unet.requires_grad_(False)
    controlnet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()  # LoRA weights train in float32, as diffusers' script keeps them
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    latent = ctx.size // 8
    text = torch.randn(1, 77, unet.config.cross_attention_dim, device=ctx.device, dtype=ctx.dtype)
    control = torch.rand(1, 3, ctx.size, ctx.size, device=ctx.device, dtype=ctx.dtype)

    def step() -> None:
        noisy = torch.randn(1, 4, latent, latent, device=ctx.device, dtype=ctx.dtype)
        timesteps = torch.randint(0, 1000, (1,), device=ctx.device)
        with torch.no_grad():
            down, mid = controlnet(noisy, timesteps, text, controlnet_cond=control, return_dict=False)
        with torch.autocast(ctx.device.type, dtype=ctx.dtype, enabled=ctx.device.type == "cuda"):
            pred = unet(noisy, timesteps, text, down_block_additional_residuals=down,
                        mid_block_additional_residual=mid, return_dict=False)[0]  # fmt: skip
        torch.nn.functional.mse_loss(pred.float(), noisy.float()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    count = 3 if ctx.smoke else 10
    for checkpointing in (False, True):
        if checkpointing:
            unet.enable_gradient_checkpointing()
        step()  # warm-up
        row = {"what": f"LoRA step, batch 1, gradient checkpointing {'on' if checkpointing else 'off'}"}
        with measured(ctx, row, count, "step"):
            for _ in range(count):
                step()
        rows.append(row)


# Each method's settings at a square canvas of ``size`` px, without the ImageNet weights a perceptual
# loss would need (inference does not use them).
GAN_METHODS: dict[str, Callable[[int], dict[str, Any]]] = {
    "pix2pix-pose2pics": lambda size: {"size": size, "perceptual_weight": 0.0},
    "patn": lambda size: {"height": size, "width": size, "perceptual_weight": 0.0},
    "posewarp": lambda size: {"size": size},
    "two-stage": lambda size: {"size": size, "reconstruction": "l1"},
}


def part_gan(ctx: Context, rows: list[dict[str, Any]]) -> None:
    from toolkit.data.datasets import mannequin_frames
    from toolkit.methods import get_method
    from toolkit.pose.motions import make_motion

    size = ctx.gan_size
    frames = mannequin_frames(1, motions=("walk",), frames=8, size=size)
    count = 8 if ctx.smoke else 64
    targets = make_motion("wave", frames=count, width=size, height=size)
    for name, settings in GAN_METHODS.items():
        try:
            method = get_method(name)(settings(size))
            method.training_setup(frames, ctx.device)  # the networks, initialised, on the device
            for module in _networks(method):
                module.eval()
            method.transfer(frames.images[:1], frames.poses[:1], targets[:2])  # warm-up
            row: dict[str, Any] = {"what": f"{name} inference at {size} px", "frames": count}
            with measured(ctx, row, count, "frame"):
                method.transfer(frames.images[:1], frames.poses[:1], targets)
            row["frames_per_second"] = round(count / row["seconds"], 1)
        except Exception as err:  # one method's failure must not hide the others
            row = {"what": f"{name} inference at {size} px", "error": _one_line(err)}
        rows.append(row)


def _networks(method: Any) -> list[torch.nn.Module]:
    found = [getattr(method, "generator", None), *getattr(method, "generators", {}).values()]
    return [m for m in found if isinstance(m, torch.nn.Module)]


def part_pose_encoding(ctx: Context, rows: list[dict[str, Any]]) -> None:
    from toolkit.pose.encode import gaussian_heatmaps
    from toolkit.pose.motions import make_motion

    size = 64 if ctx.smoke else 256
    poses = make_motion("dance", frames=64, width=size, height=size)
    keypoints = torch.from_numpy(poses.keypoints)
    expected = gaussian_heatmaps(keypoints, size, size, sigma=6.0)
    on_device = keypoints.to(ctx.device)
    gaussian_heatmaps(on_device, size, size, sigma=6.0)  # warm-up
    row: dict[str, Any] = {"what": f"Gaussian heatmaps, 64 frames x 18 joints at {size} px", "frames": 64}
    with measured(ctx, row, 64, "frame"):
        maps = gaussian_heatmaps(on_device, size, size, sigma=6.0)
    row["max_abs_difference_to_cpu"] = float((maps.cpu().float() - expected.float()).abs().max())
    rows.append(row)


PARTS: dict[str, tuple[Callable[[Context, list[dict[str, Any]]], None], int]] = {
    "generation": (part_generation, 240),
    "dreambooth": (part_dreambooth, 90),
    "gan": (part_gan, 60),
    "pose-encoding": (part_pose_encoding, 30),
}


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


# ---- report -------------------------------------------------------------------------------------------


COLUMNS = (
    "seconds_per_frame",
    "seconds_per_step",
    "frames_per_second",
    "peak_vram_gib",
    "max_abs_difference_to_cpu",
    "error",
)


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Device: {report['device']}; torch {report['torch']}, dtype {report['dtype']}.", ""]
    for name, part in report["parts"].items():
        lines += [f"### {name}", ""]
        if part.get("error"):
            lines += [f"Failed: {part['error']}", ""]
        keys = [k for k in COLUMNS if any(k in row for row in part["rows"])]
        if part["rows"]:
            lines += ["| what | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
            for row in part["rows"]:
                lines.append(f"| {row['what']} | " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
            lines.append("")
    return "\n".join(lines)


def run(names: list[str], smoke: bool) -> dict[str, Any]:
    ctx = context(smoke)
    name = (
        torch.cuda.get_device_name(0)
        if ctx.device.type == "cuda"
        else f"CPU ({platform.processor() or 'cpu'})"
    )
    report: dict[str, Any] = {
        "device": name,
        "torch": torch.__version__,
        "dtype": str(ctx.dtype),
        "parts": {},
    }
    for part in names:
        function, cap = PARTS[part]
        rows: list[dict[str, Any]] = []
        started = time.perf_counter()
        error = None
        try:
            with time_cap(cap * (2 if smoke else 1)):
                function(ctx, rows)
        except Exception as err:  # recorded; the next part still runs
            error = _one_line(err)
        report["parts"][part] = {
            "rows": rows,
            "error": error,
            "seconds": round(time.perf_counter() - started, 1),
        }
        if ctx.device.type == "cuda":
            torch.cuda.empty_cache()
        print(
            f"{part}: {'failed: ' + error if error else 'ok'} ({report['parts'][part]['seconds']} s)",
            flush=True,
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/gpu_check"), help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU, to test the script")
    parser.add_argument(
        "--part", action="append", choices=list(PARTS), help="run only this part (repeatable)"
    )
    args = parser.parse_args(argv)
    np.random.seed(0)  # noqa: NPY002
    report = run(args.part or list(PARTS), args.smoke)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "gpu_check.md").write_text(markdown(report) + "\n")
    print(f"wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
