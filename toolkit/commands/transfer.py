"""``toolkit transfer``: render a trained baseline in a pose sequence, as frames, an MP4 and a contact sheet.

The output folder is laid out as ``toolkit generate``'s (``toolkit.diffusion.outputs``)::

    OUT/frames/0000.png ...   one frame per target pose (more with the k-NN's in-betweens)
    OUT/video.mp4             the frames at the pose file's frame rate
    OUT/contact_sheet.png     target skeletons over the frames made for them
    OUT/manifest.json         command, versions, method settings, timings; "complete" once finished

Every file is written atomically. A rerun with the same settings keeps the frames on disk: a method whose
frames depend only on their own pose (``frame_independent``, e.g. pix2pix) renders just the missing ones;
the others (k-NN's thresholding looks at the previous frame) render the sequence and write what is missing.

The source image (what ``transfer`` is told the subject looks like) is ``--source`` with ``--source-poses``
when given; otherwise the first training frame named in the checkpoint's ``training.json`` (written by
``training/baseline.py``); a method that does not use a source (``uses_source = False``: k-NN and pix2pix,
whose subject is in their weights) needs neither.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._args import add_canvas_arguments, canvas_of, positive_float, positive_int


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "transfer",
        help="render a trained baseline (k-NN, pix2pix ...) in a pose sequence",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--method", help="registered method name (default: the one the checkpoint holds)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        required=True,
        help="a saved method (config.json), a training checkpoint, or a training output folder (its final/ "
        "or latest checkpoint)",
    )
    parser.add_argument(
        "--poses", type=Path, required=True, help="target pose file (any format toolkit reads)"
    )
    add_canvas_arguments(parser)
    parser.add_argument("--source", type=Path, help="source image or folder of images (with --source-poses)")
    parser.add_argument("--source-poses", type=Path, help="pose file of the --source images, one pose each")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an inference setting of the method, e.g. --set inbetweens=1 (repeatable)",
    )
    parser.add_argument("--fps", type=positive_float, help="video frame rate (default: the pose file's)")
    parser.add_argument(
        "--sheet-frames", type=positive_int, default=8, help="frames on the contact sheet (default 8)"
    )
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder (created or resumed)")
    parser.set_defaults(run=_transfer)


def _transfer(args: argparse.Namespace) -> None:
    from ..nn.io import parse_setting

    result = transfer_to_folder(
        args.checkpoint,
        args.poses,
        args.out,
        method=args.method,
        source=args.source,
        source_poses=args.source_poses,
        settings=dict(parse_setting(text) for text in args.settings),
        fps=args.fps,
        sheet_frames=args.sheet_frames,
        canvas=canvas_of(args),
    )
    print(
        f"wrote {result['frames']} frames ({result['written']} new, {result['skipped']} kept), "
        f"{args.out / 'video.mp4'}, {args.out / 'contact_sheet.png'}"
    )


def transfer_to_folder(
    checkpoint: Path,
    poses_path: Path,
    out: Path,
    *,
    method: str | None = None,
    source: Path | None = None,
    source_poses: Path | None = None,
    settings: dict[str, Any] | None = None,
    fps: float | None = None,
    sheet_frames: int = 8,
    command: Sequence[str] | None = None,
    canvas: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Render the method saved in ``checkpoint`` in the poses of ``poses_path`` into ``out`` (see the
    module docstring); returns the manifest's ``outputs``. ``canvas`` is the target poses' canvas when
    their file states none; source poses that state none are on their images' canvas.

    Raises:
        ToolkitError / ValueError: an unusable checkpoint, pose file or source, unknown settings, or an
            output folder holding a run with other settings.
    """
    from ..data.media import (
        FrameFiles,
        check_video_path,
        contact_sheet,
        sheet_indices,
        write_image,
        write_video,
    )
    from ..diffusion.generate import FRAME_PATTERN
    from ..diffusion.outputs import FRAMES_DIR, SHEET
    from ..diffusion.outputs import contact_sheet as skeletons_over_frames
    from ..errors import ToolkitError
    from ..manifest import MANIFEST_NAME, write_manifest
    from ..methods import get_method
    from ..nn.io import saved_method_name
    from ..pose.io import load_poses
    from ..pose.skeleton_images import SkeletonImages

    started = time.perf_counter()
    folder, training = resolve_checkpoint(checkpoint)
    saved = saved_method_name(folder)
    if method is not None and saved != method:
        raise ToolkitError(f"{folder} holds the method {saved!r}, not {method!r}")
    method_cls = get_method(saved)  # type: ignore[arg-type]
    model = method_cls.load(folder)
    if settings:
        _override(model, settings)
    targets = load_poses(poses_path, canvas=canvas).to_layout("body_18")
    if not len(targets):
        raise ToolkitError(f"{poses_path}: no poses to render")
    source_images, source_pose_seq, source_note = _source(method_cls, source, source_poses, training, targets)
    video_path = check_video_path(out / "video.mp4")

    key = {
        "method": saved,
        "checkpoint": str(folder.resolve()),
        "poses": str(Path(poses_path).resolve()),
        "source": source_note,
        "settings": _settings(model),
    }
    previous = _check_run_folder(out, key, MANIFEST_NAME)
    write_manifest(out, command=command, options=key, outputs={"complete": False})

    # 1. Frames: keep what is on disk, render the rest.
    frames_dir = out / FRAMES_DIR
    render_start = time.perf_counter()
    count, written = _render_missing(model, (source_images, source_pose_seq), targets, frames_dir, previous)
    render_seconds = time.perf_counter() - render_start
    frames = FrameFiles([frames_dir / FRAME_PATTERN.format(t) for t in range(count)])  # read as needed

    # 2. Video and contact sheet.
    # In-between frames raise the frame rate so that the video keeps the poses' timing.
    rate = fps or targets.fps * max(len(frames) - 1, 1) / max(len(targets) - 1, 1)
    write_video(video_path, frames, rate)
    if len(frames) == len(targets):
        sheet = skeletons_over_frames(SkeletonImages(targets), frames, sheet_frames)
    else:  # in-between frames have no pose of their own
        picks = sheet_indices(len(frames), sheet_frames)
        sheet = contact_sheet([frames[t] for t in picks], columns=len(picks), labels=[str(t) for t in picks])
    write_image(out / SHEET, sheet)

    outputs = {
        "complete": True,
        "frames": len(frames),
        "written": written,
        "skipped": count - written,
        "frames_dir": FRAMES_DIR,
        "video": video_path.name,
        "contact_sheet": SHEET,
        "fps": rate,
    }
    models = {"checkpoint": key["checkpoint"], "training": None if training is None else str(training)}
    timings = {"render": render_seconds, "total": time.perf_counter() - started}
    write_manifest(out, command=command, options=key, models=models, timings=timings, outputs=outputs)
    return outputs


