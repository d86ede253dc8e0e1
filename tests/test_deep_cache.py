"""``--cache-interval``: the deep UNet blocks and the ControlNet run on every K-th step only; the shallow
path runs every step; the hooks leave the pipeline as they found it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.cli import main
from toolkit.diffusion.deep_cache import CacheClock, deep_blocks, deep_cache
from toolkit.diffusion.pipeline import PoseTransferPipeline
from toolkit.pose.motions import make_motion

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SETTINGS = dict(size=(64, 64), num_inference_steps=6, guidance_scale=5.0, batch=3, progress=False)


def test_the_clock_runs_every_kth_step_in_full_and_restarts_with_each_loop():
    clock = CacheClock(3)
    loop = [999, 833, 666, 500, 333, 166, 1]
    # The ControlNet and the UNet of one step share its timestep and batch: one tick per step.
    full = [clock.step(torch.tensor(t), 8) and clock.step(torch.tensor(t), 8) for t in loop]
    assert full == [True, False, False, True, False, False, True]
    assert clock.step(999, 8)  # a timestep above the last: the next pipeline call, from step 0
    assert not clock.step(833, 8)
    assert clock.step(666, 4)  # guidance switched off: another batch, nothing cached for it


def test_deep_blocks_run_every_third_step_and_the_shallow_path_every_step():
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    poses = make_motion("walk", frames=3, width=64, height=64)
    unet = pipe.pipe.unet
    counts = {"unet": 0, "controlnet": 0, "deep": 0, "last up": 0}

    def count(name):
        return lambda module, args, kwargs: counts.__setitem__(name, counts[name] + 1)

    hooks = [
        unet.register_forward_pre_hook(count("unet"), with_kwargs=True),
        pipe.pipe.controlnet.controlnet_cond_embedding.register_forward_pre_hook(
            count("controlnet"), with_kwargs=True
        ),
        # Counted inside the blocks: a block whose output is replayed is still called, but runs nothing.
        deep_blocks(unet)[0].resnets[0].register_forward_pre_hook(count("deep"), with_kwargs=True),
        unet.up_blocks[-1].resnets[0].register_forward_pre_hook(count("last up"), with_kwargs=True),
    ]
    try:
        off = pipe(poses, **SETTINGS)
        assert counts == {"unet": 6, "controlnet": 6, "deep": 6, "last up": 6}  # one call of 4 slots
        counts.update(dict.fromkeys(counts, 0))
        cached = pipe(poses, cache_interval=3, **SETTINGS)
        assert counts == {"unet": 6, "controlnet": 2, "deep": 2, "last up": 6}  # steps 0 and 3 in full
        counts.update(dict.fromkeys(counts, 0))
        again = pipe(poses, **SETTINGS)  # the hooks are gone
        assert counts["deep"] == 6
    finally:
        for hook in hooks:
            hook.remove()
    assert np.array_equal(again, off)
    assert cached.shape == off.shape and not np.array_equal(cached, off)
    assert np.abs(cached.astype(int) - off.astype(int)).mean() < 20  # an approximation, not noise
    assert np.array_equal(pipe(poses, cache_interval=1, **SETTINGS), off)  # 1 is off


def test_with_guidance_stop_the_unguided_steps_start_their_own_cache():
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    poses = make_motion("walk", frames=3, width=64, height=64)
    batches = []
    hook = (
        deep_blocks(pipe.pipe.unet)[0]
        .resnets[0]
        .register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
    )
    try:
        pipe(poses, cache_interval=4, guidance_stop=0.5, **SETTINGS)
    finally:
        hook.remove()
    assert batches == [8, 4]  # step 0 (guided) and step 3 (the first unguided one) in full


def test_bad_intervals_and_combinations_are_one_line_errors(tmp_path):
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    poses = make_motion("walk", frames=3, width=64, height=64)
    with pytest.raises(ValueError, match="cache_interval >= 1"):
        pipe(poses, cache_interval=0, **SETTINGS)
    with pytest.raises(ValueError, match="does not combine with references"):
        pipe(poses, cache_interval=2, references=[np.zeros((64, 64, 3), np.uint8)], **SETTINGS)
    with pytest.raises(ValueError, match="cache interval must be 1"), deep_cache(pipe.pipe, 0):
        pass
    with pytest.raises(SystemExit):
        main(["generate", "--poses", "x.json", "--base", "tiny", "--cache-interval", "0"])


def test_the_interval_is_part_of_the_resume_fingerprint(tmp_path):
    poses = tmp_path / "walk.json"
    assert main(["poses", "make", "walk", "--frames", "3", "--size", "64", "-o", str(poses)]) == 0
    common = ["generate", "--poses", str(poses), "--base", "tiny", "--size", "64", "--steps", "3"]
    out = ["-o", str(tmp_path / "out"), "--no-progress"]
    assert main([*common, *out, "--cache-interval", "2"]) == 0
    manifest = (tmp_path / "out" / "manifest.json").read_text()
    assert '"cache_interval": 2' in manifest
    assert main([*common, *out]) == 2  # other settings: refused instead of mixing frames
