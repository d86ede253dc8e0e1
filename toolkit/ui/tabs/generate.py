"""The Generate tab: a subject (and/or reference photos) in the poses of a pose file; frames appear as
they finish, then the video, the GIF and the contact sheet. A rerun with the same settings resumes."""

from __future__ import annotations

import shlex
from functools import partial
from typing import Any

import gradio as gr

from ...diffusion.outputs import FRAMES_DIR
from .. import workspace as actions
from ..common import follow, guarded
from ..uploads import check_photos
from . import Refresh, Shared

BASE_ONLY = "(no subject: the base model)"


def build(shared: Shared) -> Refresh:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events; returns how to refresh it."""
    ws, jobs = shared.workspace, shared.jobs
    with gr.Row():
        with gr.Column(scale=1):
            subject = gr.Dropdown(
                label="Subject", choices=[BASE_ONLY], value=BASE_ONLY, elem_id="generate-subject"
            )
            poses = gr.Dropdown(label="Poses", choices=[], elem_id="generate-poses")
            with gr.Row():
                steps = gr.Number(label="Steps", value=20, minimum=1, precision=0, elem_id="generate-steps")
                seed = gr.Number(label="Seed", value=0, minimum=0, precision=0)
            with gr.Row():
                size = gr.Number(label="Size (0: the model's own)", value=0, minimum=0, step=8, precision=0)
                guidance = gr.Number(label="Guidance", value=5.0, minimum=0)
            references = gr.File(
                label="Reference photos (optional, no training needed)",
                file_count="multiple",
                file_types=["image"],
            )
            overwrite = gr.Checkbox(label="Start over: replace frames made with other settings (--overwrite)")
            with gr.Row():
                run = gr.Button("Generate", variant="primary", elem_id="generate-button")
                cancel = gr.Button("Cancel", elem_id="generate-cancel")
            status = gr.Markdown(elem_id="generate-status")
            command = gr.Code(label="The same from the command line", language="shell", interactive=False)
        with gr.Column(scale=2):
            frames = gr.Gallery(label="Frames", columns=8, height=220, elem_id="generate-frames")
            video = gr.Video(
                label="Video", interactive=False, autoplay=True, loop=True, elem_id="generate-video"
            )
            sheet = gr.Image(label="Contact sheet", interactive=False)
            files = gr.File(label="Downloads", file_count="multiple", interactive=False)

    def listing() -> dict[Any, Any]:
        names = ws.pose_names()
        return {
            subject: gr.Dropdown(choices=[BASE_ONLY, *ws.registry.names()]),
            poses: gr.Dropdown(choices=names, value=names[-1] if names else None),
        }

    @guarded(status)
    def generate(
        who: str,
        pose_name: str | None,
        count: float,
        noise: float,
        side: float,
        scale: float,
        photos: Any,
        start_over: bool,
    ) -> Any:
        if not pose_name:
            raise ValueError("pick a pose file (make one in the Poses tab)")
        refs = [str(p) for p in photos or []]
        if refs:
            check_photos(refs, count=(1, 20), what="reference attention")
        settings = {
            "steps": int(count),
            "seed": int(noise),
            "size": int(side) or None,
            "guidance": float(scale),
        }
        who = None if who == BASE_ONLY else who
        request = actions.generate_request(
            ws, who, pose_name, references=refs, overwrite=bool(start_over), **settings
        )
        if start_over:  # once: a later rerun of the same settings resumes again
            yield {overwrite: False}
        folder = request.out / FRAMES_DIR
        yield {status: "loading the models ...", command: shlex.join(actions.command_line(request))}

        def made() -> dict[Any, Any]:
            return {frames: sorted(str(p) for p in folder.glob("[0-9]*.png"))}

        result = yield from follow(jobs.run(partial(actions.run_request, request)), status, made)
        out = result.out
        yield {
            status: f"wrote {out}: {result.frames} frames ({result.generated} generated, {result.skipped} "
            f"already there) in {result.seconds:.1f} s",
            **made(),
            video: str(out / "video.mp4"),
            sheet: str(out / "contact_sheet.png"),
            files: [
                str(out / name) for name in ("video.mp4", "video.gif", "contact_sheet.png", "manifest.json")
            ],
        }

    inputs = [subject, poses, steps, seed, size, guidance, references, overwrite]
    outputs = [status, command, frames, video, sheet, files, overwrite]
    run.click(generate, inputs, outputs, concurrency_id="jobs", concurrency_limit=1)
    cancel.click(lambda: {status: shared.cancel()}, None, [status], concurrency_limit=None)
    return Refresh(listing, [subject, poses])