def _settings(model: Any) -> dict[str, Any]:
    """A loaded method's settings (its config dataclass), or {} for a method without one."""
    config = getattr(model, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}


def _override(model: Any, settings: dict[str, Any]) -> None:
    """Replace inference settings of a loaded method's config dataclass (checked like the constructor's)."""
    from ..errors import ToolkitError
    from ..nn.io import config_from_dict

    config = getattr(model, "config", None)
    if not dataclasses.is_dataclass(config):
        raise ToolkitError(f"{model.name} has no settings to override")
    model.config = config_from_dict(type(config), {**dataclasses.asdict(config), **settings})


def _render_missing(
    model: Any, source: tuple[np.ndarray, Any], targets: Any, frames_dir: Path, previous: dict[str, Any]
) -> tuple[int, int]:
    """Write the frames not yet in ``frames_dir``; returns (frames in the run, frames written now).

    A ``frame_independent`` method renders only the missing poses. Another renders the whole sequence
    (its frame count, with in-betweens, is known only then, or from a finished run) and writes what is
    missing.
    """
    from ..data.media import write_image
    from ..diffusion.generate import FRAME_PATTERN

    def missing(count: int) -> list[int]:
        return [t for t in range(count) if not (frames_dir / FRAME_PATTERN.format(t)).is_file()]

    if getattr(model, "frame_independent", False):
        todo = missing(len(targets))
        frames = model.transfer(*source, targets[todo]) if todo else []
        for t, frame in zip(todo, frames, strict=True):
            write_image(frames_dir / FRAME_PATTERN.format(t), frame)
        return len(targets), len(todo)
    count = previous.get("frames") if previous.get("complete") else None
    if count is not None and not missing(count):
        return count, 0
    produced = model.transfer(*source, targets)
    todo = missing(len(produced))
    for t in todo:
        write_image(frames_dir / FRAME_PATTERN.format(t), produced[t])
    return len(produced), len(todo)


