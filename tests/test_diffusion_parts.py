"""The parts of diffusion generation: tokenizer, TOML writer, noise, call planning, cross-frame attention,
prompts, samplers, speed options and model specs."""

import math

import numpy as np
import pytest
import torch

from toolkit.diffusion.consistency import CONSISTENCY
from toolkit.diffusion.cross_frame import SharedAttnProcessor, shared_attention
from toolkit.diffusion.generate import GenerationSettings, plan_calls
from toolkit.diffusion.loading import ModelLoadError, resolve_source
from toolkit.diffusion.noise import FrameNoise
from toolkit.diffusion.prompts import PromptError, fill, list_templates, load_template, resolve_prompts
from toolkit.diffusion.schedulers import SCHEDULERS, set_scheduler
from toolkit.diffusion.speed import SpeedError, SpeedOptions, pick_dtype
from toolkit.diffusion.subjects import Subject
from toolkit.diffusion.tokenizer import clip_tokenizer
from toolkit.diffusion.tomlfile import TomlFileError, dumps_toml, read_toml


def test_tokenizer_matches_sd15_ids():
    tokenizer = clip_tokenizer()
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 77
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    padded = tokenizer("sks person", padding="max_length", max_length=77).input_ids
    assert len(padded) == 77 and padded[0] == 49406 and padded[-1] == 49407


def test_toml_writer_round_trips_through_tomllib(tmp_path):
    document = {
        "text": 'quote " backslash \\ newline \n unicode é',
        "count": 3,
        "small": 1e-05,
        "ratio": 0.1,
        "flag": False,
        "names": ["a", "b"],
        "empty": [],
        "skipped": None,
        "odd key": 1,
        "table": {"height": 0.13, "big": float("inf"), "negative": -2},
    }
    text = dumps_toml(document, header="two\nlines")
    assert text.startswith("# two\n# lines\n")
    expected = {k: v for k, v in document.items() if v is not None}
    (tmp_path / "doc.toml").write_text(text, encoding="utf-8")
    assert read_toml(tmp_path / "doc.toml") == expected
    with pytest.raises(TomlFileError, match="no such file"):
        read_toml(tmp_path / "missing.toml")
    nested = {"t": {"inner": {"x": 1, "gone": None}}}
    (tmp_path / "nested.toml").write_text(dumps_toml(nested), encoding="utf-8")
    assert read_toml(tmp_path / "nested.toml") == {"t": {"inner": {"x": 1}}}
    with pytest.raises(TypeError):
        dumps_toml({"x": object()})


def test_frame_noise_depends_only_on_seed_and_index():
    shape = (4, 8, 8)
    for mode in ("shared", "independent", "blend"):
        first = FrameNoise(7, shape, mode).latents([0, 1, 2, 3, 4, 5])
        alone = FrameNoise(7, shape, mode).latents([4])
        mixed = FrameNoise(7, shape, mode).latents([5, 0, 4])
        assert torch.equal(first[4], alone[0]) and torch.equal(first[4], mixed[2])
        assert not torch.equal(first[0], FrameNoise(8, shape, mode).latents([0])[0])
    shared = FrameNoise(0, shape, "shared").latents([0, 9])
    independent = FrameNoise(0, shape, "independent").latents([0, 9])
    assert torch.equal(shared[0], shared[1]) and not torch.equal(independent[0], independent[1])


def test_blend_noise_is_a_unit_variance_chain():
    chain = FrameNoise(0, (4, 64, 64), "blend", blend=0.9).latents(list(range(6)))
    assert chain.std().item() == pytest.approx(1.0, abs=0.03)
    correlation = torch.corrcoef(torch.stack([chain[2].flatten(), chain[3].flatten()]))[0, 1].item()
    assert correlation == pytest.approx(0.9, abs=0.02)
    far = torch.corrcoef(torch.stack([chain[0].flatten(), chain[5].flatten()]))[0, 1].item()
    assert far == pytest.approx(0.9**5, abs=0.03)


