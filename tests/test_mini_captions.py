"""Captions of the mannequins the mini model learns from, and the mini architecture presets."""

from __future__ import annotations

import pytest
import torch

from toolkit.data.mannequin import Garment, MannequinSpec
from toolkit.data.mannequin.captions import HUES, TONES, color_name, garment_phrase, mannequin_caption
from toolkit.data.mannequin.spec import HAIR_COLORS, SKIN_TONES
from toolkit.diffusion.mini.config import MINI_CONFIGS, MiniConfig, MiniConfigError, get_config, model_sizes


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((0, 0, 0), "black"),
        ((250, 250, 250), "white"),
        ((128, 128, 128), "grey"),
        ((220, 20, 20), "bright red"),
        ((20, 20, 220), "bright blue"),
        ((20, 40, 220), "bright cobalt"),
        ((30, 160, 30), "vivid green"),
        ((20, 20, 90), "deep blue"),
        ((120, 70, 30), "vivid orange"),
        ((200, 150, 230), "pale violet"),
        ((90, 70, 60), "dusky orange"),
        ((250, 200, 20), "bright amber"),
        ((20, 180, 200), "bright cyan"),
    ],
)
def test_color_names(rgb: tuple[int, int, int], name: str) -> None:
    assert color_name(rgb) == name


def test_every_hue_and_tone_has_a_name_of_its_own() -> None:
    assert len(HUES) == len(set(HUES)) == 16 and len(set(TONES.values())) == 6
    # Hue bins are 22.5 degrees wide, the first centred on red: up to 11.25 degrees either side is red.
    assert color_name((230, 55, 20)) == "bright red"  # 10.0 degrees
    assert color_name((230, 65, 20)) == "bright orange"  # 12.9 degrees
    assert color_name((230, 20, 55)) == "bright red"  # 350.0 degrees
    assert color_name((230, 20, 65)) == "bright rose"  # 347.1 degrees


def test_caption_names_palette_colours_garments_patterns_and_lengths() -> None:
    spec = MannequinSpec(
        hair_style="bun",
        hair=(30, 25, 20),
        skin=SKIN_TONES["tan"],
        shirt=Garment(color=(220, 20, 20), pattern="stripes", pattern_color=(250, 250, 250), length="short"),
        trousers=Garment(color=(20, 20, 220), pattern="checks", pattern_color=(250, 220, 30), length="short"),
        shoes=(200, 190, 170),
    )
    assert mannequin_caption(spec) == (
        "a mannequin with black hair in a bun and tan skin, wearing a short-sleeved bright red shirt with "
        "white stripes, bright blue shorts with bright amber checks and beige shoes"
    )
    assert garment_phrase(Garment(color=(20, 20, 220)), "trousers") == "bright blue trousers"
    assert mannequin_caption(MannequinSpec(hair_style="bald", hair=HAIR_COLORS["blonde"])).startswith(
        "a mannequin with no hair and light skin"
    )


def test_captions_are_deterministic_and_tell_subjects_apart() -> None:
    captions = [mannequin_caption(MannequinSpec.sample(seed)) for seed in range(40)]
    assert captions == [mannequin_caption(MannequinSpec.sample(seed)) for seed in range(40)]
    assert len(set(captions)) == 40
    for seed, caption in enumerate(captions):
        shirt = MannequinSpec.sample(seed).shirt
        assert color_name(shirt.color) in caption
        if shirt.pattern != "solid":
            assert f"{color_name(shirt.pattern_color)} {shirt.pattern}" in caption


@pytest.mark.parametrize("name", ["mini", "mini-v2"])
def test_mini_presets_fit_the_size_budget(name: str) -> None:
    sizes = model_sizes(get_config(name))
    megabytes = 2 * sum(sizes.values()) / 1e6  # float16
    assert megabytes < 40, sizes
    assert sizes["controlnet"] < sizes["unet"]


def test_the_controlnet_shrinks_skeletons_onto_the_latent_grid() -> None:
    from diffusers import ControlNetModel

    from toolkit.diffusion.mini.config import build_controlnet, build_unet

    for name, latents in (("mini", 16), ("mini-v2", 32)):
        config = get_config(name)
        controlnet = build_controlnet(build_unet(config), config.vae_scale_factor)
        assert isinstance(controlnet, ControlNetModel)
        skeleton = torch.zeros(1, 3, config.resolution, config.resolution)
        assert controlnet.controlnet_cond_embedding(skeleton).shape[-2:] == (latents, latents), name
    with pytest.raises(MiniConfigError, match="power of two"):
        build_controlnet(build_unet(get_config("test")), 6)


def test_config_errors_are_one_line() -> None:
    with pytest.raises(MiniConfigError, match="unknown mini config 'huge'; choose one of"):
        get_config("huge")
    with pytest.raises(MiniConfigError, match="multiple of 8"):
        MiniConfig(resolution=60)
    with pytest.raises(MiniConfigError, match="vae_groups"):
        MiniConfig(vae_channels=(8, 8, 12, 16), vae_groups=8)
    config = MINI_CONFIGS["test"]
    assert MiniConfig.from_dict(config.to_dict()) == config
