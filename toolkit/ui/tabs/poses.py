"""The Poses tab: poses from a video or photo (detected), from a pose file, or from a procedural motion;
then a skeleton preview, trimming, smoothing and retargeting to a subject."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ...pose.canvas import parse_canvas
from ...pose.motions import list_motions
from ...pose.ops import SMOOTHERS
from .. import workspace as actions
from ..common import follow, guarded
from ..uploads import check_media, check_pose_file
from . import Refresh, Shared


def _canvas(text: str) -> tuple[int, int] | None:
    """The canvas field: blank -> None, else what ``--canvas`` takes (``640x480``, ``512``, ``market``)."""
    return parse_canvas(text) if text.strip() else None


def build(shared: Shared) -> Refresh:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events; returns how to refresh it."""
    ws, jobs = shared.workspace, shared.jobs
    with gr.Row():
        with gr.Column():
            name = gr.Textbox(label="Name of the new pose file", value="walk", elem_id="poses-name")
            with gr.Tab("Procedural motion"):
                motion = gr.Dropdown(
                    label="Motion", choices=list_motions(), value="walk", elem_id="poses-motion"
                )
                with gr.Row():
                    frames = gr.Number(
                        label="Frames", value=48, minimum=1, precision=0, elem_id="poses-frames"
                    )
                    fps = gr.Number(label="fps", value=24, minimum=1)
                make = gr.Button("Make poses", variant="primary", elem_id="poses-make")
            with gr.Tab("From a video or photos"):
                media = gr.File(
                    label="A video, or photos", file_count="multiple", file_types=["video", "image"]
                )
                extract = gr.Button("Extract poses", variant="primary")
                cancel = gr.Button("Cancel")
            with gr.Tab("From a pose file"):
                pose_file = gr.File(
                    label="Pose file (toolkit, OpenPose, COCO or PATN)", file_types=[".json", ".csv"]
                )
                canvas = gr.Textbox(
                    label="Canvas WxH or market / deepfashion (only for files that state none)", value=""
                )
                load = gr.Button("Load poses", variant="primary")
            status = gr.Markdown(elem_id="poses-status")
            report = gr.Code(label="Detection report", language=None, interactive=False)
        with gr.Column():
            chosen = gr.Dropdown(label="Pose file", choices=[], elem_id="poses-choice")
            preview = gr.Video(
                label="Skeleton preview",
                interactive=False,
                autoplay=True,
                loop=True,
                height=320,
                elem_id="poses-preview",
            )
            with gr.Accordion("Trim, smooth, retarget", open=False):
                with gr.Row():
                    start = gr.Number(label="First frame", value=0, minimum=0, precision=0)
                    stop = gr.Number(
                        label="Stop before frame (0: to the end)", value=0, minimum=0, precision=0
                    )
                smooth = gr.Dropdown(label="Smoothing", choices=list(SMOOTHERS), value="none")
                retarget_to = gr.Dropdown(label="Retarget to subject's proportions", choices=[""], value="")
                edited = gr.Textbox(label="Name of the edited file", value="walk_edit")
                apply = gr.Button("Apply")

    def listing(select: str | None = None) -> dict[Any, Any]:
        names = ws.pose_names()
        return {
            chosen: gr.Dropdown(
                choices=names, value=select if select in names else (names[0] if names else None)
            ),
            retarget_to: gr.Dropdown(choices=["", *ws.registry.names()]),
        }

    def made(path: Any, extra: dict[Any, Any] | None = None) -> dict[Any, Any]:
        from ...pose.io import load_poses

        poses = load_poses(path)
        line = f"wrote {path}: {len(poses)} frames at {poses.fps:g} fps on {poses.width}x{poses.height}"
        return {
            status: line,
            preview: str(actions.preview_poses(ws, path.stem)),
            **listing(path.stem),
            **(extra or {}),
        }

    @guarded(status)
    def make_poses(pose_name: str, motion_name: str, count: float, rate: float) -> dict[Any, Any]:
        return made(actions.make_poses(ws, motion_name, pose_name, frames=int(count), fps=float(rate)))

    @guarded(status)
    def extract_poses(files: list[str] | None, pose_name: str) -> Any:
        source = check_media(files)
        ws.pose_path(pose_name)  # a bad name fails before the detector runs
        path, summary = yield from follow(
            jobs.run(lambda: actions.extract_poses(ws, source, pose_name)), status
        )
        yield made(path, {report: summary})

    @guarded(status)
    def load_poses(file: str | None, text: str, pose_name: str) -> dict[Any, Any]:
        return made(actions.import_poses(ws, check_pose_file(file), pose_name, canvas=_canvas(text)))

    @guarded(status)
    def show(pose_name: str | None) -> dict[Any, Any]:
        if not pose_name:
            return {}
        return {preview: str(actions.preview_poses(ws, pose_name))}

    @guarded(status)
    def edit(
        source: str | None, first: float, end: float, smoother: str, subject: str, new: str
    ) -> dict[Any, Any]:
        if not source:
            return {status: "pick a pose file first"}
        path = actions.edit_poses(
            ws,
            source,
            new,
            start=int(first),
            stop=int(end) or None,
            smooth=smoother,
            retarget_to=subject or None,
        )
        return made(path)

    outputs = [status, preview, chosen, retarget_to]
    make.click(make_poses, [name, motion, frames, fps], outputs, concurrency_id="jobs")
    extract.click(
        extract_poses, [media, name], [*outputs, report], concurrency_id="jobs", concurrency_limit=1
    )
    cancel.click(lambda: {status: shared.cancel()}, None, [status], concurrency_limit=None)
    load.click(load_poses, [pose_file, canvas, name], outputs, concurrency_id="jobs")
    chosen.input(show, [chosen], [status, preview], concurrency_limit=None)
    apply.click(edit, [chosen, start, stop, smooth, retarget_to, edited], outputs, concurrency_id="jobs")
    return Refresh(listing, [chosen, retarget_to])
