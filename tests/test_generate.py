"""``toolkit generate`` end to end on the tiny random-weight pipeline (64 px, 2 steps)."""

import argparse
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from toolkit.cli import build_parser, main
from toolkit.data.media import read_image, read_video
from toolkit.diffusion.dreambooth.lora import kohya_state_dict
from toolkit.diffusion.subjects import LORA_FILE, Subject, SubjectRegistry
from toolkit.diffusion.tiny import save_random_lora, save_tiny_pipeline, tiny_unet
from toolkit.pose.proportions import BodyProportions

FRAMES = 6
PROMPT = ["--prompt", "a photo of sks person", "--negative-prompt", "blurry"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    path = tmp_path_factory.mktemp("poses") / "walk.json"
    assert main(["poses", "make", "walk", "--frames", str(FRAMES), "--size", "64", "-o", str(path)]) == 0
    return path


def generate(walk, out, *extra, base=("--base", "tiny")):
    argv = ["generate", "--poses", str(walk), *base, "--size", "64", "--steps", "2", "--batch", "3"]
    return main([*argv, "--no-progress", "-o", str(out), *extra])


def frames(out):
    return np.stack([read_image(out / "frames" / f"{i:04d}.png") for i in range(FRAMES)])


def manifest(out):
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def first(walk, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "first"
    assert generate(walk, out, *PROMPT) == 0
    return out


@pytest.fixture(scope="module")
def subjects(tmp_path_factory):
    """A registry with subject 'alice' on the tiny base, whose LoRA is written by plain diffusers calls."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, get_peft_model_state_dict

    root = tmp_path_factory.mktemp("subjects")
    subject = Subject(
        "alice", base="tiny", controlnets=("tiny",), proportions=BodyProportions(head=0.16, thigh=0.3)
    )
    folder = SubjectRegistry(root).save(subject)
    unet = tiny_unet()
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    torch.manual_seed(0)
    for name, param in unet.named_parameters():
        if "lora_B" in name:  # a trained LoRA: PEFT starts B at zero
            torch.nn.init.normal_(param, std=0.3)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
    assert (folder / LORA_FILE).is_file()
    save_file(kohya_state_dict(unet, None, alpha=4), str(root / "alice_kohya.safetensors"))  # the same LoRA
    return root


def test_six_frame_walk_writes_frames_videos_sheet_and_manifest(first):
    images = frames(first)
    assert images.shape == (FRAMES, 64, 64, 3) and images.std() > 5
    assert not np.array_equal(images[0], images[3])  # different poses give different frames
    controls = np.stack([read_image(first / "controls" / f"{i:04d}.png") for i in range(FRAMES)])
    assert controls.shape == images.shape and controls.max() > 200
    video, fps = read_video(first / "video.mp4")
    assert len(video) == FRAMES and fps == pytest.approx(24) and video[0].shape == (64, 64, 3)
    with Image.open(first / "video.gif") as gif:
        assert gif.n_frames == FRAMES and gif.size == (64, 64)
    sheet = read_image(first / "contact_sheet.png")
    assert sheet.shape[0] > 2 * 64 and sheet.shape[1] > FRAMES * 64
    record = manifest(first)
    assert record["seed"] == 0 and "diffusers" in record["versions"] and record["command"]
    assert record["outputs"] | {"files": None} == {
        "complete": True, "frames": FRAMES, "generated": FRAMES, "skipped": 0,
        "generated_indices": list(range(FRAMES)), "calls": 2, "call_size": 4, "files": None,
    }  # fmt: skip
    assert record["models"]["base"] == "tiny" and record["models"]["scheduler"] == "UniPCMultistepScheduler"
    assert record["options"]["fingerprint"]["prompt"] == "a photo of sks person"
    assert record["options"]["speed"]["device"] == "cpu" and record["options"]["fingerprint"]["steps"] == 2
    assert {"load", "encode_prompt", "generate", "total"} <= set(record["timings_s"])


def test_same_seed_gives_identical_frames(walk, first, tmp_path):
    assert generate(walk, tmp_path / "again", *PROMPT) == 0
    np.testing.assert_array_equal(frames(tmp_path / "again"), frames(first))


def test_a_frames_only_run_writes_the_same_frames_and_no_videos(walk, first, tmp_path):
    from toolkit.diffusion.job import GenerateRequest, run_generate

    request = GenerateRequest(
        poses=walk, out=tmp_path / "quiet", base="tiny", prompt=PROMPT[1], negative_prompt=PROMPT[3],
        size=(64, 64), steps=2, batch=3, videos=False, progress=False,
    )  # fmt: skip
    run_generate(request)
    np.testing.assert_array_equal(frames(tmp_path / "quiet"), frames(first))
    assert not any((tmp_path / "quiet" / name).exists() for name in ("video.mp4", "video.gif"))
    assert manifest(tmp_path / "quiet")["outputs"]["files"] == ["frames/", "controls/"]


def test_cross_frame_attention_is_active_and_leaves_the_anchor(walk, first, tmp_path):
    assert generate(walk, tmp_path / "shared", *PROMPT, "--consistency", "shared-noise") == 0
    shared, cross = frames(tmp_path / "shared").astype(int), frames(first).astype(int)
    assert np.abs(shared[0] - cross[0]).max() <= 1  # the anchor attends to itself only
    assert all(not np.array_equal(shared[i], cross[i]) for i in range(1, FRAMES))


def test_rerun_regenerates_only_deleted_frames_identically(walk, first, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(first, out)
    for index in (0, 4):  # frame 0 is also the cross-frame anchor
        (out / "frames" / f"{index:04d}.png").unlink()
    assert generate(walk, out, *PROMPT) == 0
    outputs = manifest(out)["outputs"]
    assert (outputs["generated"], outputs["skipped"], outputs["generated_indices"]) == (2, 4, [0, 4])
    np.testing.assert_array_equal(frames(out), frames(first))
    assert generate(walk, out, *PROMPT) == 0  # nothing left to do: no model is even loaded
    assert manifest(out)["outputs"]["generated"] == 0 and "load" not in manifest(out)["timings_s"]


def test_changed_settings_refuse_to_resume_unless_overwritten(walk, first, tmp_path, capsys):
    out = tmp_path / "changed"
    shutil.copytree(first, out)
    capsys.readouterr()
    assert generate(walk, out, *PROMPT, "--steps", "3") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "changed: steps" in err and "--overwrite" in err
    assert generate(walk, out, *PROMPT, "--steps", "3", "--overwrite") == 0
    assert manifest(out)["outputs"]["generated"] == FRAMES


def test_subject_lora_changes_frames_and_scale_zero_is_the_base(walk, first, subjects, tmp_path):
    with_subject = ["--subject", "alice", "--subjects-dir", str(subjects), "--no-retarget", *PROMPT]
    assert generate(walk, tmp_path / "lora", *with_subject, base=()) == 0
    assert not np.array_equal(frames(tmp_path / "lora"), frames(first))
    record = manifest(tmp_path / "lora")
    assert record["models"]["loras"][0]["scale"] == 1.0 and len(record["models"]["loras"][0]["sha256"]) == 64
    assert generate(walk, tmp_path / "zero", *with_subject, "--lora-scale", "0", base=()) == 0
    np.testing.assert_array_equal(frames(tmp_path / "zero"), frames(first))


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 96 x 80 photo of a mannequin (not the canvas's shape, so it is fitted to it)."""
    from toolkit.data.mannequin import MannequinSpec, render_mannequin
    from toolkit.data.media import write_image
    from toolkit.pose.motions import make_motion

    pose = make_motion("walk", frames=1, width=96, height=80)
    path = tmp_path_factory.mktemp("photo") / "person.png"
    write_image(path, render_mannequin(MannequinSpec.sample(7), pose.keypoints[0], None, 96, 80).image)
    return path


@pytest.fixture(scope="module")
def referenced(walk, photo, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "referenced"
    assert generate(walk, out, *PROMPT, "--reference", str(photo)) == 0
    return out


def test_a_reference_photo_changes_every_frame_and_is_fingerprinted(first, referenced, photo):
    changed = np.abs(frames(referenced).astype(int) - frames(first).astype(int)).reshape(FRAMES, -1).max(1)
    assert (changed > 0).all()
    record = manifest(referenced)
    assert record["options"]["references"] == [str(photo)]
    assert record["options"]["fingerprint"]["references"]["fidelity"] == 0.5
    assert "references" not in manifest(first)["options"]["fingerprint"]  # runs without stay resumable


def test_reference_runs_resume_identically_and_follow_fidelity(walk, photo, referenced, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(referenced, out)
    for index in (0, 4):
        (out / "frames" / f"{index:04d}.png").unlink()
    assert generate(walk, out, *PROMPT, "--reference", str(photo)) == 0
    assert manifest(out)["outputs"]["generated_indices"] == [0, 4]
    np.testing.assert_array_equal(frames(out), frames(referenced))
    assert generate(walk, out, *PROMPT, "--reference", str(photo), "--reference-fidelity", "1") == 2
    assert (
        generate(walk, tmp_path / "f1", *PROMPT, "--reference", str(photo), "--reference-fidelity", "1") == 0
    )
    assert not np.array_equal(frames(tmp_path / "f1"), frames(referenced))


def test_init_frames_are_re_rendered_and_resume(walk, photo, tmp_path):
    sources = {"a": tmp_path / "a", "b": tmp_path / "b"}  # six frames each, as walk cycles to re-render
    for name, folder in sources.items():
        folder.mkdir()
        image = Image.open(photo).convert("RGB")
        for i in range(FRAMES):
            (image if name == "a" else image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)).save(
                folder / f"{i}.png"
            )
    runs = {}
    for name, strength in (("a", "0.5"), ("b", "0.5"), ("a", "1")):
        out = tmp_path / f"{name}{strength}"
        assert (
            generate(walk, out, *PROMPT, "--init", str(sources[name]), "--strength", strength, "--steps", "4")
            == 0
        )
        runs[name, strength] = frames(out).astype(int)
    assert all(np.abs(runs["a", "0.5"] - runs["b", "0.5"]).reshape(FRAMES, -1).max(1) > 0)  # the source shows
    assert not np.array_equal(runs["a", "0.5"], runs["a", "1"])
    record = manifest(tmp_path / "a0.5")
    assert record["options"]["init"] == str(sources["a"])
    assert record["options"]["fingerprint"]["init"]["strength"] == 0.5
    out = tmp_path / "a0.5"
    (out / "frames" / "0003.png").unlink()
    assert generate(walk, out, *PROMPT, "--init", str(sources["a"]), "--strength", "0.5", "--steps", "4") == 0
    assert manifest(out)["outputs"]["generated_indices"] == [3]
    np.testing.assert_array_equal(frames(out), runs["a", "0.5"])


@pytest.mark.parametrize(("strength", "first_step"), [(1.0, 0), (0.5, 2), (0.25, 3)])
def test_strength_picks_the_first_timestep_and_the_steps_run(strength, first_step):
    from toolkit.diffusion.img2img import img2img_pipeline, noised_init_latents
    from toolkit.diffusion.tiny import build_tiny_pipeline

    pipe = img2img_pipeline(build_tiny_pipeline())
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    start = noised_init_latents(pipe, images, noise, 4, strength)
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        clean = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
    pipe.scheduler.set_timesteps(4)
    t = int(pipe.scheduler.timesteps[first_step])
    a = pipe.scheduler.alphas_cumprod[t]
    torch.testing.assert_close(start, a.sqrt() * clean + (1 - a).sqrt() * noise, atol=1e-5, rtol=1e-4)
    calls = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: calls.append(int(args[1])))
    control = torch.zeros(2, 3, 64, 64)
    pipe(prompt=["a person"] * 2, image=(pixels + 1) / 2, control_image=control, strength=strength,
         latents=start, num_inference_steps=4, height=64, width=64, output_type="np")  # fmt: skip
    handle.remove()
    assert calls == [int(x) for x in pipe.scheduler.timesteps[first_step:]]


def test_no_reference_leaves_the_unet_untouched():
    from toolkit.diffusion.cross_frame import shared_attention

    unet = tiny_unet()
    before = dict(unet.attn_processors)
    with shared_attention(unet, 3, anchor=False, bank=None):
        assert all(unet.attn_processors[name] is processor for name, processor in before.items())


def test_lora_flag_takes_diffusers_and_kohya_files_like_the_subject_path(walk, subjects, tmp_path):
    with_subject = ["--subject", "alice", "--subjects-dir", str(subjects), "--no-retarget", *PROMPT]
    assert generate(walk, tmp_path / "subject", *with_subject, base=()) == 0
    diffusers_file = subjects / "alice" / LORA_FILE
    assert generate(walk, tmp_path / "diffusers", *PROMPT, "--lora", f"{diffusers_file}:1") == 0
    assert (
        generate(walk, tmp_path / "kohya", *PROMPT, "--lora", str(subjects / "alice_kohya.safetensors")) == 0
    )
    np.testing.assert_array_equal(frames(tmp_path / "diffusers"), frames(tmp_path / "subject"))
    kohya = frames(tmp_path / "kohya").astype(int)
    assert np.abs(kohya - frames(tmp_path / "subject").astype(int)).max() <= 1
    loras = manifest(tmp_path / "kohya")["models"]["loras"]
    assert [(lora["name"], lora["scale"]) for lora in loras] == [("lora0", 1.0)] and loras[0]["modules"] > 0
    assert generate(walk, tmp_path / "half", *PROMPT, "--lora", f"{diffusers_file}:0.5") == 0
    assert not np.array_equal(frames(tmp_path / "half"), frames(tmp_path / "subject"))


def test_a_lora_with_foreign_modules_loads_with_a_one_line_report(walk, subjects, tmp_path, caplog):
    weights = load_file(subjects / "alice" / LORA_FILE)
    foreign = {
        key.replace("down_blocks.1", "down_blocks.7"): value.clone()
        for key, value in weights.items()
        if "down_blocks.1" in key
    }
    save_file({**weights, **foreign}, str(tmp_path / "mixed.safetensors"))
    assert generate(walk, tmp_path / "out", *PROMPT, "--lora", str(tmp_path / "mixed.safetensors")) == 0
    report = [r.getMessage() for r in caplog.records if "modules match this model" in r.getMessage()]
    targeted = sum(".lora.down." in key or ".lora_A." in key for key in {**weights, **foreign})
    matched = targeted - sum(".lora.down." in key or ".lora_A." in key for key in foreign)
    assert len(report) == 1 and "\n" not in report[0] and f"{matched} of its {targeted} modules" in report[0]


def test_subject_proportions_retarget_the_skeletons(walk, first, subjects, tmp_path):
    assert (
        generate(walk, tmp_path / "retarget", "--subject", "alice", "--subjects-dir", str(subjects), base=())
        == 0
    )
    record = manifest(tmp_path / "retarget")
    assert record["options"]["retargeted"] and record["options"]["template"] == "default"
    assert record["options"]["fingerprint"]["prompt"].startswith("a photo of sks person, full body")
    retargeted = read_image(tmp_path / "retarget" / "controls" / "0002.png")
    assert not np.array_equal(retargeted, read_image(first / "controls" / "0002.png"))


def test_local_diffusers_folders_load_like_tiny(walk, first, tmp_path):
    folder = save_tiny_pipeline(tmp_path / "tiny-sd")
    base = ("--base", str(folder), "--controlnet", str(folder / "controlnet"))
    assert generate(walk, tmp_path / "local", *PROMPT, base=base) == 0
    np.testing.assert_array_equal(frames(tmp_path / "local"), frames(first))


def test_two_half_strength_controlnets_match_one(walk, first, tmp_path):
    nets = [
        "--controlnet",
        "tiny",
        "--controlnet",
        "tiny",
        "--controlnet-scale",
        "0.5",
        "--controlnet-scale",
        "0.5",
    ]
    assert generate(walk, tmp_path / "multi", *PROMPT, *nets) == 0
    difference = np.abs(frames(tmp_path / "multi").astype(int) - frames(first).astype(int))
    assert difference.max() <= 2
    assert manifest(tmp_path / "multi")["options"]["fingerprint"]["controlnets"] == ["tiny", "tiny"]


def test_lcm_lora_path(walk, tmp_path):
    lora = save_random_lora(tiny_unet(), tmp_path / "lcm", std=0.05)
    assert generate(walk, tmp_path / "lcm-run", "--lcm-lora", str(lora.parent)) == 0
    record = manifest(tmp_path / "lcm-run")
    assert record["models"]["scheduler"] == "LCMScheduler" and record["models"]["loras"][0]["name"] == "lcm"
    assert (
        record["options"]["fingerprint"]["guidance"] == 1.0 and record["options"]["fingerprint"]["steps"] == 2
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--base", "./no/such/model"], "no such file or folder"),
        (["--base", "nobody-here/no-such-model", "--controlnet", "tiny"], "--base PATH"),
        (["--base", "tiny", "--controlnet", "nobody-here/no-such-net"], "--controlnet PATH"),
        (["--subject", "zed"], "known: alice"),
        (["--subject", "../alice"], "invalid subject name"),
        (["--size", "60"], "multiples of 8"),
        (["--poses", "BAD"], "frame 0"),
        (["--reference", "./no/such.png"], "no such image file"),
        (["--reference", "subject"], "pass --subject too"),
        (["--subject", "alice", "--reference", "subject"], "keeps no photos"),
        (["--init", "./no/such/frames"], "no such"),
        (["--init", "ONE"], "1 frame(s) for 6 poses"),
        (["--init", "ONE", "--strength", "1.5"], "(0, 1]"),
        (["--init", "ONE", "--strength", "0.2"], "runs no denoising step"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    walk, subjects, tmp_path, monkeypatch, capsys, args, expected
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    document = json.loads(walk.read_text())
    document["frames"][0][3] = ["x", 1.0, 1.0]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    one = tmp_path / "one.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(one)
    args = [{"BAD": str(bad), "ONE": str(one)}.get(a, a) for a in args]
    base = () if "--base" in args else ("--base", "tiny")
    out = tmp_path / "out"
    assert generate(walk, out, "--subjects-dir", str(subjects), *args, base=base) == 2
    err = capsys.readouterr().err
    assert err.startswith("toolkit: error: ") and err.count("\n") == 1 and expected in err
    assert not out.exists()


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "unipc" in text and "cross-frame" in text and "(default 4)" in text
    groups = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    actions = groups.choices["generate"]._actions
    assert all(action.help for action in actions)
    options = {option for action in actions for option in action.option_strings}
    spec = {
        "--subject", "--poses", "--prompt", "--template", "--negative-prompt", "--steps", "--guidance",
        "--seed", "--size", "--batch", "--scheduler", "--lora-scale", "--controlnet-scale", "--fps", "--out",
        "--base", "--controlnet", "--retarget", "--no-retarget", "--device", "--dtype", "--compile",
        "--cpu-offload", "--vae-tiling", "--consistency", "--lcm-lora", "--subjects-dir",
    }  # fmt: skip
    assert spec <= options


def test_lora_file_and_folder_load_alike_and_bad_loras_fail_in_one_line(subjects, tmp_path):
    from toolkit.diffusion.loading import LoraWeights, ModelLoadError, load_loras, load_pipeline
    from toolkit.diffusion.tiny import TinyConfig

    def unet_weights(lora):
        pipe = load_pipeline("tiny", ["tiny"])
        load_loras(pipe, [lora] if lora else [])
        return pipe.unet.state_dict()

    folder, base = unet_weights(LoraWeights(subjects / "alice")), unet_weights(None)
    file = unet_weights(LoraWeights(subjects / "alice" / LORA_FILE, scale=1.0))
    assert folder.keys() == base.keys() == file.keys()
    assert all(torch.equal(folder[k], file[k]) for k in folder)
    assert not all(torch.equal(folder[k], base[k]) for k in folder)

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a tensor file")
    other = save_random_lora(tiny_unet(config=TinyConfig(cross_attention_dim=16)), tmp_path / "other")
    for bad in (junk, other, tmp_path / "missing.safetensors"):
        with pytest.raises(ModelLoadError) as info:
            load_loras(load_pipeline("tiny", ["tiny"]), [LoraWeights(bad)])
        assert "\n" not in str(info.value) and str(bad) in str(info.value)


def test_lora_spec_reads_an_optional_scale_after_the_last_colon():
    from toolkit.commands.generate import lora_spec

    assert lora_spec("style.safetensors") == ("style.safetensors", 1.0)
    assert lora_spec("style.safetensors:0.6") == ("style.safetensors", 0.6)
    assert lora_spec("dir:with:colons/x.safetensors") == ("dir:with:colons/x.safetensors", 1.0)
    assert lora_spec("neg.safetensors:-0.5") == ("neg.safetensors", -0.5)
    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        lora_spec("x.safetensors:nan")


def test_frames_carry_a1111_parameters(first):
    with Image.open(first / "frames" / "0002.png") as image:
        text = image.info["parameters"]
    prompt, negative, fields = text.split("\n")
    assert prompt == "a photo of sks person" and negative == "Negative prompt: blurry"
    assert fields.startswith("Steps: 2, Sampler: UniPC, CFG scale: 7.5, Seed: 0, Size: 64x64, Model: tiny")
    assert 'ControlNet 0: "Module: openpose, Model: tiny, Weight: 1"' in fields


def test_parameters_name_hashes_as_a1111_does():
    from toolkit.diffusion.parameters import Parameters

    text = Parameters(
        prompt="p", negative="", steps=20, sampler="DPM++ 2M Karras", guidance=5.0, seed=7, size=(512, 768),
        model="models/v1-5-pruned.safetensors", model_hash="6ce0161689b3853acaa03779ec93eafe75a02f4c",
        loras=[("subject", "0123456789abcdef"), ("hub", None)], controlnets=["a/b", "c"],
        controlnet_scale=[0.5, 1.0],
    ).text()  # fmt: skip
    assert text.splitlines()[0] == "p" and len(text.splitlines()) == 2
    assert "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned" in text
    assert 'Lora hashes: "subject: 0123456789ab"' in text
    assert 'ControlNet 1: "Module: openpose, Model: c, Weight: 1"' in text and "Model: b, Weight: 0.5" in text


def test_subjects_import_registers_a_kohya_lora_that_generate_renders(walk, subjects, tmp_path, capsys):
    registry = ["--subjects-dir", str(subjects)]
    kohya = str(subjects / "alice_kohya.safetensors")
    argv = [
        "subjects",
        "import",
        "bob",
        "--lora",
        kohya,
        "--token",
        "sks",
        "--base",
        "tiny",
        "--controlnet",
        "tiny",
    ]
    assert main([*argv, *registry]) == 0
    assert "imported" in capsys.readouterr().out
    bob = SubjectRegistry(subjects).get("bob")
    assert (bob.token, bob.base, bob.controlnets) == ("sks", "tiny", ("tiny",))
    assert main([*argv, *registry]) == 2 and "exists already" in capsys.readouterr().err
    common = ["--subjects-dir", str(subjects), "--no-retarget", *PROMPT]
    assert generate(walk, tmp_path / "bob", "--subject", "bob", *common, base=()) == 0
    assert generate(walk, tmp_path / "alice", "--subject", "alice", *common, base=()) == 0
    difference = np.abs(frames(tmp_path / "bob").astype(int) - frames(tmp_path / "alice").astype(int))
    assert difference.max() <= 1  # the same LoRA in kohya's keys
    SubjectRegistry(subjects).remove("bob")


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--guidance-stop", "0", "must be in (0, 1], got 0"),
    ("--guidance-stop", "1.5", "must be in (0, 1], got 1.5"),
    ("--reference-fidelity", "1.5", "must be in [0, 1], got 1.5"),
])  # fmt: skip
def test_fraction_flags_check_their_own_range(flag, value, expected, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--poses", "w.json", "-o", "out", flag, value])
    assert expected in capsys.readouterr().err
    args = build_parser().parse_args(["generate", "--poses", "w.json", "-o", "out", flag, "1"])
    assert getattr(args, flag.removeprefix("--").replace("-", "_")) == 1.0
