"""What an evaluation run shows: ``report.md`` with its plots, the per-frame CSV, the side-by-side video,
and the tables and charts that compare runs.

Plots are drawn on matplotlib ``Figure`` objects with the Agg canvas, never through ``pyplot``, so
nothing depends on (or changes) a global backend and it runs on machines without a display.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic import atomic_path, write_text_atomic
from ..data.media import grid, write_video

REPORT_NAME = "report.md"
PER_FRAME_PLOT = "per_frame.png"
BY_CLIP_PLOT = "by_clip.png"

# Curves of this many clips or fewer get a legend; past it the lines are left unlabelled.
_LEGEND_CLIPS = 12
# Clips listed in the report's per-clip table at most.
_TABLE_CLIPS = 60


def direction(higher_is_better: bool | None) -> str:
    """``"higher"``, ``"lower"`` or ``"closer to 0"``, for tables."""
    return {True: "higher", False: "lower", None: "closer to 0"}[higher_is_better]


def arrow(higher_is_better: bool | None) -> str:
    return {True: "↑", False: "↓", None: "→0"}[higher_is_better]


def format_value(value: float | None) -> str:
    """Four significant figures, or ``n/a``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.4g}"


# ---- plots ---------------------------------------------------------------------------------------------


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110)
    return path


def _panels(
    count: int, *, columns: int = 3, width: float = 4.0, height: float = 3.0
) -> tuple[Figure, list[Any]]:
    """A figure of ``count`` panels, ``columns`` to a row, each ``width`` x ``height`` inches."""
    columns = min(count, columns)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(width * columns, height * rows))
    axes = [figure.add_subplot(rows, columns, i + 1) for i in range(count)]
    return figure, axes


def plot_per_frame(
    per_frame: Mapping[str, Mapping[str, np.ndarray]],
    higher_is_better: Mapping[str, bool | None],
    path: Path,
    title: str,
) -> Path:
    """One panel per metric, one line per clip: value against frame index.

    Args:
        per_frame: ``{metric: {clip id: (T,) values}}`` (NaN where undefined).
        higher_is_better: Direction of each metric, shown in its panel title.
        path: Output PNG.
        title: Figure title.
    """
    figure, axes = _panels(len(per_frame))
    for ax, (metric, clips) in zip(axes, per_frame.items(), strict=True):
        for clip, values in clips.items():
            ax.plot(np.arange(len(values)), values, linewidth=1.2, label=clip)
        ax.set_title(f"{metric} {arrow(higher_is_better[metric])}")
        ax.set_xlabel("frame")
        ax.grid(alpha=0.3)
    if axes and 0 < len(next(iter(per_frame.values()))) <= _LEGEND_CLIPS:
        axes[0].legend(fontsize=7, loc="best")
    figure.suptitle(title)
    return _save(figure, path)


def plot_bars(
    values: Mapping[str, Mapping[str, float | None]],
    higher_is_better: Mapping[str, bool | None],
    path: Path,
    title: str,
) -> Path:
    """One panel per metric, one bar per label (a clip, or a method when comparing runs), value on top.

    Args:
        values: ``{label: {metric: value}}``; missing or non-finite values are drawn as empty slots.
        higher_is_better: Direction of each metric to plot (its keys choose the panels and their order).
        path: Output PNG.
        title: Figure title.
    """
    labels = list(values)
    metrics = list(higher_is_better)
    many = len(labels) > 3
    figure, axes = _panels(
        len(metrics), columns=3 if many else 5, width=max(2.6, 0.55 * len(labels) + 1.4), height=2.8
    )
    colours = [f"C{i % 10}" for i in range(len(labels))]
    for ax, metric in zip(axes, metrics, strict=True):
        heights = [values[label].get(metric) for label in labels]
        finite = [h if h is not None and math.isfinite(h) else 0.0 for h in heights]
        bars = ax.bar(range(len(labels)), finite, color=colours)
        for bar, h, y in zip(bars, heights, finite, strict=True):
            # Values sit above positive bars and below negative ones.
            ax.annotate(
                format_value(h), (bar.get_x() + bar.get_width() / 2, y), ha="center",
                va="bottom" if y >= 0 else "top", fontsize=7, xytext=(0, 2 if y >= 0 else -2),
                textcoords="offset points",
            )  # fmt: skip
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set_title(f"{metric} {arrow(higher_is_better[metric])}", fontsize=10)
        ax.set_xticks(
            range(len(labels)),
            labels,
            rotation=30 if many else 0,
            ha="right" if many else "center",
            fontsize=8,
        )
        # Room for the value labels on whichever sides of 0 the bars reach (above 0 even with none there).
        low, high = min(0.0, *finite), max(0.0, *finite)
        pad = 0.18 * ((high - low) or 1.0)
        ax.set_ylim(low - pad if low < 0 else 0.0, high + pad)
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle(f"{title}  (↑ higher is better, ↓ lower, →0 closer to 0)", fontsize=11)
    return _save(figure, path)