def resolve_checkpoint(path: Path) -> tuple[Path, Path | None]:
    """The folder to load a method from, and the training output folder it came from (or None).

    ``path`` may be a saved method (holding ``config.json``: ``final/``, ``checkpoints/checkpoint-*`` or any
    ``save()`` folder) or a training output folder (holding ``training.json``), whose ``final/`` is used,
    or its latest checkpoint while training is unfinished.
    """
    from ..errors import ToolkitError
    from ..nn.io import CONFIG_NAME
    from ..train.checkpoint import CHECKPOINTS_DIR, checkpoint_steps
    from .train_baseline import FINAL_DIR, TRAINING_RECORD

    path = Path(path)
    training = next(
        (p for p in (path, path.parent, path.parent.parent) if (p / TRAINING_RECORD).is_file()), None
    )
    if (path / CONFIG_NAME).is_file():
        return path, training
    if (path / TRAINING_RECORD).is_file():
        checkpoints = checkpoint_steps(path / CHECKPOINTS_DIR)
        found = path / FINAL_DIR if (path / FINAL_DIR / CONFIG_NAME).is_file() else None
        found = found or (checkpoints[-1][1] if checkpoints else None)
        if found is None:
            raise ToolkitError(f"{path}: training has written no checkpoint yet")
        return found, path
    raise ToolkitError(f"{path}: not a saved method (no config.json) nor a training output folder")


def _source(
    method_cls: type,
    source: Path | None,
    source_poses: Path | None,
    training: Path | None,
    targets: Any,
) -> tuple[np.ndarray, Any, str | None]:
    """The source images and poses to pass to ``transfer``, and a note of where they came from."""
    from ..data.datasets import load_subject_frames
    from ..data.media import iter_media
    from ..errors import ToolkitError
    from ..pose.io import load_poses

    if source is not None:
        if source_poses is None:
            raise ToolkitError("--source needs --source-poses: the pose of each source image")
        images = np.stack(list(iter_media(source)))
        poses = load_poses(source_poses, fallback_canvas=(images.shape[2], images.shape[1])).to_layout(
            "body_18"
        )
        if len(poses) != len(images) or poses.canvas != (images.shape[2], images.shape[1]):
            raise ToolkitError(
                f"{source_poses}: {len(poses)} poses on a {poses.width}x{poses.height} canvas for "
                f"{len(images)} source images of {images.shape[2]}x{images.shape[1]}"
            )
        return images, poses, str(source)
    if training is not None:
        from .train_baseline import TRAINING_RECORD

        record = json.loads((training / TRAINING_RECORD).read_text())
        frames = load_subject_frames(record["data"], record["subject"], clips=record.get("clips"))
        return frames.images[:1], frames.poses[:1], f"{record['data']} ({record['subject']}), frame 0"
    if not getattr(method_cls, "uses_source", True):
        blank = np.zeros((0, targets.height, targets.width, 3), np.uint8)
        return blank, targets[:0], None
    raise ToolkitError(
        "give --source IMAGE --source-poses FILE: this method renders the subject of a source image"
    )


def _check_run_folder(out: Path, key: dict[str, Any], manifest_name: str) -> dict[str, Any]:
    """The ``outputs`` of the previous run in ``out`` (empty if none); refuses a run with other settings."""
    from ..errors import ToolkitError

    manifest = out / manifest_name
    if out.exists() and not out.is_dir():
        raise ToolkitError(f"{out} is a file; give a folder for the frames")
    if manifest.is_file():
        try:
            record = json.loads(manifest.read_text())
            previous = record["options"]
        except (OSError, json.JSONDecodeError, KeyError) as err:
            raise ToolkitError(
                f"{manifest}: unreadable ({err}); remove the folder or choose another"
            ) from None
        if previous != json.loads(json.dumps(key)):
            changed = sorted(k for k in key if previous.get(k) != key[k])
            raise ToolkitError(
                f"{out} holds frames made with other settings ({', '.join(changed)} differ); use the same "
                "settings to resume, or choose another folder"
            )
        return record.get("outputs", {})
    if out.exists() and any(out.iterdir()):
        raise ToolkitError(f"{out} is not empty and holds no transfer run; choose an empty or new folder")
    return {}
