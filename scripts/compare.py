"""Merge several `toolkit eval` runs of one benchmark into one table, one grid video and one bar chart.

    python scripts/compare.py runs/ground-truth runs/copy-source runs/knn -o comparison/

Writes into the output folder:

- ``comparison.md`` and ``comparison.csv``: one row per run, one column per metric, plus seconds per frame;
- ``comparison.mp4``: every clip the runs share, one labelled column per method, with the clip's id on
  the left (at most ``--video-frames`` frames);
- ``comparison.png``: one bar chart panel per metric, one bar per method.

Runs are labelled by their method; two runs of the same method are told apart by their folder names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.eval.compare import compare


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="+", help="run folders written by `toolkit eval`")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument("--fps", type=float, help="video frame rate (default: the benchmark's)")
    parser.add_argument(
        "--video-frames", type=int, default=1200, help="at most this many frames in the video (default 1200)"
    )
    args = parser.parse_args()
    try:
        written = compare(args.runs, args.out, fps=args.fps, video_frames=args.video_frames)
    except (ToolkitError, ValueError) as err:
        print(f"compare: error: {err}", file=sys.stderr)
        return 2
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