def test_step_generators_follow_the_noise_mode():
    def draw(mode, indices):
        return [torch.randn(3, generator=g) for g in FrameNoise(1, (4, 8, 8), mode).step_generators(indices)]

    shared = draw("shared", [0, 3])
    own = draw("independent", [0, 3])
    assert torch.equal(shared[0], shared[1]) and not torch.equal(own[0], own[1])
    assert torch.equal(draw("independent", [3])[0], own[1])


@pytest.mark.parametrize("bad", [{"seed": -1}, {"mode": "pink"}, {"blend": 1.0}])
def test_frame_noise_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        FrameNoise(**{"seed": 0, "shape": (4, 8, 8), **bad})


def test_plan_calls_has_fixed_size_and_writes_every_pending_frame_once():
    calls = plan_calls(6, [0, 1, 2, 3, 5], 2, anchor=0)
    assert [c.slots for c in calls] == [(0, 1, 2), (0, 3, 4), (0, 5, 5)]
    assert [c.writes for c in calls] == [(0, 1, 2), (1,), (1,)]
    # Frame 0 already done: it is still every call's anchor but never written.
    calls = plan_calls(5, [2, 3, 4], 2, anchor=0)
    assert [c.slots for c in calls] == [(0, 1, 2), (0, 3, 4)] and [c.writes for c in calls] == [(2,), (1, 2)]
    assert [c.slots for c in plan_calls(1, [0], 3, anchor=0)] == [(0, 0, 0, 0)]
    calls = plan_calls(7, [1, 4, 6], 2)
    assert [c.slots for c in calls] == [(0, 1), (4, 5), (6, 6)]
    assert [c.writes for c in calls] == [(1,), (0,), (0,)]
    assert plan_calls(4, [], 4, anchor=0) == [] and plan_calls(0, [], 2) == []
    for pending in ([0, 1, 2, 3, 4, 5, 6], [3, 5], [0]):
        for anchor in (None, 0):
            calls = plan_calls(7, pending, 3, anchor)
            written = sorted(c.slots[s] for c in calls for s in c.writes)
            assert written == pending and len({len(c.slots) for c in calls}) == 1


def test_plan_calls_cuts_the_sequence_the_same_way_whatever_is_pending():
    """A rerun after a kill computes each missing frame beside the same frames as the first run did."""
    for anchor in (None, 0):
        full = {c.slots[s]: c.slots for c in plan_calls(11, range(11), 3, anchor) for s in c.writes}
        for pending in ([4], [5, 6, 10], [0, 9]):
            for call in plan_calls(11, pending, 3, anchor):
                assert all(full[call.slots[s]] == call.slots for s in call.writes)


def _self_attention():
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8)
    attn.set_processor(AttnProcessor2_0())
    return attn


def test_cross_frame_attention_ties_each_frame_to_the_anchor_only():
    attn = _self_attention()
    tokens = torch.randn(6, 5, 16)  # two groups (guidance halves) of call size 3
    processor = SharedAttnProcessor("attn1", call_size=3, anchor=True)
    with torch.no_grad():
        out = processor(attn, tokens)
        plain = attn(tokens)
        changed_neighbour = tokens.clone()
        changed_neighbour[2] += 1.0
        changed_anchor = tokens.clone()
        changed_anchor[0] += 1.0
        out_neighbour = processor(attn, changed_neighbour)
        out_anchor = processor(attn, changed_anchor)
    assert out.shape == tokens.shape
    torch.testing.assert_close(out[[0, 3]], plain[[0, 3]], atol=1e-5, rtol=1e-5)  # the anchors are unchanged
    assert not torch.allclose(out[1], plain[1])  # the others also look at the anchor
    assert torch.equal(out_neighbour[1], out[1])  # ... and at nothing else
    assert not torch.allclose(out_anchor[1], out[1]) and torch.equal(out_anchor[4], out[4])
    with pytest.raises(ValueError, match="multiples of 4"):
        SharedAttnProcessor("attn1", 4, anchor=True)(attn, tokens)


