"""What the web app does, as plain functions over one output folder (the page only wires them up).

Each function is the library call the matching command makes, on the files the command writes, so that
a user can go on from the command line in the same folder:

    ROOT/subjects/NAME/          toolkit subjects ... (DreamBooth-LoRA subjects; or --subjects-dir)
    ROOT/photos/NAME/            the uploaded photos a subject was trained on
    ROOT/poses/NAME.json         toolkit poses extract / make / convert; NAME.mp4 is its skeleton preview
    ROOT/generate/SUBJECT_POSES/ toolkit generate --subject SUBJECT --poses ROOT/poses/POSES.json
    ROOT/compare/                toolkit eval runs (runs/LABEL/) and their comparison (comparison/)
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..diffusion.subjects import SubjectRegistry
from ..errors import ToolkitError

POSE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Workspace:
    """The folder everything the page makes lands in, and the models it uses by default.

    Args:
        root: The output folder.
        subjects_dir: The subject registry; default ``root/subjects``.
        base: Base model for new subjects and for rendering without one (``mini``, ``tiny``, a hub id
            or a folder). Default ``mini``, the packaged model.
    """

    root: Path
    subjects_dir: Path | None = None
    base: str = "mini"

    @property
    def registry(self) -> SubjectRegistry:
        return SubjectRegistry.at(self.subjects_dir or self.root / "subjects")

    @property
    def controlnet(self) -> str:
        """The OpenPose ControlNet that goes with :attr:`base`."""
        from ..diffusion.job import resolve_models

        return resolve_models(self.base, (), None)[1][0]

    @property
    def poses_dir(self) -> Path:
        return self.root / "poses"

    def pose_path(self, name: str) -> Path:
        """``poses/NAME.json``; the name is checked (letters, digits, ``._-``)."""
        if not POSE_NAME.fullmatch(name or ""):
            raise ToolkitError(f"pose name {name!r}: use letters, digits, '.', '_' or '-' (64 at most)")
        return self.poses_dir / f"{name}.json"

    def pose_names(self) -> list[str]:
        """The pose files made so far, by name."""
        return sorted(p.stem for p in self.poses_dir.glob("*.json")) if self.poses_dir.is_dir() else []


# --- subjects -------------------------------------------------------------------------------------


def train_subject(
    ws: Workspace,
    name: str,
    photos: Sequence[np.ndarray],
    *,
    steps: int = 200,
    learning_rate: float = 5e-4,
    token: str = "sks",
    class_noun: str = "person",
    template: str = "default",
    validation_steps: int = 100,
    seed: int = 0,
) -> Any:
    """DreamBooth-LoRA subject ``name`` from ``photos`` (``(H, W, 3)`` uint8 each) on ``ws.base``, as
    ``accelerate launch training/dreambooth.py --instance-data-dir ROOT/photos/NAME ...`` would. A run
    that was cancelled resumes from its last checkpoint. Returns the ``TrainResult``."""
    from ..diffusion.dreambooth import DreamBoothConfig, train
    from ..diffusion.loading import native_size
    from ..diffusion.subjects import check_subject_name
    from .uploads import save_photos

    folder = save_photos(photos, ws.root / "photos" / check_subject_name(name))
    config = DreamBoothConfig(
        subject=name,
        instance_dir=folder,
        token=token,
        class_noun=class_noun,
        template=template,
        base=ws.base,
        controlnet=ws.controlnet,
        resolution=native_size(ws.base)[0],
        max_train_steps=steps,
        learning_rate=learning_rate,
        lr_warmup_steps=0,
        checkpointing_steps=max(steps // 4, 1),
        validation_steps=validation_steps,
        resume_from_checkpoint="latest",
        subjects_dir=ws.registry.root,
        report_to="csv",
        seed=seed,
        progress=False,
    )
    return train(config, command=["toolkit", "ui"])


def subject_table(ws: Workspace) -> list[list[str]]:
    """One row per subject, as ``toolkit subjects list`` prints it (``SubjectEntry.columns``): name, token
    and class, base, LoRA or not (or why it is broken)."""
    return [list(entry.columns()) for entry in ws.registry.entries()]


def subject_details(ws: Workspace, name: str) -> tuple[str, list[Path]]:
    """Subject ``name``'s record as TOML and its training photos."""
    from ..diffusion.subjects import SubjectError

    registry = ws.registry
    subject, folder = registry.get(name), registry.folder(name)
    try:
        photos = subject.photo_paths(folder)
    except SubjectError:  # an imported LoRA keeps no photos
        photos = []
    return subject.to_toml(), photos


