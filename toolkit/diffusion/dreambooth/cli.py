"""The command line of ``training/dreambooth.py``: flags named as in diffusers' DreamBooth LoRA script
(with dashes), parsed into a :class:`DreamBoothConfig`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ...errors import ToolkitError
from ..subjects import DEFAULT_BASE, DEFAULT_CONTROLNET
from .config import LR_SCHEDULERS, MIXED_PRECISION, REPORT_TO, DreamBoothConfig
from .lora import DEFAULT_TARGETS, UNET_TARGETS

_ON_OFF = {"on": True, "off": False}


def build_parser() -> argparse.ArgumentParser:
    """All flags; defaults are :class:`DreamBoothConfig`'s."""
    from ...argtypes import comma_list, positive_float, positive_int

    p = argparse.ArgumentParser(
        prog="training/dreambooth.py",
        description="Teach Stable Diffusion a subject from a few photos (DreamBooth + LoRA), pose-aware: the "
        "frozen OpenPose ControlNet explains each photo's pose, so the LoRA learns the appearance. Writes "
        "subjects/<name>/ for `toolkit generate --subject NAME`. Run with `accelerate launch`. diffusers' "
        "spellings are accepted too (--pretrained_model_name_or_path, --instance_data_dir, --output_dir, "
        "--max_train_steps ...).",
    )
    g = p.add_argument_group("subject and models")
    g.add_argument("--subject", help="subject name (its folder under --subjects-dir); or give --output-dir")
    g.add_argument(
        "--output-dir",
        type=Path,
        help="the subject folder itself, as diffusers' --output_dir: its name is the subject's, its parent "
        "the registry (instead of --subject and --subjects-dir)",
    )
    g.add_argument("--instance-dir", required=True, type=Path, help="folder of photos of the subject")
    g.add_argument("--token", default="sks", help="rare identifier token (default: sks)")
    g.add_argument("--class-noun", default="person", help="the subject's class (default: person)")
    g.add_argument("--base", default=DEFAULT_BASE, help="base model: hub id, folder, .safetensors or 'tiny'")
    g.add_argument(
        "--controlnet", default=DEFAULT_CONTROLNET, help="OpenPose ControlNet: hub id, folder or 'tiny'"
    )
    g.add_argument(
        "--base-config", help="diffusers config (hub id or folder) to build a single-file --base with"
    )
    g.add_argument("--template", default="default", help="prompt template in prompts/ (default: default)")
    g.add_argument(
        "--instance-prompt",
        help="literal instance prompt ({token}, {class} filled in); overrides the template",
    )
    g.add_argument(
        "--class-prompt", help="literal class prompt for prior preservation; overrides the template"
    )
    g.add_argument(
        "--subjects-dir", type=Path, help="registry root (default: $TOOLKIT_SUBJECTS_DIR or ./subjects)"
    )
    g.add_argument(
        "--init-lora",
        type=Path,
        help="concept LoRA (file or folder) fused into the base first: the subject trains on top of it, "
        "and generate stacks both (e.g. a walk-cycle style, then the subject)",
    )
    g.add_argument(
        "--init-lora-scale", type=positive_float, default=1.0, help="strength of --init-lora (default: 1)"
    )
    g = p.add_argument_group("poses")
    g.add_argument(
        "--poses", type=Path, help="pose file, one frame per photo in file order (default: detect)"
    )
    g.add_argument("--detector", default="mediapipe", help="pose detector when --poses is not given")
    g.add_argument(
        "--pose-conditioning", choices=_ON_OFF, default="on", help="ControlNet residuals (default: on)"
    )
    g.add_argument("--controlnet-scale", type=float, default=1.0, help="scale of the residuals (default: 1)")
    g = p.add_argument_group("LoRA")
    g.add_argument("--rank", type=positive_int, default=4, help="LoRA rank (default: 4)")
    g.add_argument("--lora-alpha", type=positive_float, help="LoRA alpha (default: the rank)")
    g.add_argument("--lora-dropout", type=float, default=0.0, help="LoRA dropout (default: 0)")
    g.add_argument(
        "--lora-targets",
        choices=tuple(UNET_TARGETS),
        default=DEFAULT_TARGETS,
        help="UNet layers with adapters: attention projections, or LoCon-style also the ResNets' "
        f"convolutions (default: {DEFAULT_TARGETS})",
    )
    g.add_argument("--train-text-encoder", action="store_true", help="also a LoRA on the text encoder")
    g = p.add_argument_group("training")
    g.add_argument("--resolution", type=positive_int, default=512)
    g.add_argument("--train-batch-size", type=positive_int, default=4)
    g.add_argument("--sample-batch-size", type=positive_int, default=4, help="batch for class images")
    g.add_argument("--random-flip", action="store_true", help="mirror photos (and swap left/right joints)")
    g.add_argument("--num-train-epochs", type=positive_int, default=1)
    g.add_argument("--max-train-steps", type=positive_int, help="overrides --num-train-epochs")
    g.add_argument("--gradient-accumulation-steps", type=positive_int, default=1)
    g.add_argument("--gradient-checkpointing", action="store_true")
    g.add_argument("--learning-rate", type=positive_float, default=1e-4)
    g.add_argument("--scale-lr", action="store_true", help="lr x accumulation x batch x processes")
    g.add_argument("--lr-scheduler", choices=LR_SCHEDULERS, default="constant")
    g.add_argument("--lr-warmup-steps", type=int, default=500)
    g.add_argument("--lr-num-cycles", type=positive_int, default=1)
    g.add_argument("--lr-power", type=float, default=1.0)
    g.add_argument("--use-8bit-adam", action="store_true", help="bitsandbytes' AdamW8bit")
    g.add_argument("--adam-beta1", type=float, default=0.9)
    g.add_argument("--adam-beta2", type=float, default=0.999)
    g.add_argument("--adam-weight-decay", type=float, default=1e-2)
    g.add_argument("--adam-epsilon", type=float, default=1e-8)
    g.add_argument("--max-grad-norm", type=float, default=1.0)
    g.add_argument("--snr-gamma", type=positive_float, help="Min-SNR weighting gamma (5.0 recommended)")
    g.add_argument("--mixed-precision", choices=MIXED_PRECISION, help="default: accelerate's setting")
    g.add_argument("--seed", type=int)
    g = p.add_argument_group("prior preservation")
    g.add_argument("--with-prior-preservation", action="store_true")
    g.add_argument("--class-dir", type=Path, help="class images; missing ones are generated here")
    g.add_argument("--num-class-images", type=positive_int, default=100)
    g.add_argument("--prior-loss-weight", type=float, default=1.0)
    g.add_argument("--prior-generation-precision", choices=("fp32", "fp16", "bf16"))
    g.add_argument("--class-inference-steps", type=positive_int, default=25)
    g = p.add_argument_group("checkpoints, validation, export")
    g.add_argument("--checkpointing-steps", type=positive_int, default=500)
    g.add_argument("--checkpoints-total-limit", type=positive_int)
    g.add_argument("--resume-from-checkpoint", help="a checkpoint-<step> folder or 'latest'")
    g.add_argument("--validation-steps", type=int, default=100, help="0: only at the end")
    g.add_argument(
        "--validation-motions", type=comma_list, default=None, help="default: walk,wave,squat,jumping_jack"
    )
    g.add_argument("--validation-inference-steps", type=positive_int, default=20)
    g.add_argument(
        "--validation-prompt", help="prompt of the validation grids (default: the instance prompt)"
    )
    g.add_argument(
        "--report-to",
        choices=REPORT_TO,
        default="auto",
        help="auto: TensorBoard if installed, else CSV; wandb: Weights & Biases (needs the wandb package)",
    )
    g.add_argument("--export-kohya", action="store_true", help="also write the kohya/A1111 key format")
    g.add_argument("--no-progress", dest="progress", action="store_false")
    return p


