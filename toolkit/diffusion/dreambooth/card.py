"""The ``README.md`` model card a DreamBooth run writes into the subject folder, as diffusers' script does:
what the LoRA was trained on and with, the validation grid, and how to render with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...atomic import write_text_atomic
from ..subjects import LORA_FILE
from .config import DreamBoothConfig

CARD_FILE = "README.md"


def model_card(config: DreamBoothConfig, prompts: tuple[str, str], steps: int, sample: str) -> str:
    """The card's markdown: YAML front matter (base model, tags), the run's settings and usage.

    Args:
        config: The run's settings.
        prompts: ``(instance prompt, class prompt)`` as trained.
        steps: Optimisation steps done.
        sample: The validation grid, relative to the subject folder.
    """
    instance, class_prompt = prompts
    c = config
    pose = "on" if c.pose_conditioning else "off"
    concept = f"`{c.init_lora}` at {c.init_lora_scale}" if c.init_lora else "none"
    lora = f"rank {c.rank}, alpha {c.alpha:g}, on {c.lora_targets}" + (
        ", text encoder too" if c.train_text_encoder else ""
    )
    rows: list[tuple[str, Any]] = [
        ("base model", f"`{c.base}`"),
        ("ControlNet (pose conditioning)", f"`{c.controlnet}` ({pose})"),
        ("token / class", f"`{c.token}` / `{c.class_noun}`"),
        ("instance prompt", f"`{instance}`"),
        ("class prompt", f"`{class_prompt}`" if c.with_prior_preservation else "no prior preservation"),
        ("concept LoRA under it", concept),
        ("LoRA", lora),
        ("steps", f"{steps} of batch {c.train_batch_size} at {c.learning_rate:g} ({c.lr_scheduler})"),
        ("resolution", c.resolution),
        ("seed", c.seed if c.seed is not None else "random (see manifest.json)"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    photos = f"{c.instance_dir.name}/" if c.instance_dir is not None else "its photos"
    return f"""---
base_model: {config.base}
library_name: diffusers
tags:
- stable-diffusion
- controlnet
- lora
- dreambooth
- pose-transfer
instance_prompt: "{instance}"
---

# Subject `{config.subject}`: DreamBooth LoRA

A LoRA of `{config.base}` that draws `{config.token} {config.class_noun}`, trained pose-aware on
{photos} with the toolkit's `training/dreambooth.py`.

| setting | value |
|---|---|
{table}

![validation grid: skeletons over the images they drive]({sample})

## Use

```bash
toolkit generate --subject {config.subject} --poses walk.json
```

```python
from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

controlnet = ControlNetModel.from_pretrained("{config.controlnet}")
pipe = StableDiffusionControlNetPipeline.from_pretrained("{config.base}", controlnet=controlnet)
pipe.load_lora_weights("subjects/{config.subject}", weight_name="{LORA_FILE}")
image = pipe("{instance}", image=openpose_skeleton).images[0]
```
"""


def write_model_card(
    folder: Path, config: DreamBoothConfig, prompts: tuple[str, str], steps: int, sample: str
) -> None:
    """Write :func:`model_card` to ``folder/README.md`` atomically."""
    write_text_atomic(folder / CARD_FILE, model_card(config, prompts, steps, sample))