def latest_grid(folder: Path) -> Path | None:
    """The newest validation grid a DreamBooth run wrote into subject ``folder``, or None."""
    grids = sorted(folder.glob("validation/step-*.png"))  # zero-padded steps: name order is step order
    return grids[-1] if grids else None


def remove_subject(ws: Workspace, name: str) -> Path:
    """Delete subject ``name``'s folder (``toolkit subjects remove NAME --yes``)."""
    return ws.registry.remove(name)


def import_subject(ws: Workspace, name: str, lora: str | Path, *, token: str, class_noun: str) -> Path:
    """Register a LoRA file trained elsewhere as subject ``name`` on ``ws.base``; returns its folder."""
    from ..diffusion.lora_import import import_lora

    folder, _ = import_lora(
        ws.registry, name, lora, token=token, class_noun=class_noun, base=ws.base, controlnet=ws.controlnet
    )
    return folder


# --- poses ----------------------------------------------------------------------------------------


def extract_poses(
    ws: Workspace, media: Sequence[Path], name: str, *, detector: str = "mediapipe", smooth: str = "one-euro"
) -> tuple[Path, str]:
    """``toolkit poses extract MEDIA -o poses/NAME.json`` on one video or image, or on several photos
    (copied, in order, to ``uploads/NAME/`` and read as a folder); returns the file and the detection
    report (a person in how many frames, each joint's rate)."""
    from ..data.frames import extract_poses as detect
    from ..data.frames import open_frames
    from ..pose.detect.summary import detection_summary
    from ..pose.io import save_poses

    path = ws.pose_path(name)
    source = media[0]
    if len(media) > 1:
        source = ws.root / "uploads" / name
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        for i, photo in enumerate(media):
            shutil.copyfile(photo, source / f"{i:04d}{photo.suffix.lower()}")
    poses = detect(open_frames(source, None), detector, smooth=smooth, progress=False)
    save_poses(path, poses)
    return path, detection_summary(poses)


def import_poses(ws: Workspace, file: Path, name: str, canvas: tuple[int, int] | None = None) -> Path:
    """Any pose file the toolkit reads (``canvas`` for raw OpenPose, which states none), saved as
    ``poses/NAME.json`` (``toolkit poses convert``)."""
    from ..pose.io import load_poses, save_poses

    path = ws.pose_path(name)
    return save_poses(path, load_poses(file, canvas=canvas))


def make_poses(
    ws: Workspace, motion: str, name: str, *, frames: int = 48, fps: float = 24.0, size: int = 512
) -> Path:
    """A procedural motion (``toolkit poses make MOTION``) as ``poses/NAME.json``."""
    from ..pose.io import save_poses
    from ..pose.motions import make_motion

    return save_poses(
        ws.pose_path(name), make_motion(motion, frames=frames, fps=fps, width=size, height=size)
    )


def edit_poses(
    ws: Workspace,
    source: str,
    name: str,
    *,
    start: int = 0,
    stop: int | None = None,
    smooth: str = "none",
    retarget_to: str | None = None,
) -> Path:
    """Frames ``start:stop`` of ``poses/SOURCE.json``, smoothed, and retargeted to subject
    ``retarget_to``'s body proportions if given (and it has them), as ``poses/NAME.json``."""
    from ..checks import lookup
    from ..pose.io import load_poses, save_poses
    from ..pose.ops import SMOOTHERS, retarget

    poses = load_poses(ws.pose_path(source))
    stop = len(poses) if stop is None else stop
    if not 0 <= start < stop <= len(poses):
        raise ToolkitError(
            f"frames {start} to {stop}: {source} has frames 0 to {len(poses)}; keep at least one"
        )
    poses = lookup(SMOOTHERS, smooth, "smoothing")(poses[start:stop])
    if retarget_to:
        proportions = ws.registry.get(retarget_to).proportions
        if proportions is None:
            raise ToolkitError(f"subject {retarget_to!r} has no measured body proportions to retarget to")
        poses = retarget(poses.to_layout("body_18"), proportions)
    return save_poses(ws.pose_path(name), poses)


