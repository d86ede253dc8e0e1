"""``--control-once``: under guidance the ControlNet runs on the conditional half only, both halves get
its residuals; without guidance nothing changes."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.diffusion.pipeline import PoseTransferPipeline
from toolkit.pose.motions import make_motion

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SETTINGS = dict(size=(64, 64), num_inference_steps=3, batch=3, progress=False)


def test_the_controlnet_sees_one_half_and_the_unet_both():
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    poses = make_motion("walk", frames=3, width=64, height=64)
    seen = {"controlnet": [], "unet": []}
    hooks = [
        pipe.pipe.controlnet.register_forward_hook(
            lambda module, args, kwargs, output: seen["controlnet"].append(
                (args[0].shape[0], output[1].shape[0])
            ),
            with_kwargs=True,
        ),
        pipe.pipe.unet.register_forward_pre_hook(lambda module, args: seen["unet"].append(args[0].shape[0])),
    ]
    try:
        off = pipe(poses, guidance_scale=5.0, **SETTINGS)
        seen = {"controlnet": [], "unet": []}
        once = pipe(poses, guidance_scale=5.0, control_once=True, **SETTINGS)
    finally:
        for hook in hooks:
            hook.remove()
    # The forward hook sees the call as the pipeline made it (8 = 2 x (anchor + 3)) and the residuals
    # for both halves; the ControlNet inside ran on 4 (the hook below checks that).
    assert seen["controlnet"] == [(8, 8)] * 3 and seen["unet"] == [8] * 3
    assert not np.array_equal(once, off)

    inner = []
    hook = pipe.pipe.controlnet.controlnet_cond_embedding.register_forward_pre_hook(
        lambda module, args: inner.append(args[0].shape[0])
    )
    try:
        pipe(poses, guidance_scale=5.0, control_once=True, **SETTINGS)
    finally:
        hook.remove()
    assert inner == [4] * 3


def test_without_guidance_it_changes_nothing():
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    poses = make_motion("walk", frames=3, width=64, height=64)
    off = pipe(poses, guidance_scale=1.0, **SETTINGS)
    assert np.array_equal(pipe(poses, guidance_scale=1.0, control_once=True, **SETTINGS), off)
    assert np.array_equal(pipe(poses, guidance_scale=1.0, **SETTINGS), off)  # and the hook is gone
