"""Pose files: OpenPose JSON, the toolkit's sequence JSON, COCO keypoints and PATN's annotation CSV.

:func:`load_poses` recognises the format of a file or folder and returns a ``PoseSequence``;
:func:`save_poses` writes one in the format named or implied by the path. Every write is atomic, reading
never modifies its input, and a malformed file gets a one-line ``PoseFormatError`` naming the file, the
frame and the field. The format-specific readers and writers below take the same options and return more
(image names for PATN, image ids for COCO).
"""

from .coco import VISIBILITY_CONFIDENCE, read_coco_keypoints
from .common import PERSON_SCORES, Person, choose_person
from .formats import FORMATS, PoseFormat, detect_format, load_poses, save_poses
from .openpose import COORDINATES, detect_coordinates, read_openpose, write_openpose
from .openpose_editor import read_openpose_editor, write_openpose_editor
from .patn import read_patn_csv, write_patn_csv
from .sequence_json import FORMAT as SEQUENCE_FORMAT
from .sequence_json import read_sequence_json, write_sequence_json

__all__ = [
    "COORDINATES",
    "FORMATS",
    "PERSON_SCORES",
    "SEQUENCE_FORMAT",
    "VISIBILITY_CONFIDENCE",
    "Person",
    "PoseFormat",
    "choose_person",
    "detect_coordinates",
    "detect_format",
    "load_poses",
    "read_coco_keypoints",
    "read_openpose",
    "read_openpose_editor",
    "read_patn_csv",
    "read_sequence_json",
    "save_poses",
    "write_openpose",
    "write_openpose_editor",
    "write_patn_csv",
    "write_sequence_json",
]