def preview_poses(ws: Workspace, name: str) -> Path:
    """``toolkit poses render poses/NAME.json -o poses/NAME.mp4``: the skeleton video, drawn again only
    when the pose file is newer than it (the page shows it each time the file is picked)."""
    from ..data.media import write_video
    from ..pose.io import load_poses
    from ..pose.skeleton_images import SkeletonImages

    source, video = ws.pose_path(name), ws.poses_dir / f"{name}.mp4"
    if video.is_file() and video.stat().st_mtime_ns > source.stat().st_mtime_ns:
        return video
    poses = load_poses(source)
    return write_video(video, SkeletonImages(poses), poses.fps)


# --- generate -------------------------------------------------------------------------------------


def generate_request(
    ws: Workspace,
    subject: str | None,
    poses: str,
    *,
    steps: int | None = None,
    seed: int = 0,
    size: int | None = None,
    guidance: float | None = None,
    references: Sequence[str] = (),
    overwrite: bool = False,
) -> Any:
    """The ``GenerateRequest`` of ``toolkit generate --subject SUBJECT --poses poses/POSES.json``, into
    ``generate/SUBJECT_POSES`` (a rerun with the same settings resumes there; ``overwrite`` replaces
    frames made with other settings instead)."""
    from ..diffusion.job import GenerateRequest

    return GenerateRequest(
        poses=ws.pose_path(poses),
        out=ws.root / "generate" / f"{subject or 'base'}_{poses}",
        subject=subject or None,
        subjects_dir=ws.registry.root,
        base=None if subject else ws.base,
        steps=steps,
        seed=seed,
        size=None if size is None else (size, size),
        guidance=guidance,
        references=tuple(references),
        overwrite=overwrite,
        progress=False,
    )


def generate(ws: Workspace, subject: str | None, poses: str, **settings: Any) -> Any:
    """:func:`generate_request` run by :func:`run_request`; returns the ``GenerateResult``."""
    return run_request(generate_request(ws, subject, poses, **settings))


def run_request(request: Any) -> Any:
    """``toolkit generate`` for ``request``, its command line in the manifest; returns the result."""
    from ..diffusion.job import run_generate

    return run_generate(request, command=command_line(request))


def command_line(request: Any) -> list[str]:
    """The ``toolkit generate`` command that makes the same files as ``request``."""
    line = ["toolkit", "generate", "--poses", str(request.poses), "-o", str(request.out)]
    if request.subject:
        line += ["--subject", request.subject, "--subjects-dir", str(request.subjects_dir)]
    else:
        line += ["--base", str(request.base)]
    for flag, value in (("--steps", request.steps), ("--guidance", request.guidance)):
        if value is not None:
            line += [flag, f"{value:g}"]
    if request.size is not None:
        line += ["--size", f"{request.size[0]}x{request.size[1]}"]
    for photo in request.references:
        line += ["--reference", photo]
    if request.overwrite:
        line.append("--overwrite")
    return [*line, "--seed", str(request.seed)]


# --- compare --------------------------------------------------------------------------------------


SUBJECT_BENCHMARK = "subject: "
SUBJECT_METRICS = ("ssim", "psnr", "l1", "pckh")
# A subject's photos split into training photos and at least two held out.
MIN_HELD_OUT = 2
MIN_SUBJECT_PHOTOS = MIN_HELD_OUT + 2


def benchmark_choices(ws: Workspace) -> list[str]:
    """What Compare can run on: the registered benchmarks that need no data folder, then each subject
    with photos enough to hold some out, as ``subject: NAME``."""
    from ..eval.benchmarks import BENCHMARKS

    builtin = [name for name, source in BENCHMARKS.items() if not source.needs_data]
    subjects = [
        SUBJECT_BENCHMARK + entry.name
        for entry in ws.registry.entries()
        if entry.subject is not None and len(entry.subject.photos) >= MIN_SUBJECT_PHOTOS
    ]
    return builtin + subjects


