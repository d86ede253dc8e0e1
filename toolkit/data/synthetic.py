"""Procedural "mannequin" subjects with exact ground truth: the toolkit's built-in data.

Every method is trained and evaluated on these figures. A subject is a :class:`MannequinSpec` sampled from a
seed (body proportions, limb thickness, head size, skin and hair colours, hair style, patterned shirt and
trousers, shoes); :func:`render_mannequin` draws it in one BODY_18 pose and :func:`render_sequence` in every
frame of a :class:`~toolkit.pose.PoseSequence`, returning the RGB image, the foreground mask and a part label
map (``PART_NAMES``). The implementation lives in :mod:`toolkit.data.mannequin`.

Example::

    from toolkit.data.synthetic import MannequinSpec, render_sequence
    from toolkit.pose.motions import make_motion

    spec = MannequinSpec.sample(seed=7)
    poses = make_motion("walk", frames=48, width=256, height=256, proportions=spec.proportions)
    frames = [frame.image for frame in render_sequence(spec, poses)]
"""

from .mannequin import *  # noqa: F403  (this module is the documented face of the package)
from .mannequin import __all__  # noqa: F401
