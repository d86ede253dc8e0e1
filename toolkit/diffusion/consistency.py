"""Temporal consistency: how the frames of one clip are tied together.

Frames of a pose sequence are generated independently by the diffusion model, so without help the
subject's clothes, colours and background flicker from frame to frame. Two mechanisms tie them together:

- **Shared initial noise** (see :mod:`toolkit.diffusion.noise`): the frames start from the same latent
  noise, or from noise that drifts slowly from frame to frame (``blend``).
- **Cross-frame attention**, in the spirit of Text2Video-Zero's cross-frame attention and of
  "reference-only" ControlNet: every self-attention layer of the UNet lets each frame attend to the keys
  and values of an *anchor* frame (frame 0) as well as its own, so appearance is copied from the anchor
  while each frame's own structure and pose are kept. Every pipeline call carries the anchor in slot 0 of
  the batch (recomputed in each call, so a frame's result never depends on which other frames share its
  call).

``CONSISTENCY`` names the combinations; ``cross-frame`` is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks import lookup


@dataclass(frozen=True)
class Consistency:
    """One way of tying frames together.

    Args:
        description: One line for ``--help`` and the docs.
        noise: Noise mode from ``noise.NOISE_MODES``.
        blend: For ``noise="blend"``, each frame's latent correlation with the previous frame's.
        cross_frame: Whether self-attention also attends to the anchor frame (see
            :func:`~.cross_frame.shared_attention`).
    """

    description: str
    noise: str = "shared"
    blend: float = 0.95
    cross_frame: bool = False


CONSISTENCY: dict[str, Consistency] = {
    "none": Consistency(
        "independent noise per frame and no cross-frame link: the flicker baseline", "independent"
    ),
    "shared-noise": Consistency("every frame starts from the same latent noise"),
    "latent-blend": Consistency(
        "each frame's initial latents blend the previous frame's (correlation 0.95) with fresh noise: "
        "slow drift, less texture sticking than shared noise",
        "blend",
    ),
    "cross-frame": Consistency(
        "shared noise, and self-attention also attends to frame 0's keys and values",
        cross_frame=True,
    ),
    "cross-frame-blend": Consistency(
        "latent-blend noise plus cross-frame attention to frame 0", "blend", cross_frame=True
    ),
}
DEFAULT_CONSISTENCY = "cross-frame"


def consistency(name: str) -> Consistency:
    """The registry entry ``name``; raises ``ValueError`` listing the known names."""
    return lookup(CONSISTENCY, name, "consistency")
