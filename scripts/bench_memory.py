"""Peak memory of long jobs: does it grow with the length of the pose file?

Each job runs in its own subprocess, at a short and at a ten times longer length, and the peak resident
set size of each (``wait4``'s ``ru_maxrss``) is reported with the ratio long / short. Memory that is bounded
gives a ratio near 1; a job that held every frame would grow by the frames' size:

- ``generate``: ``toolkit generate --base tiny`` at 64 px, 1 step (skeletons drawn and frames written call
  by call, the videos streamed from the frames on disk);
- ``poses render``: skeleton video of a procedural walk at 128 px.

    python scripts/bench_memory.py [--frames 1000] [--factor 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOOLKIT = [sys.executable, "-c", "import sys; from toolkit.cli import main; sys.exit(main())"]


def peak_rss_mb(argv: list[str]) -> tuple[float, float]:
    """Run ``argv``; return its peak resident set size in MB and its wall time in seconds."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(argv[3:6])} failed: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def jobs(folder: Path, frames: int) -> dict[str, list[str]]:
    """The command of each job at ``frames`` frames (their pose files are made first)."""
    walk64, walk128 = folder / f"walk64_{frames}.json", folder / f"walk128_{frames}.json"
    for path, size in ((walk64, 64), (walk128, 128)):
        argv = ["poses", "make", "walk", "--frames", str(frames), "--size", str(size), "-o", str(path)]
        subprocess.run([*TOOLKIT, *argv], check=True, stdout=subprocess.DEVNULL)
    return {
        "generate": [
            *TOOLKIT, "generate", "--base", "tiny", "--poses", str(walk64), "--size", "64", "--steps", "1",
            "--batch", "16", "--no-progress", "-o", str(folder / f"gen_{frames}"),
        ],
        "poses render": [*TOOLKIT, "poses", "render", str(walk128), "-o", str(folder / f"walk_{frames}.mp4")],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="the short length (default 1000)")
    parser.add_argument("--factor", type=int, default=10, help="the long length is this many times longer")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        short, long = jobs(Path(tmp), args.frames), jobs(Path(tmp), args.frames * args.factor)
        for name in short:
            (short_mb, short_s), (long_mb, long_s) = peak_rss_mb(short[name]), peak_rss_mb(long[name])
            frames = [args.frames, args.frames * args.factor]
            rows.append(
                {"job": name, "frames": frames, "peak_mb": [short_mb, long_mb], "seconds": [short_s, long_s],
                 "ratio": long_mb / short_mb}
            )  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| job | frames | peak RSS (MB) | seconds | ratio |\n|---|---|---|---|---|")
    for row in rows:
        (f0, f1), (m0, m1), (s0, s1) = row["frames"], row["peak_mb"], row["seconds"]
        ratio = row["ratio"]
        print(f"| {row['job']} | {f0:,} / {f1:,} | {m0:.0f} / {m1:.0f} | {s0:.0f} / {s1:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
