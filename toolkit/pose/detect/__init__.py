"""Pose detectors: images and videos in, BODY_18 poses out.

Two back-ends sit behind one interface (:class:`Detector`) and one registry (``DETECTORS``):

- ``mediapipe`` (default): MediaPipe Pose, bundled with ``mediapipe==0.10.21``; one person, tracked
  between video frames; about 15 ms per frame on a CPU.
- ``openpose``: controlnet-aux's OpenPose body model with the user's ``body_pose_model.pth``; every
  person in the frame; the skeletons ControlNet was trained on.

:func:`detect_poses` runs a detector over frames and follows one person with :class:`PersonTracker`.
mediapipe, torch and controlnet-aux are imported only when a detector is created.
"""

from .api import DETECTORS, create_detector, detect_poses
from .base import Detector, DetectorError
from .mediapipe_pose import MediaPipeDetector, body18_from_blazepose
from .openpose import OpenPoseDetector, people_from_openpose
from .tracking import PersonTracker, box_iou, pose_box

__all__ = [
    "DETECTORS",
    "Detector",
    "DetectorError",
    "MediaPipeDetector",
    "OpenPoseDetector",
    "PersonTracker",
    "body18_from_blazepose",
    "box_iou",
    "create_detector",
    "detect_poses",
    "people_from_openpose",
    "pose_box",
]
