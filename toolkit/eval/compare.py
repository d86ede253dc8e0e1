"""Merge several harness runs of one benchmark into one table, one grid video and one bar chart.

Writes into the output folder:

- ``comparison.md`` and ``comparison.csv``: one row per run, one column per metric, plus seconds per frame;
- ``comparison.mp4``: every clip the runs share, one labelled column per method, with the clip's id on
  the left (at most ``video_frames`` frames);
- ``comparison.png``: one bar chart panel per metric, one bar per method.

Runs are labelled by their method; two runs of the same method are told apart by their folder names.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic
from ..data.media import grid, write_video
from ..errors import ToolkitError
from .harness import read_generated, read_run
from .report import comparison_table, pad_to_common_size, plot_bars


def run_labels(runs: list[Path], summaries: list[dict[str, Any]]) -> list[str]:
    """The method name of each run, or ``method (folder)`` where two runs share a method."""
    counts = Counter(summary["method"] for summary in summaries)
    return [
        summary["method"] if counts[summary["method"]] == 1 else f"{summary['method']} ({run.name})"
        for run, summary in zip(runs, summaries, strict=True)
    ]


def shared_clips(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The clip entries of the first run whose ids every run has, in the first run's order."""
    common = set.intersection(*({clip["id"] for clip in s["clips"]} for s in summaries))
    return [clip for clip in summaries[0]["clips"] if clip["id"] in common]


def compare(runs: list[Path], out: Path, *, fps: float | None = None, video_frames: int = 1200) -> list[Path]:
    """Write the comparison of ``runs`` into ``out``; returns the files written."""
    summaries = [read_run(run) for run in runs]
    benchmarks = {(s["benchmark"]["name"], repr(s["benchmark"]["settings"])) for s in summaries}
    if len(benchmarks) != 1:
        names = ", ".join(f"{run}: {s['benchmark']['name']}" for run, s in zip(runs, summaries, strict=True))
        raise ToolkitError(
            f"runs were made on different benchmarks or settings ({names}); compare like with like"
        )
    labels = run_labels(runs, summaries)
    by_label = dict(zip(labels, summaries, strict=True))

    markdown, table_csv = comparison_table(by_label)
    benchmark = summaries[0]["benchmark"]["name"]
    write_text_atomic(out / "comparison.md", f"# Comparison on {benchmark}\n\n{markdown}\n")
    write_text_atomic(out / "comparison.csv", table_csv)

    directions = {}
    for summary in summaries:
        for name, entry in summary["metrics"].items():
            if entry["available"]:
                directions.setdefault(name, entry["higher_is_better"])
    values = {
        label: {n: s["metrics"].get(n, {}).get("value") for n in directions} for label, s in by_label.items()
    }
    plot_bars(values, directions, out / "comparison.png", f"{' vs '.join(labels)} on {benchmark}")

    clips = shared_clips(summaries)
    if not clips:
        raise ToolkitError("the runs share no clip; they cannot be shown side by side")
    frames = []
    for clip in clips:
        if frames and len(frames) + clip["frames"] > video_frames:
            break
        generated = [read_generated(run, clip) for run in runs]
        frames += [
            grid([[g[t] for g in generated]], row_labels=[clip["id"]], column_labels=labels)
            for t in range(clip["frames"])
        ]
    write_video(out / "comparison.mp4", pad_to_common_size(frames), fps or summaries[0]["benchmark"]["fps"])
    return [out / name for name in ("comparison.md", "comparison.csv", "comparison.png", "comparison.mp4")]
