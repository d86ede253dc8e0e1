"""The Compare tab: methods of the evaluation harness on a benchmark or on a subject's own held-out
photos, with the comparison's table, bar chart and side-by-side video (``toolkit eval`` runs and
``scripts/compare.py``'s comparison)."""

from __future__ import annotations

import csv
from typing import Any

import gradio as gr

from ...demo import DEMO_METHODS
from .. import workspace as actions
from ..common import follow, guarded
from . import Refresh, Shared

DEFAULT_METHODS = ["ground-truth", "knn"]


def _short(cell: str) -> str:
    """A number to 4 significant digits; other cells as they are."""
    try:
        return f"{float(cell):.4g}"
    except ValueError:
        return cell


def build(shared: Shared) -> Refresh:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events; returns how to refresh it."""
    ws, jobs = shared.workspace, shared.jobs
    with gr.Row():
        with gr.Column(scale=1):
            methods = gr.CheckboxGroup(
                label="Methods (the demo's settings; GAN and diffusion methods train for minutes)",
                choices=list(DEMO_METHODS),
                value=DEFAULT_METHODS,
                elem_id="compare-methods",
            )
            benchmark = gr.Dropdown(
                label="Benchmark, or a subject's own photos (the last quarter held out)",
                choices=actions.benchmark_choices(ws),
                value="demo-walk",
                elem_id="compare-benchmark",
            )
            with gr.Row():
                run = gr.Button("Compare", variant="primary", elem_id="compare-button")
                cancel = gr.Button("Cancel")
            status = gr.Markdown(elem_id="compare-status")
        with gr.Column(scale=2):
            table = gr.Dataframe(label="Scores", interactive=False, elem_id="compare-table")
            chart = gr.Image(label="Bar chart", interactive=False)
            video = gr.Video(label="Side by side", interactive=False, height=360)

    @guarded(status)
    def compare(labels: list[str], name: str) -> Any:
        job = jobs.run(lambda: actions.compare_methods(ws, labels, name))
        markdown, table_csv, png, mp4 = yield from follow(job, status)
        with table_csv.open(newline="") as handle:
            rows = [[_short(cell) for cell in row] for row in csv.reader(handle)]
        yield {
            status: f"compared {', '.join(labels)} on {name}: {markdown.parent}",
            table: gr.Dataframe(value=rows[1:], headers=rows[0]),
            chart: str(png),
            video: str(mp4),
        }

    run.click(
        compare,
        [methods, benchmark],
        [status, table, chart, video],
        concurrency_id="jobs",
        concurrency_limit=1,
    )
    cancel.click(lambda: {status: shared.cancel()}, None, [status], concurrency_limit=None)
    return Refresh(lambda: {benchmark: gr.Dropdown(choices=actions.benchmark_choices(ws))}, [benchmark])
