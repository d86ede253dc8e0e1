"""Command lines of ``training/base_model.py`` and ``training/controlnet.py``: parse, build, train.

Both print the folder they wrote and return 0, or print one ``error: ...`` line and return 2 for bad
input (a missing data folder, an unknown layout, a base model that cannot be loaded ...).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ToolkitError
from ...pose.motions import list_motions
from .config import MINI_CONFIGS, get_config
from .data import DEFAULT_CAPTION, MiniDataset, folder_clips, mannequin_clips
from .loop import LoopOptions

if TYPE_CHECKING:
    from accelerate import Accelerator


def _add_common(parser: argparse.ArgumentParser) -> None:
    from ...argtypes import comma_list, positive_float, positive_int

    g = parser.add_argument_group("data (default: mannequins rendered on the fly)")
    g.add_argument(
        "--data", type=Path, help="a `toolkit data synth` folder, or a folder of images/ + poses.json"
    )
    g.add_argument(
        "--caption", default=DEFAULT_CAPTION, help="caption of --data clips without a subject.json"
    )
    g.add_argument("--subjects", type=positive_int, default=200, help="mannequins to render (default: 200)")
    g.add_argument(
        "--motions", type=comma_list, default=list_motions(), help="motions to render (default: all)"
    )
    g.add_argument("--frames", type=positive_int, default=48, help="frames per rendered motion (default: 48)")
    g.add_argument("--data-seed", type=int, default=0, help="first rendered mannequin (default: 0)")
    g = parser.add_argument_group("training")
    g.add_argument("--output", type=Path, required=True, help="run folder (checkpoints, logs, weights)")
    g.add_argument("--max-train-steps", type=positive_int, required=True)
    g.add_argument("--train-batch-size", type=positive_int, default=16)
    g.add_argument("--learning-rate", type=positive_float, default=1e-4)
    g.add_argument("--lr-warmup-steps", type=int, default=0)
    g.add_argument(
        "--lr-decay-steps",
        type=int,
        default=0,
        help="decay the learning rate linearly to 0 over the last N steps (default: 0, constant); a "
        "constant-rate run resumes with a decay exactly from any checkpoint before it starts",
    )
    g.add_argument(
        "--snr-gamma",
        type=positive_float,
        help="Min-SNR loss weighting gamma (5.0 recommended; default: plain MSE)",
    )
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--checkpointing-steps", type=positive_int, default=500)
    g.add_argument("--checkpoints-total-limit", type=positive_int, default=2)
    g.add_argument("--resume-from-checkpoint", help="'latest' or a checkpoint-<step> folder")
    g.add_argument("--report-to", choices=("auto", "tensorboard", "csv"), default="auto")
    g.add_argument("--log-every", type=positive_int, default=10, help="steps between log rows (default: 10)")
    g.add_argument("--dataloader-num-workers", type=int, default=0)
    g.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), help="default: accelerate's setting")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--no-half", action="store_true", help="export float32 weights instead of float16")


def _loop_options(args: argparse.Namespace) -> LoopOptions:
    return LoopOptions(
        output=args.output,
        steps=args.max_train_steps,
        batch_size=args.train_batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.lr_warmup_steps,
        decay_steps=args.lr_decay_steps,
        seed=args.seed,
        checkpoint_every=args.checkpointing_steps,
        checkpoints_total_limit=args.checkpoints_total_limit,
        resume=args.resume_from_checkpoint,
        logger=args.report_to,
        log_every=args.log_every,
        num_workers=args.dataloader_num_workers,
        progress=not args.no_progress,
    )


def _dataset(args: argparse.Namespace, resolution: int, *, control: bool, layout: str) -> MiniDataset:
    if args.data is not None:
        clips = folder_clips(args.data, resolution, layout=layout, caption=args.caption)
    else:
        clips = mannequin_clips(
            args.subjects,
            resolution,
            motions=args.motions,
            frames=args.frames,
            seed=args.data_seed,
            layout=layout,
        )
    return MiniDataset(clips, control=control, layout=layout)


def _accelerator(args: argparse.Namespace) -> Accelerator:
    from ...nn.distributed import make_accelerator

    return make_accelerator(mixed_precision=args.mixed_precision)


def _run(train: Callable[[], Path]) -> int:
    try:
        folder = train()
    except (ToolkitError, ValueError, KeyError, ImportError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2
    print(folder)
    return 0


def base_parser() -> argparse.ArgumentParser:
    from ...argtypes import positive_float
    from .train_base import FIGURE_WEIGHT

    parser = argparse.ArgumentParser(
        prog="training/base_model.py",
        description="Train the mini Stable Diffusion model on mannequins: --stage vae, then --stage unet "
        "with the same --output. Writes OUTPUT/vae, then OUTPUT/model (a diffusers folder). Run with "
        "`accelerate launch`.",
    )
    parser.add_argument(
        "--stage",
        choices=("vae", "unet", "decoder"),
        required=True,
        help="vae, then unet; decoder (optional, any time after vae) sharpens the VAE's decoder with its "
        "encoder, and so the latent space, frozen",
    )
    parser.add_argument(
        "--config", default="mini", help=f"architecture: {', '.join(MINI_CONFIGS)} (default: mini)"
    )
    parser.add_argument("--resolution", type=int, help="training image side (default: the config's)")
    parser.add_argument(
        "--vae", type=Path, help="trained VAE folder for --stage unet or decoder (default: OUTPUT/vae)"
    )
    parser.add_argument(
        "--figure-weight",
        type=positive_float,
        default=FIGURE_WEIGHT,
        help=f"--stage vae and decoder: weight of the subject's pixels in the L1 loss, where masks are "
        f"known (default: {FIGURE_WEIGHT:g}; 1 is plain L1)",
    )
    parser.add_argument(
        "--freeze-text-encoder",
        action="store_true",
        help="--stage unet: keep the random CLIP text encoder fixed instead of training it with the UNet",
    )
    _add_common(parser)
    return parser


def base_main(argv: Sequence[str] | None = None) -> int:
    """``training/base_model.py``: parse ``argv`` (default ``sys.argv[1:]``) and run one stage."""
    from .train_base import BaseRun, train_base, with_resolution

    args = base_parser().parse_args(argv)

    def train() -> Path:
        config = with_resolution(get_config(args.config), args.resolution)
        run = BaseRun(
            args.stage,
            config,
            _loop_options(args),
            vae=args.vae,
            snr_gamma=args.snr_gamma,
            figure_weight=args.figure_weight,
            train_text_encoder=not args.freeze_text_encoder,
            half=not args.no_half,
        )
        dataset = _dataset(args, config.resolution, control=False, layout="body_18")
        return train_base(run, dataset, _accelerator(args))

    return _run(train)


def controlnet_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="training/controlnet.py",
        description="Train a pose ControlNet on a frozen base model (the mini model's OUTPUT/model, any SD "
        "1.x folder or hub id). Writes OUTPUT/controlnet. Run with `accelerate launch`.",
    )
    parser.add_argument("--base", required=True, help="base model: diffusers folder, hub id or 'tiny'")
    parser.add_argument(
        "--layout", default="body_18", help="keypoint layout of the skeletons (default: body_18)"
    )
    parser.add_argument("--resolution", type=int, default=128, help="training image side (default: 128)")
    _add_common(parser)
    return parser


def controlnet_main(argv: Sequence[str] | None = None) -> int:
    """``training/controlnet.py``: parse ``argv`` (default ``sys.argv[1:]``) and train."""
    from .train_controlnet import ControlNetRun, train_controlnet

    args = controlnet_parser().parse_args(argv)

    def train() -> Path:
        if args.resolution <= 0 or args.resolution % 8:
            raise ValueError(f"--resolution must be a positive multiple of 8, got {args.resolution}")
        run = ControlNetRun(
            args.base,
            _loop_options(args),
            layout=args.layout,
            snr_gamma=args.snr_gamma,
            half=not args.no_half,
        )
        dataset = _dataset(args, args.resolution, control=True, layout=args.layout)
        return train_controlnet(run, dataset, _accelerator(args))

    return _run(train)
