"""Print the figures behind the k-NN matching tests (``tests/test_match.py``, which defines the setup).

1. Phase accuracy of nearest-pose retrieval across subjects: query = a tall adult's walk, bank = a small
   child's walk (a child's build, another walking style, drawn smaller elsewhere on the canvas), both 24
   frames per cycle; a pick is right when it lands within one frame of the query's phase. One tripod films
   both, so it looks down more steeply on the child; a control row films both at the same pitch, and a
   third gives the child a toddler's build.
2. Frame thresholding on noisy poses: the adult's walk at a quarter of the bank's speed with Gaussian
   jitter on every keypoint, retrieved in angle space; index switches and phase accuracy for a range of
   lambda, next to the noise-free switch count.

    python scripts/knn_phase_study.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_match import (  # noqa: E402
    ADULT_PITCH,
    CHILD,
    CHILD_PITCH,
    FRAMES_PER_CYCLE,
    JITTER_PIXELS,
    LAMBDA,
    adult_walk,
    child_walk,
    jittered,
    phase_accuracy,
)

from toolkit.pose import BodyProportions  # noqa: E402
from toolkit.pose.match import FEATURES, count_switches, nearest, pose_distances, threshold_matches  # noqa: E402

SEEDS = range(1, 5)  # walking styles: the adult gets seed s, the child 100 + s
LAMBDAS = (0.0, 0.001, 0.002, LAMBDA, 0.005, 0.01)
SLOWDOWN = 4
# A child of one to two: legs about 39% of standing height (the test's child: 47%, an adult: 53%).
TODDLER = BodyProportions(
    head=0.23, neck=0.04, torso=0.30, thigh=0.17, shin=0.16, ankle_height=0.04,
    upper_arm=0.14, forearm=0.10, shoulder_width=0.22, hip_width=0.16,
).normalized()  # fmt: skip


def phase_table() -> None:
    print(f"1. Phase accuracy, adult query vs child bank, {FRAMES_PER_CYCLE} frames per cycle, +/- 1 frame")
    print(f"   {'setup':<34} {'feature':<9} " + " ".join(f"seed {s:<2}" for s in SEEDS) + "   mean")
    for label, child_pitch, build in (
        (f"tripod: {ADULT_PITCH:g} vs {CHILD_PITCH:g} deg pitch", CHILD_PITCH, CHILD),
        (f"control: both at {ADULT_PITCH:g} deg pitch", ADULT_PITCH, CHILD),
        ("toddler's build, tripod", CHILD_PITCH, TODDLER),
    ):
        for name in FEATURES:
            scores = []
            for seed in SEEDS:
                bank = child_walk(seed=100 + seed, pitch=child_pitch, proportions=build)
                query = adult_walk(seed=seed)
                indices, _ = nearest(query, bank, feature=name)
                scores.append(phase_accuracy(indices[:, 0].numpy(), FRAMES_PER_CYCLE, FRAMES_PER_CYCLE))
            cells = " ".join(f"{score:7.3f}" for score in scores)
            print(f"   {label:<34} {name:<9} {cells}  {np.mean(scores):.3f}")
            label = ""


def threshold_table() -> None:
    query_rate = SLOWDOWN * FRAMES_PER_CYCLE
    clean, bank = adult_walk(query_rate), child_walk()
    noisy = jittered(clean)
    print(
        f"\n2. Frame thresholding, angle space: {len(clean)} query frames ({query_rate} per cycle, "
        f"jitter {JITTER_PIXELS:g} px), bank of {len(bank)} ({FRAMES_PER_CYCLE} per cycle)"
    )
    print(f"   {'lambda':>8} {'switches':>9} {'accuracy':>9}")
    distances = pose_distances(noisy, bank)
    for lam in LAMBDAS:
        picks = threshold_matches(distances, lam)
        accuracy = phase_accuracy(picks, query_rate, FRAMES_PER_CYCLE)
        print(f"   {lam:8g} {count_switches(picks):9d} {accuracy:9.3f}")
    reference = threshold_matches(pose_distances(clean, bank), 0.0)
    print(
        f"   without jitter, lambda 0: {count_switches(reference)} switches, "
        f"accuracy {phase_accuracy(reference, query_rate, FRAMES_PER_CYCLE):.3f}"
    )


if __name__ == "__main__":
    phase_table()
    threshold_table()