def test_cross_frame_attention_is_installed_on_self_attention_only_and_removed():
    from toolkit.diffusion.tiny import tiny_unet

    unet = tiny_unet()
    before = dict(unet.attn_processors)
    with shared_attention(unet, 3, anchor=True):
        during = unet.attn_processors
        assert all(isinstance(p, SharedAttnProcessor) == (".attn1." in n) for n, p in during.items())
        assert any(".attn1." in n for n in during) and any(".attn2." in n for n in during)
    assert {n: type(p) for n, p in unet.attn_processors.items()} == {n: type(p) for n, p in before.items()}


def test_consistency_registry_and_settings_validation():
    assert {"none", "shared-noise", "latent-blend", "cross-frame"} <= set(CONSISTENCY)
    assert CONSISTENCY["cross-frame"].cross_frame and not CONSISTENCY["shared-noise"].cross_frame
    with pytest.raises(ValueError, match="unknown consistency"):
        GenerationSettings(consistency="magic")
    with pytest.raises(ValueError, match="steps"):
        GenerationSettings(steps=0)
    with pytest.raises(ValueError, match="controlnet_scale"):
        GenerationSettings(controlnet_scale=(math.nan,))


def test_prompt_templates_fill_subject_and_fallbacks():
    assert {"default", "walkcycle"} <= set(list_templates())
    walk = load_template("walkcycle")
    assert "{token} {class}" in walk.prompt and walk.negative
    subject = Subject("alice", token="zwx", class_noun="woman", template="walkcycle")
    prompts = resolve_prompts(subject=subject)
    assert (
        prompts.prompt.startswith("a sprite sheet walk cycle of zwx woman")
        and prompts.template == "walkcycle"
    )
    assert resolve_prompts().prompt.startswith("a photo of a person, full body")
    custom = resolve_prompts(subject=subject, prompt="{token} {class} dancing", negative="")
    assert (custom.prompt, custom.negative, custom.template) == ("zwx woman dancing", "", None)
    assert fill("a {{literal}}  {token}", "sks", "dog") == "a {literal} sks"
    with pytest.raises(PromptError, match="unknown placeholder"):
        resolve_prompts(prompt="a {tokn}", negative="")
    with pytest.raises(PromptError, match="known: .*default"):
        load_template("nope")