def subject_benchmark(ws: Workspace, name: str, *, detector: str = "mediapipe") -> Any:
    """Subject ``name``'s own training photos as a benchmark: the methods fit on the first photos, and
    the last quarter (at least two) are rendered in their own poses and scored against the photos.

    The photos, letterboxed onto the first one's canvas, and their detected poses are written to
    ``compare/subjects/NAME/`` as ``images/`` and ``poses.json``: the folder ``toolkit eval --benchmark
    video-folder --data-root`` reads. Returns the loaded ``Benchmark``.
    """
    from ..data.datasets import Letterbox
    from ..data.frames import extract_poses as detect
    from ..data.frames import open_frames
    from ..data.media import read_image, write_image
    from ..eval.benchmarks.video_folder import VideoFolder
    from ..pose.io import save_poses

    subject = ws.registry.get(name)
    photos = subject.photo_paths(ws.registry.folder(name))
    if len(photos) < MIN_SUBJECT_PHOTOS:
        raise ToolkitError(
            f"subject {name!r} has {len(photos)} photos; comparing on its own photos holds "
            f"{MIN_HELD_OUT} out and needs at least {MIN_SUBJECT_PHOTOS}"
        )
    folder = ws.root / "compare" / "subjects" / name
    shutil.rmtree(folder / "images", ignore_errors=True)  # the subject may have been trained again
    images = [read_image(path) for path in photos]
    height, width = images[0].shape[:2]
    for i, image in enumerate(images):
        box = Letterbox(image.shape[1], image.shape[0], width, height)
        write_image(folder / "images" / f"{i:04d}.png", box.image(image))
    poses = detect(open_frames(folder / "images", None), detector, static=True, smooth="none", progress=False)
    save_poses(folder / "poses.json", poses)
    held_out = max(MIN_HELD_OUT, round(len(photos) / 4))
    split = VideoFolder(held_out=held_out / len(photos), name=f"subject-{name}")
    return dataclasses.replace(split.load(folder, progress=False), temporal=False)  # stills, not a video


def compare_methods(
    ws: Workspace,
    labels: Sequence[str],
    benchmark: str = "demo-walk",
    *,
    metrics: Sequence[str] | None = None,
) -> list[Path]:
    """The methods ``labels`` of the demo's line-up (:data:`toolkit.demo.DEMO_METHODS`, the same
    budgets) through the harness on ``benchmark`` (a registered one, or ``subject: NAME``: the subject's
    own held-out photos, :func:`subject_benchmark`, scored with :data:`SUBJECT_METRICS`), then their
    comparison: returns ``comparison.md``, ``.csv``, ``.png`` (bar chart) and ``.mp4`` (side by side) in
    ``compare/comparison``."""
    from ..checks import lookup
    from ..demo import DEMO_METHODS, DEMO_METRICS
    from ..eval.benchmarks import load_benchmark
    from ..eval.compare import compare
    from ..eval.harness import EvalOptions, evaluate

    if not labels:
        raise ToolkitError("pick at least one method to compare")
    out = ws.root / "compare"
    if benchmark.startswith(SUBJECT_BENCHMARK):
        data = subject_benchmark(ws, benchmark[len(SUBJECT_BENCHMARK) :])
        metrics = metrics or SUBJECT_METRICS
    else:
        data = load_benchmark(benchmark, out / "benchmark" / benchmark, progress=False)
    runs = []
    for label in labels:
        method, settings = lookup(DEMO_METHODS, label, "method")
        if method == "diffusion":  # the workspace's base, fitted (a LoRA) on the benchmark's photos
            settings = {"base": ws.base, "controlnet": ws.controlnet, **settings}
        options = EvalOptions(metrics=tuple(metrics or DEMO_METRICS), method_config=settings, progress=False)
        runs.append(evaluate(method, data, out / "runs" / data.name / label, options).out)
    return compare(runs, out / "comparison")
