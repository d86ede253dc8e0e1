"""The toolkit's pose-transfer methods: k-NN retrieval, pix2pix, posewarp, PATN, Ren et al.'s two-stage
network, and the diffusion path as a method. Each module registers its methods in the toolkit's one
registry (:mod:`toolkit.methods`, which also holds the :class:`~toolkit.methods.Baseline` protocol); the
toolkit finds them through the entry points in ``pyproject.toml``, and importing this package registers
them all.
"""

from __future__ import annotations

from . import diffusion, knn, patn, pix2pix, posewarp, two_stage  # noqa: F401  (registers the methods)
