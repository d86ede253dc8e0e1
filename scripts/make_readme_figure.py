"""Draw docs/images/mannequins.png: mannequin subjects beside the OpenPose skeletons they were rendered from.

python scripts/make_readme_figure.py [--out docs/images/mannequins.png] [--size 192]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from toolkit.data.mannequin import MannequinSpec, render_mannequin
from toolkit.data.media import grid, write_image
from toolkit.pose.encode import render_openpose
from toolkit.pose.motions import make_motion

# (subject seed, motion, frame of a 48-frame loop): a varied cast in telling moments of each motion.
CAST = (
    (0, "walk", 6),
    (1, "run", 18),
    (2, "wave", 12),
    (3, "jumping_jack", 6),
    (5, "squat", 24),
    (7, "dance", 24),
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("docs/images/mannequins.png"), help="output PNG")
    parser.add_argument("--size", type=int, default=192, help="tile side in pixels (default 192)")
    args = parser.parse_args()

    skeletons, people, labels = [], [], []
    for seed, motion, t in CAST:
        spec = MannequinSpec.sample(seed)
        poses = make_motion(motion, width=args.size, height=args.size, proportions=spec.proportions)[t]
        skeletons.append(render_openpose(poses.keypoints[0], poses.width, poses.height))
        people.append(
            render_mannequin(spec, poses.keypoints[0], poses.depth[0], poses.width, poses.height).image
        )
        labels.append(f"{motion.replace('_', ' ')}, subject {seed}")
    figure = grid([skeletons, people], row_labels=["pose", "render"], column_labels=labels)
    write_image(args.out, figure)
    print(f"wrote {args.out} ({figure.shape[1]}x{figure.shape[0]})")


if __name__ == "__main__":
    main()
