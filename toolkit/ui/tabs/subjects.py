"""The Subjects tab: train a subject from photos (live progress, loss, validation grid), list, inspect
and remove subjects, import a LoRA file."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from .. import workspace as actions
from ..common import follow, guarded
from ..uploads import check_photos
from . import Refresh, Shared

HEADERS = ["subject", "token and class", "base", "LoRA"]


def build(shared: Shared) -> Refresh:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events; returns how to refresh it."""
    ws, jobs = shared.workspace, shared.jobs
    with gr.Row():
        with gr.Column():
            gr.Markdown(
                "### Train a subject\nUpload 3 to 20 photos of one person; DreamBooth-LoRA learns them."
            )
            photos = gr.File(
                label="Photos (3 to 20)", file_count="multiple", file_types=["image"], elem_id="train-photos"
            )
            name = gr.Textbox(label="Subject name", value="alice", elem_id="train-name")
            with gr.Row():
                class_noun = gr.Textbox(label="Class", value="person")
                steps = gr.Number(
                    label="Training steps", value=200, minimum=1, precision=0, elem_id="train-steps"
                )
            with gr.Row():
                train = gr.Button("Train", variant="primary", elem_id="train-button")
                cancel = gr.Button("Cancel", elem_id="train-cancel")
            status = gr.Markdown(elem_id="train-status")
            grid = gr.Image(label="Validation grid", interactive=False, elem_id="train-grid")
        with gr.Column():
            gr.Markdown("### Subjects")
            table = gr.Dataframe(headers=HEADERS, interactive=False, elem_id="subjects-table")
            chosen = gr.Dropdown(label="Subject", choices=[], elem_id="subjects-choice")
            with gr.Row():
                show = gr.Button("Show", elem_id="subjects-show")
                confirm = gr.Checkbox(label="I want to delete this subject and its LoRA")
                remove = gr.Button("Remove", variant="stop")
            record = gr.Code(
                label="subject.toml", language=None, interactive=False, elem_id="subjects-record"
            )
            gallery = gr.Gallery(label="Training photos", columns=5, height=160)
            with gr.Accordion("Import a LoRA file", open=False):
                lora = gr.File(label="LoRA (.safetensors)", file_types=[".safetensors"])
                with gr.Row():
                    import_name = gr.Textbox(label="Subject name")
                    token = gr.Textbox(label="Token", value="sks")
                import_button = gr.Button("Import")
            listing_status = gr.Markdown()

    def listing(select: str | None = None) -> dict[Any, Any]:
        names = ws.registry.names()
        return {
            table: actions.subject_table(ws) or [[""] * len(HEADERS)],
            chosen: gr.Dropdown(choices=names, value=select if select in names else None),
        }

    @guarded(status)
    def run_training(files: list[str] | None, subject: str, noun: str, count: float) -> Any:
        images = check_photos(files)
        folder = ws.registry.folder(subject)  # checks the name
        yield {status: f"training {subject!r} on {len(images)} photos with {ws.base} ..."}
        job = partial(actions.train_subject, ws, subject, images, steps=int(count), class_noun=noun)

        def shown_grid() -> dict[Any, Any]:
            latest = actions.latest_grid(folder)
            return {grid: str(latest)} if latest else {}

        result = yield from follow(jobs.run(job), status, shown_grid)
        loss = f", final loss {result.losses[-1]:.4f}" if result.losses else ""
        yield {
            status: f"trained {subject!r}: {result.steps} steps{loss}; LoRA in {result.lora}",
            **shown_grid(),
            **listing(subject),
        }

    @guarded(listing_status)
    def show_subject(subject: str | None) -> dict[Any, Any]:
        if not subject:
            return {listing_status: "pick a subject first"}
        text, photo_paths = actions.subject_details(ws, subject)
        return {record: text, gallery: [str(p) for p in photo_paths], listing_status: ""}

    @guarded(listing_status)
    def remove_subject(subject: str | None, sure: bool) -> dict[Any, Any]:
        if not subject:
            return {listing_status: "pick a subject first"}
        if not sure:
            return {listing_status: "tick the box to confirm: this deletes the subject's folder"}
        folder = actions.remove_subject(ws, subject)
        return {listing_status: f"removed {folder}", record: "", gallery: [], **listing()}

    @guarded(listing_status)
    def import_lora(file: str | None, subject: str, word: str) -> dict[Any, Any]:
        if not file:
            return {listing_status: "upload a LoRA .safetensors file first"}
        folder = actions.import_subject(ws, subject, file, token=word, class_noun="person")
        return {listing_status: f"imported as {subject!r} into {folder}", **listing(subject)}

    listed = [table, chosen]
    train.click(
        run_training,
        [photos, name, class_noun, steps],
        [status, grid, *listed],
        concurrency_id="jobs",
        concurrency_limit=1,
    )
    cancel.click(lambda: {status: shared.cancel()}, None, [status], concurrency_limit=None)
    show.click(show_subject, [chosen], [record, gallery, listing_status], concurrency_limit=None)
    remove.click(
        remove_subject, [chosen, confirm], [listing_status, record, gallery, *listed], concurrency_limit=None
    )
    import_button.click(
        import_lora, [lora, import_name, token], [listing_status, *listed], concurrency_id="jobs"
    )
    return Refresh(listing, listed)