# ---- tables --------------------------------------------------------------------------------------------


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def comparison_table(runs: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """One row per run, one column per metric (union, in first-seen order) plus seconds per frame.

    Args:
        runs: ``{label: metrics.json contents}``.

    Returns:
        ``(markdown, csv)`` text; unavailable values are ``n/a`` in markdown and empty in CSV.
    """
    metrics: dict[str, bool | None] = {}
    for summary in runs.values():
        for name, entry in summary["metrics"].items():
            metrics.setdefault(name, entry["higher_is_better"])
    header = ["method", *(f"{name} {arrow(up)}" for name, up in metrics.items()), "s/frame"]
    rows, csv_rows = [], []
    for label, summary in runs.items():
        values = [summary["metrics"].get(name, {}).get("value") for name in metrics]
        per_frame = summary["cost"].get("seconds_per_frame")
        rows.append([label, *(format_value(v) for v in values), format_value(per_frame)])
        csv_rows.append([label, *("" if v is None else repr(v) for v in values), per_frame or ""])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", *metrics, "seconds_per_frame"])
    writer.writerows(csv_rows)
    return _markdown(header, rows), buffer.getvalue()


def _scores_table(summary: Mapping[str, Any]) -> str:
    rows = []
    for name, entry in summary["metrics"].items():
        if entry["available"]:
            rows.append(
                [name, format_value(entry["value"]), direction(entry["higher_is_better"]), entry["kind"]]
            )
    return _markdown(["metric", "value", "better", "kind"], rows)


def _cost_table(cost: Mapping[str, Any]) -> str:
    def mebibytes(key: str) -> str:
        return "n/a" if cost.get(key) is None else f"{cost[key]:.0f} MiB"

    row = [
        format_value(cost["seconds_per_frame"]),
        f"{cost['fit_seconds']:.1f}",
        f"{cost['scoring_seconds']:.1f}",
        mebibytes("peak_rss_mib"),
        mebibytes("peak_vram_mib"),
        f"{cost['frames_generated_now']} / {cost['frames']}",
    ]
    header = ["s/frame", "fit s", "scoring s", "peak RSS", "peak VRAM", "frames rendered now / total"]
    return _markdown(header, [row])


def write_report(
    out: Path, summary: Mapping[str, Any], per_frame: Mapping[str, Mapping[str, np.ndarray]]
) -> list[str]:
    """Write ``report.md`` and its plots into the run folder ``out``; returns the file names written.

    Args:
        out: The run folder.
        summary: What ``metrics.json`` holds.
        per_frame: ``{metric: {clip id: (T,) values}}`` of the frame and sequence metrics that ran.
    """
    method = summary["method"]
    benchmark = summary["benchmark"]["name"]
    directions = {name: summary["metrics"][name]["higher_is_better"] for name in per_frame}
    clips = summary["clips"]
    frames = sum(clip["frames"] for clip in clips)
    written = [REPORT_NAME]
    sections = [
        f"# {method} on {benchmark}",
        f"{len(clips)} clips, {frames} frames. Checkpoint: {summary['checkpoint'] or 'none (fitted)'}. "
        f"Device: {summary['device']}. Created {summary['created']}.",
        "## Scores",
        _scores_table(summary),
    ]
    unavailable = [(n, e["reason"]) for n, e in summary["metrics"].items() if not e["available"]]
    if unavailable:
        sections.append("Not computed:\n\n" + "\n".join(f"- **{n}**: {reason}" for n, reason in unavailable))
    sections += ["## Cost", _cost_table(summary["cost"])]
    if per_frame:
        plot_per_frame(per_frame, directions, out / PER_FRAME_PLOT, f"{method} on {benchmark}: per frame")
        by_clip = {
            clip["id"]: {name: clip["metrics"].get(name) for name in per_frame}
            for clip in clips[:_TABLE_CLIPS]
        }
        plot_bars(by_clip, directions, out / BY_CLIP_PLOT, f"{method} on {benchmark}: mean per clip")
        written += [PER_FRAME_PLOT, BY_CLIP_PLOT]
        rows = [[clip_id, *(format_value(v) for v in values.values())] for clip_id, values in by_clip.items()]
        sections += [
            "## Per frame",
            f"![per-frame curves]({PER_FRAME_PLOT})",
            "## Per clip",
            f"![mean per clip]({BY_CLIP_PLOT})",
            _markdown(["clip", *(f"{n} {arrow(directions[n])}" for n in per_frame)], rows),
        ]
    files = {
        "metrics.json": "every metric with its settings and availability, cost, versions",
        "per_frame.csv": "one row per frame",
        "side_by_side.mp4": "source | ground truth | generated, clip after clip",
        "frames/": "the generated frames",
    }
    listed = [f"- `{name}`: {what}" for name, what in files.items() if (out / name).exists()]
    sections += ["## Files", "\n".join(listed)]
    write_text_atomic(out / REPORT_NAME, "\n\n".join(sections) + "\n")
    return written


# ---- per-frame table and videos ------------------------------------------------------------------------


def per_frame_csv(clips: Sequence[tuple[str, int]], per_frame: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """The per-frame table as CSV text: ``clip, frame`` and one column per metric.

    Args:
        clips: ``(clip id, frame count)`` in order; one row per frame.
        per_frame: ``{metric: {clip id: (T,) values}}``; NaN (e.g. frame 0 of a sequence metric) is written
            as an empty cell.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["clip", "frame", *per_frame])
    for clip, frames in clips:
        for t in range(frames):
            values = [float(values[clip][t]) for values in per_frame.values()]
            writer.writerow([clip, t, *("" if not math.isfinite(v) else f"{v:.6g}" for v in values)])
    return buffer.getvalue()


def read_per_frame_csv(text: str) -> dict[str, dict[str, np.ndarray]]:
    """The inverse of :func:`per_frame_csv`: ``{metric: {clip id: (T,) values}}``, empty cells as NaN.

    Raises:
        ValueError: when the text has no ``clip, frame`` header or a row does not parse.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:2] != ["clip", "frame"]:
        raise ValueError("not a per-frame table: the header must start with clip, frame")
    metrics = rows[0][2:]
    columns: dict[str, dict[str, list[float]]] = {metric: {} for metric in metrics}
    for row in rows[1:]:
        if len(row) != len(rows[0]):
            raise ValueError(f"per-frame row {row[:2]} has {len(row)} cells, the header {len(rows[0])}")
        for metric, cell in zip(metrics, row[2:], strict=True):
            columns[metric].setdefault(row[0], []).append(float(cell) if cell else math.nan)
    return {m: {clip: np.array(v) for clip, v in clips.items()} for m, clips in columns.items()}


def write_side_by_side(
    path: Path,
    clips: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    method: str,
    fps: float,
    max_frames: int = 1200,
) -> Path:
    """A video of ``source | ground truth | METHOD``, frame by frame, clip after clip, each clip's id on
    its left.

    Args:
        path: Output ``.mp4`` (or ``.gif``).
        clips: ``(clip id, source (H, W, 3), truth (T, H, W, 3), generated (T, H, W, 3))``, all uint8.
        method: Label of the generated column.
        fps: Frame rate.
        max_frames: Clips are added while the total stays within this (at least one clip).
    """
    frames: list[np.ndarray] = []
    for clip, source, truth, generated in clips:
        if frames and len(frames) + len(truth) > max_frames:
            break
        if source.shape != truth.shape[1:]:
            source = np.full_like(truth[0], 255)  # a source on another canvas cannot share the row
        frames += [
            grid([[source, true, made]], row_labels=[clip], column_labels=["source", "ground truth", method])
            for true, made in zip(truth, generated, strict=True)
        ]
    return write_video(path, pad_to_common_size(frames), fps)


def pad_to_common_size(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Pad ``(H_i, W_i, 3)`` images with white at the bottom and right to the largest size, so frames whose
    labels differ in width can share one video."""
    height = max(f.shape[0] for f in frames)
    width = max(f.shape[1] for f in frames)
    return [
        np.pad(f, ((0, height - f.shape[0]), (0, width - f.shape[1]), (0, 0)), constant_values=255)
        for f in frames
    ]
