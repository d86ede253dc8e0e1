"""Captions of the mini model's mannequins and the mini architecture presets."""

from __future__ import annotations

import pytest

from toolkit.data.mannequin import Garment, MannequinSpec
from toolkit.diffusion.mini.captions import color_name, garment_phrase, mannequin_caption
from toolkit.diffusion.mini.config import MINI_CONFIGS, MiniConfig, MiniConfigError, get_config, model_sizes


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((0, 0, 0), "black"),
        ((250, 250, 250), "white"),
        ((128, 128, 128), "grey"),
        ((220, 20, 20), "red"),
        ((20, 40, 220), "blue"),
        ((30, 160, 40), "green"),
        ((20, 20, 90), "dark blue"),
        ((120, 70, 30), "brown"),
        ((200, 150, 230), "light purple"),
    ],
)
def test_color_names(rgb: tuple[int, int, int], name: str) -> None:
    assert color_name(rgb) == name


def test_caption_names_garment_colours_patterns_and_lengths() -> None:
    spec = MannequinSpec(
        hair_style="bun",
        hair=(28, 24, 22),
        shirt=Garment(color=(220, 20, 20), pattern="stripes", pattern_color=(250, 250, 250), length="short"),
        trousers=Garment(color=(20, 40, 220), pattern="checks", pattern_color=(250, 220, 30), length="short"),
        shoes=(24, 24, 26),
    )
    caption = mannequin_caption(spec)
    assert caption == (
        "a mannequin with black hair in a bun and light skin, wearing a short-sleeved red shirt with white "
        "stripes, blue shorts with yellow checks and black shoes"
    )
    assert garment_phrase(Garment(color=(20, 40, 220)), "trousers") == "blue trousers"


def test_captions_are_deterministic_and_tell_subjects_apart() -> None:
    captions = [mannequin_caption(MannequinSpec.sample(seed)) for seed in range(12)]
    assert captions == [mannequin_caption(MannequinSpec.sample(seed)) for seed in range(12)]
    assert len(set(captions)) == 12
    for seed, caption in enumerate(captions):
        shirt = MannequinSpec.sample(seed).shirt
        assert color_name(shirt.color) in caption
        if shirt.pattern != "solid":
            assert f"{color_name(shirt.pattern_color)} {shirt.pattern}" in caption


def test_mini_preset_fits_the_size_budget() -> None:
    sizes = model_sizes(get_config("mini"))
    megabytes = 2 * sum(sizes.values()) / 1e6  # float16
    assert megabytes < 40, sizes
    assert sizes["controlnet"] < sizes["unet"]


def test_config_errors_are_one_line() -> None:
    with pytest.raises(MiniConfigError, match="unknown mini config 'huge'; choose from"):
        get_config("huge")
    with pytest.raises(MiniConfigError, match="multiple of 8"):
        MiniConfig(resolution=60)
    with pytest.raises(MiniConfigError, match="vae_groups"):
        MiniConfig(vae_channels=(8, 8, 12, 16), vae_groups=8)
    config = MINI_CONFIGS["test"]
    assert MiniConfig.from_dict(config.to_dict()) == config