# diffusers' train_dreambooth_lora.py names that differ here by more than "_" for "-".
DIFFUSERS_FLAGS = {
    "--pretrained-model-name-or-path": "--base",
    "--instance-data-dir": "--instance-dir",
    "--class-data-dir": "--class-dir",
}


def diffusers_spellings(argv: Sequence[str]) -> list[str]:
    """``argv`` with diffusers' spellings of flags (``--max_train_steps``, ``--instance_data_dir`` ...)
    rewritten to this script's (``--max-train-steps``, ``--instance-dir`` ...); values are untouched."""
    out = []
    for arg in argv:
        if arg.startswith("--"):
            flag, equals, value = arg.partition("=")
            flag = flag.replace("_", "-")
            arg = DIFFUSERS_FLAGS.get(flag, flag) + equals + value
        out.append(arg)
    return out


def config_from_args(args: argparse.Namespace) -> DreamBoothConfig:
    """The :class:`DreamBoothConfig` of parsed flags."""
    values = vars(args).copy()
    output = values.pop("output_dir")
    if output is not None:
        if values["subject"] not in (None, output.name) or values["subjects_dir"] is not None:
            raise ValueError(
                "--output-dir names the subject folder: drop --subject and --subjects-dir with it"
            )
        values["subject"], values["subjects_dir"] = output.name, output.parent
    if values["subject"] is None:
        raise ValueError("name the subject: --subject NAME, or --output-dir FOLDER")
    values["pose_conditioning"] = _ON_OFF[values["pose_conditioning"]]
    if values["validation_motions"] is None:
        del values["validation_motions"]
    return DreamBoothConfig(**values)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), train, print the subject folder; 0 on success, 2 with a
    one-line error for bad input."""
    from .loop import train

    given = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(diffusers_spellings(given))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        result = train(config_from_args(args), command=["training/dreambooth.py", *given])
    except (ToolkitError, ValueError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result.main_process:
        print(
            f"{result.folder}: {result.steps} steps, final loss {result.losses[-1]:.4f}"
            if result.losses
            else f"{result.folder}: {result.steps} steps"
        )
    return 0
