"""LoRA adapters: adding them (PEFT), saving them in diffusers' format, exporting them for kohya/A1111.

The UNet's adapters sit on the attention projections ``to_q``, ``to_k``, ``to_v`` and ``to_out.0`` (as in
diffusers' DreamBooth LoRA script), or, LoCon-style, also on every ResNet block's two 3x3 convolutions
(``UNET_TARGETS``); the text encoder's, when trained, on CLIP's ``q_proj``, ``k_proj``, ``v_proj`` and
``out_proj``. Adapters start as PEFT's Gaussian init (B = 0), so training starts from the
base model exactly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..subjects import LORA_FILE

if TYPE_CHECKING:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

ATTENTION = ("to_q", "to_k", "to_v", "to_out.0")
# --lora-targets name -> UNet module names PEFT adapts (a name matches every module whose path ends in it).
UNET_TARGETS: dict[str, tuple[str, ...]] = {
    "attention": ATTENTION,
    # LoCon: the ResNets' convolutions carry much of a subject's colour and texture.
    "attention+conv": (*ATTENTION, "conv1", "conv2"),
}
DEFAULT_TARGETS = "attention"
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
KOHYA_FILE = "pytorch_lora_weights_kohya.safetensors"


def add_lora(
    model: torch.nn.Module, targets: tuple[str, ...], rank: int, alpha: float, dropout: float
) -> None:
    """Add a trainable LoRA adapter named ``"default"`` to ``model`` (a diffusers UNet or a transformers
    CLIP text model), on the modules named ``targets``; the base weights stay frozen."""
    from peft import LoraConfig

    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        init_lora_weights="gaussian",
        target_modules=list(targets),
    )
    model.add_adapter(config)


def trainable_parameters(*models: torch.nn.Module | None) -> list[torch.nn.Parameter]:
    """The parameters of ``models`` that require gradients (the LoRA weights), in a fixed order."""
    return [p for m in models if m is not None for p in m.parameters() if p.requires_grad]


def trainable_state(unet: torch.nn.Module, text_encoder: torch.nn.Module | None) -> dict[str, torch.Tensor]:
    """Every trainable tensor, keyed ``unet.<name>`` / ``text_encoder.<name>`` (for checkpoints)."""
    state = {}
    for prefix, model in (("unet", unet), ("text_encoder", text_encoder)):
        if model is not None:
            for name, param in model.named_parameters():
                if param.requires_grad:
                    state[f"{prefix}.{name}"] = param.detach().contiguous().cpu()
    return state


def load_trainable_state(
    state: dict[str, torch.Tensor], unet: torch.nn.Module, text_encoder: torch.nn.Module | None
) -> None:
    """Copy a :func:`trainable_state` back into the models; a missing or extra key raises ``ValueError``."""
    current = {}
    for prefix, model in (("unet", unet), ("text_encoder", text_encoder)):
        if model is not None:
            current.update({f"{prefix}.{n}": p for n, p in model.named_parameters() if p.requires_grad})
    if set(state) != set(current):
        extra, missing = sorted(set(state) - set(current)), sorted(set(current) - set(state))
        raise ValueError(
            f"checkpoint does not match this run's LoRA (rank, targets or --train-text-encoder changed?): "
            f"{len(missing)} tensor(s) missing, {len(extra)} unexpected"
        )
    with torch.no_grad():
        for name, param in current.items():
            param.copy_(state[name])


def peft_layers(
    unet: UNet2DConditionModel, text_encoder: CLIPTextModel | None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """The adapters' weights in PEFT's key format (``...to_q.lora_A.weight``), UNet and text encoder."""
    from peft import get_peft_model_state_dict

    text = get_peft_model_state_dict(text_encoder) if text_encoder is not None else None
    return get_peft_model_state_dict(unet), text


def save_lora(
    folder: str | Path, unet: UNet2DConditionModel, text_encoder: CLIPTextModel | None = None
) -> Path:
    """Write ``folder/pytorch_lora_weights.safetensors`` atomically in diffusers' format with the
    adapters' configs (so a ``lora_alpha`` other than the rank is honoured by ``load_lora_weights``).
    ``text_encoder`` is given only when it carries a LoRA. Returns the file's path."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers

    unet_layers, text_layers = peft_layers(unet, text_encoder)
    options: dict[str, Any] = {"unet_lora_adapter_metadata": unet.peft_config["default"].to_dict()}
    if text_encoder is not None:
        options["text_encoder_lora_layers"] = convert_state_dict_to_diffusers(text_layers)
        options["text_encoder_lora_adapter_metadata"] = text_encoder.peft_config["default"].to_dict()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # save_lora_weights writes in place; writing beside and renaming keeps an older file whole until then.
    with tempfile.TemporaryDirectory(dir=folder, prefix=".lora-") as tmp:
        StableDiffusionPipeline.save_lora_weights(
            tmp,
            unet_lora_layers=convert_state_dict_to_diffusers(unet_layers),
            safe_serialization=True,
            **options,
        )
        os.replace(Path(tmp) / LORA_FILE, folder / LORA_FILE)
    return folder / LORA_FILE


def kohya_state_dict(
    unet: UNet2DConditionModel, text_encoder: CLIPTextModel | None, alpha: float
) -> dict[str, torch.Tensor]:
    """The adapters in the kohya/A1111 key format of SD 1.x: ``lora_unet_<module path with _>.lora_down
    .weight``, ``.lora_up.weight`` and ``.alpha`` (``lora_te_`` for the text encoder).

    diffusers' ``convert_state_dict_to_kohya`` does the renaming from PEFT keys; two fixes are applied:
    its ``.alpha`` is the rank, replaced by the run's ``alpha``, and it names the text encoder
    ``lora_te1_`` (SDXL's first encoder), where SD 1.x tools expect ``lora_te_``. Text-encoder keys always
    carry CLIP's ``text_model_`` level, which transformers 5 no longer has in its module names but the
    SD 1.x checkpoints that A1111 and ComfyUI load do.
    """
    from diffusers.utils import convert_state_dict_to_kohya

    unet_layers, text_layers = peft_layers(unet, text_encoder)
    peft = {f"unet.{k}": v for k, v in unet_layers.items()}
    peft.update({f"text_encoder.{k}": v for k, v in (text_layers or {}).items()})
    out = {}
    for key, value in convert_state_dict_to_kohya(peft).items():
        key = key.replace("lora_te1_", "lora_te_", 1)
        if key.startswith("lora_te_") and not key.startswith("lora_te_text_model_"):
            key = key.replace("lora_te_", "lora_te_text_model_", 1)
        if key.endswith(".alpha"):
            value = torch.tensor(float(alpha))
        out[key] = value.detach().contiguous().cpu()
    return out


def export_kohya(
    folder: str | Path, unet: UNet2DConditionModel, text_encoder: CLIPTextModel | None, alpha: float
) -> Path:
    """Write ``folder/pytorch_lora_weights_kohya.safetensors`` (see :func:`kohya_state_dict`) atomically;
    returns its path."""
    from safetensors.torch import save_file

    from ...atomic import atomic_path

    path = Path(folder) / KOHYA_FILE
    with atomic_path(path) as tmp:
        save_file(
            kohya_state_dict(unet, text_encoder, alpha),
            str(tmp),
            metadata={"ss_network_module": "networks.lora"},
        )
    return path