def test_prompts_dir_can_be_overridden(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text('prompt = "{token} {class} in space"\nnegative = "blur"\n')
    (tmp_path / "broken.toml").write_text('prompt = "x"\ncolour = "red"\n')
    monkeypatch.setenv("TOOLKIT_PROMPTS_DIR", str(tmp_path))
    assert list_templates() == ["broken", "mine"]
    assert resolve_prompts(template="mine").prompt == "a person in space"
    with pytest.raises(PromptError, match="unknown key"):
        load_template("broken")


def test_scheduler_registry_keeps_the_noise_schedule():
    from toolkit.diffusion.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline()
    betas = pipe.scheduler.betas.clone()
    for name, spec in SCHEDULERS.items():
        scheduler = set_scheduler(pipe, name)
        assert type(scheduler).__name__ == spec.class_name and pipe.scheduler is scheduler
        assert torch.equal(scheduler.betas, betas)
    with pytest.raises(ValueError, match="unipc"):
        set_scheduler(pipe, "euler-magic")


def test_speed_options_refuse_impossible_choices():
    cpu = torch.device("cpu")
    assert pick_dtype("auto", cpu) == torch.float32 and pick_dtype("bf16", cpu) == torch.bfloat16
    assert pick_dtype("auto", torch.device("cuda")) == torch.float16
    with pytest.raises(SpeedError, match="fp16"):
        pick_dtype("fp16", cpu)
    with pytest.raises(SpeedError, match="unknown dtype"):
        pick_dtype("fp8", cpu)
    with pytest.raises(SpeedError, match="needs a GPU"):
        SpeedOptions(device="cpu", cpu_offload=True).resolve()
    with pytest.raises(SpeedError, match="unknown device"):
        SpeedOptions(device="tpu9").resolve()
    if not torch.cuda.is_available():
        with pytest.raises(SpeedError, match="not available"):
            SpeedOptions(device="cuda").resolve()
    assert SpeedOptions().resolve()[0].type in ("cuda", "mps", "cpu")


def test_model_specs_are_classified_and_missing_paths_fail_early(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert resolve_source("tiny", "base", "--base").kind == "tiny"
    assert resolve_source(str(tmp_path / "model"), "base", "--base").kind == "folder"
    assert resolve_source(str(tmp_path / "model.safetensors"), "base", "--base").kind == "file"
    assert resolve_source("owner/name", "base", "--base").kind == "hub"
    for missing in ("./nope", str(tmp_path / "gone.safetensors"), "a/b/c"):
        with pytest.raises(ModelLoadError, match="no such file or folder"):
            resolve_source(missing, "base", "--base")
    with pytest.raises(ModelLoadError, match="expected a diffusers folder"):
        resolve_source(str(tmp_path / "notes.txt"), "base", "--base")


def test_uncached_hub_model_is_a_one_line_error_offline(monkeypatch):
    from toolkit.diffusion.loading import load_controlnet

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        load_controlnet("nobody-here/no-such-controlnet")
    message = str(info.value)
    assert "\n" not in message and "--controlnet PATH" in message and "no-such-controlnet" in message


def test_tiny_pipeline_is_deterministic_from_its_seed():
    from toolkit.diffusion.tiny import build_tiny_pipeline

    a, b, c = build_tiny_pipeline(0), build_tiny_pipeline(0), build_tiny_pipeline(1)
    weights = [dict(p.unet.state_dict()) for p in (a, b, c)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])
    zero_conv = a.controlnet.controlnet_down_blocks[0].weight
    assert zero_conv.abs().sum() > 0  # the ControlNet's outputs are not zero-initialised
    assert a.vae_scale_factor == 8 and np.prod(a.unet.config.block_out_channels) == 32 * 64


def test_reference_tokens_reach_their_group_and_fidelity_spares_the_unguided_half():
    from toolkit.diffusion.cross_frame import ReferenceBank

    attn = _self_attention()
    frames = torch.randn(4, 5, 16)  # two guidance groups of call size 2
    references = torch.randn(2, 5, 16)  # one reference image, as each group's text saw it
    bank = ReferenceBank(fidelity=0.0, groups=2, recording=True)
    processor = SharedAttnProcessor("layer", call_size=2, anchor=False, bank=bank)
    with torch.no_grad():
        recorded = processor(attn, references)
        bank.recording = False
        out = processor(attn, frames)
        bank.fidelity = 1.0
        spared = processor(attn, frames)
        bank.fidelity = 0.5
        half = processor(attn, frames)
        plain = attn(frames)
        by_hand = torch.cat(  # attention over the frame's own tokens and its group's reference
            [
                attn(frames[i : i + 1], torch.cat([frames[i : i + 1], references[i // 2 : i // 2 + 1]], 1))
                for i in range(4)
            ]
        )
    torch.testing.assert_close(recorded, attn(references), atol=1e-5, rtol=1e-5)  # recording attends as usual
    assert bank.tokens["layer"].shape == (2, 5, 16)
    torch.testing.assert_close(out, by_hand, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(spared[:2], plain[:2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(spared[2:], by_hand[2:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(half[:2], (plain[:2] + by_hand[:2]) / 2, atol=1e-5, rtol=1e-5)
    with pytest.raises(RuntimeError, match="no reference tokens"):
        SharedAttnProcessor("other", 2, anchor=False, bank=bank)(attn, frames)


def test_anchor_and_reference_compose():
    from toolkit.diffusion.cross_frame import ReferenceBank

    attn = _self_attention()
    frames = torch.randn(3, 5, 16)  # one group (no guidance) of call size 3
    bank = ReferenceBank(groups=1)
    bank.tokens["layer"] = torch.randn(1, 10, 16)  # two reference images
    with torch.no_grad():
        out = SharedAttnProcessor("layer", 3, anchor=True, bank=bank)(attn, frames)
        keys = torch.cat([frames[2:], frames[:1], bank.tokens["layer"]], 1)
        by_hand = attn(frames[2:], keys)
    torch.testing.assert_close(out[2:], by_hand, atol=1e-5, rtol=1e-5)
