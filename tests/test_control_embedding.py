"""The ControlNet's conditioning embedding is computed once per pipeline call, on one half of a guided
batch, and the frames are exactly those of diffusers' once-per-step computation."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

from toolkit.diffusion import control_embedding
from toolkit.diffusion.control_embedding import controlnets_of
from toolkit.diffusion.pipeline import PoseTransferPipeline
from toolkit.pose.motions import make_motion

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SETTINGS = dict(size=(64, 64), num_inference_steps=3, guidance_scale=5.0, batch=3, progress=False)


@contextmanager
def _diffusers_as_is(pipe):
    yield


def test_once_per_call_on_half_the_batch_and_exactly_the_same_frames(monkeypatch):
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    poses = make_motion("walk", frames=7, width=64, height=64)  # 2 calls of anchor + 3, new skeletons each
    embedding = controlnets_of(pipe.pipe)[0].controlnet_cond_embedding
    batches = []
    hook = embedding.conv_in.register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
    try:
        ours = pipe(poses, **SETTINGS)
        assert batches == [4] * 2  # once per call (not per step), on one half of the doubled batch
        batches.clear()
        monkeypatch.setattr(control_embedding, "control_embedding_once", _diffusers_as_is)
        plain = pipe(poses, **SETTINGS)
        assert batches == [8] * 3 * 2  # diffusers: every step, the doubled batch
    finally:
        hook.remove()
    assert np.array_equal(ours, plain)
