"""The training core's checkpoints: atomic, pruned, restored exactly (optimizer, scheduler, RNG), one
entry per rank, one-line errors for damaged ones, and no pickle anywhere."""

from __future__ import annotations

import json

import pytest
import torch

import toolkit.train.checkpoint as ckpt
from toolkit.train.checkpoint import (
    CheckpointError,
    read_checkpoint,
    resolve_resume,
    rng_state,
    save_checkpoint,
)


def _model_and_optimizer():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.AdamW([weight], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 / (s + 1))
    return weight, optimizer, scheduler


def _save(root, step, weight, optimizer, scheduler, keep=None, ranks=1):
    return save_checkpoint(
        root, step, seed=7, tensors={"params/w": weight.detach().clone()},
        optimizers={"optimizer": optimizer}, schedulers={"scheduler": scheduler},
        rng=[rng_state()] * ranks, meta={"method": "toy"},
        write_files=lambda path: (path / "usable.txt").write_text("x"), keep=keep,
    )  # fmt: skip


def test_checkpoints_are_atomic_pruned_and_restored(tmp_path, monkeypatch):
    weight, optimizer, scheduler = _model_and_optimizer()
    for step in (1, 2, 3):
        weight.grad = torch.ones(3)
        optimizer.step()
        scheduler.step()
        _save(tmp_path, step, weight, optimizer, scheduler, keep=2)
    assert [s for s, _ in ckpt.checkpoint_steps(tmp_path)] == [2, 3]
    assert {p.name for p in (tmp_path / "checkpoint-3").iterdir()} == {
        "state.json",
        "tensors.safetensors",
        "usable.txt",
    }

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, 4, weight, optimizer, scheduler)
    monkeypatch.undo()
    assert resolve_resume("latest", tmp_path).path.name == "checkpoint-3"
    assert not list(tmp_path.glob(".checkpoint-*"))  # the half-built folder is gone

    torch.manual_seed(123)
    expected_draw = torch.rand(2)
    torch.manual_seed(123)
    _save(tmp_path, 5, weight, optimizer, scheduler)
    torch.rand(5)  # move the generator on; restoring must bring it back
    _, fresh, fresh_scheduler = _model_and_optimizer()
    checkpoint = read_checkpoint(tmp_path / "checkpoint-5")
    weights = checkpoint.restore(optimizers={"optimizer": fresh}, schedulers={"scheduler": fresh_scheduler})
    assert (checkpoint.step, checkpoint.seed, checkpoint.meta) == (5, 7, {"method": "toy"})
    assert list(weights) == ["params/w"] and torch.equal(weights["params/w"], weight.detach())
    assert fresh_scheduler.last_epoch == scheduler.last_epoch
    assert torch.equal(
        fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"]
    )
    assert torch.equal(torch.rand(2), expected_draw)  # the random state is the one saved


def test_a_checkpoint_of_two_ranks_resumes_only_on_two(tmp_path):
    weight, optimizer, scheduler = _model_and_optimizer()
    _save(tmp_path, 1, weight, optimizer, scheduler, ranks=2)
    checkpoint = read_checkpoint(tmp_path / "checkpoint-1")
    assert len(checkpoint.state["rng"]) == 2
    with pytest.raises(
        CheckpointError, match="saved by 2 process\\(es\\); resume with the same number, not 1"
    ):
        checkpoint.restore(optimizers={"optimizer": optimizer})
    checkpoint.restore(optimizers={"optimizer": optimizer}, rank=1, world=2)


def test_missing_and_damaged_checkpoints_are_one_line_errors(tmp_path):
    assert resolve_resume("latest", tmp_path) is None  # nothing yet: a fresh start
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        resolve_resume("checkpoint-9", tmp_path)
    weight, optimizer, scheduler = _model_and_optimizer()
    path = _save(tmp_path, 2, weight, optimizer, scheduler)
    (path / "tensors.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="tensors.safetensors: not readable") as caught:
        read_checkpoint(path).restore(optimizers={"optimizer": optimizer})
    assert "\n" not in str(caught.value)
    (path / "state.json").write_text("{")
    with pytest.raises(CheckpointError, match="not a readable training checkpoint"):
        read_checkpoint(path)


def test_nothing_in_a_checkpoint_is_a_pickle(tmp_path):
    weight, optimizer, scheduler = _model_and_optimizer()
    path = _save(tmp_path, 1, weight, optimizer, scheduler)
    json.loads((path / "state.json").read_text())  # plain JSON
    for file in path.iterdir():
        assert not file.read_bytes().startswith(b"\x80"), file  # a pickle's protocol opcode
