"""``toolkit generate``: render a subject in every pose of a pose file (SD + OpenPose ControlNet + LoRA)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..argtypes import non_negative_float, non_negative_int
from ._args import add_canvas_arguments, canvas_of, canvas_size, positive_float, positive_int


def lora_spec(text: str) -> tuple[str, float]:
    """``PATH[:SCALE]`` -> ``(PATH, SCALE)``; the scale defaults to 1. A suffix that is not a number
    stays part of the path."""
    path, _, suffix = text.rpartition(":")
    if path:
        try:
            scale = float(suffix)
        except ValueError:
            return text, 1.0
        if not math.isfinite(scale):
            raise argparse.ArgumentTypeError(f"LoRA scale must be a finite number, got {suffix!r}")
        return path, scale
    return text, 1.0


def _fraction(text: str) -> float:
    """A number in [0, 1]."""
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _positive_fraction(text: str) -> float:
    """A number in (0, 1]."""
    value = non_negative_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def register(groups: argparse._SubParsersAction) -> None:
    from ..diffusion.consistency import CONSISTENCY, DEFAULT_CONSISTENCY
    from ..diffusion.img2img import DEFAULT_STRENGTH
    from ..diffusion.reference import DEFAULT_FIDELITY
    from ..diffusion.schedulers import DEFAULT_SCHEDULER, SCHEDULERS
    from ..diffusion.speed import ATTENTION, DEVICES, DTYPES
    from ..diffusion.subjects import DEFAULT_BASE, DEFAULT_CONTROLNET, SUBJECTS_ENV

    parser = groups.add_parser(
        "generate",
        help="render a subject in every pose of a pose file (Stable Diffusion + ControlNet + LoRA)",
        description="Render a trained subject (or the base model's 'a person') in every pose of a pose file: "
        "frames/, controls/, video.mp4, video.gif, contact_sheet.png and manifest.json in --out. Frames are "
        "generated in batches with shared noise and cross-frame attention for temporal consistency. A rerun "
        "with the same settings skips finished frames. See docs/generate.md.",
    )
    what = parser.add_argument_group("what to render")
    what.add_argument(
        "--poses", type=Path, required=True, help="pose file or folder (toolkit JSON, OpenPose, COCO, PATN)"
    )
    add_canvas_arguments(what)
    what.add_argument(
        "--subject", default=None, help="subject name in the registry; none renders the base model"
    )
    what.add_argument(
        "--subjects-dir",
        type=Path,
        default=None,
        help=f"subject registry folder (default: ${SUBJECTS_ENV} or ./subjects)",
    )
    what.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        help="output folder (default: outputs/<subject or 'base'>_<pose file stem>)",
    )
    what.add_argument(
        "--overwrite",
        action="store_true",
        help="delete frames of an earlier run in --out instead of resuming (default: resume)",
    )

    prompt = parser.add_argument_group("prompt")
    prompt.add_argument(
        "--prompt",
        default=None,
        help="prompt text; {token} and {class} are the subject's (default: from the template)",
    )
    prompt.add_argument(
        "--template",
        default=None,
        help="prompt template in prompts/ (default: the subject's, else 'default')",
    )
    prompt.add_argument("--negative-prompt", default=None, help="negative prompt (default: the template's)")

    models = parser.add_argument_group("models")
    models.add_argument(
        "--base",
        default=None,
        help=f"base model: hub id, diffusers folder, .safetensors file, 'mini' (the small packaged "
        "model trained on mannequins) or 'tiny' (random weights, "
        f"for testing) (default: the subject's, else {DEFAULT_BASE})",
    )
    models.add_argument(
        "--base-config",
        default=None,
        help="diffusers config (hub id or folder) for a single-file --base (default: inferred)",
    )
    models.add_argument(
        "--controlnet",
        action="append",
        default=None,
        help="ControlNet, as --base; repeat for several (each gets the skeleton images) "
        f"(default: the subject's, the same name with --base tiny or mini, else {DEFAULT_CONTROLNET})",
    )
    models.add_argument(
        "--lora-scale",
        type=non_negative_float,
        default=1.0,
        help="strength of the subject's LoRA; 0 renders the base model (default 1)",
    )
    models.add_argument(
        "--lora",
        type=lora_spec,
        action="append",
        default=None,
        metavar="PATH[:SCALE]",
        help="a LoRA to apply (diffusers, kohya or A1111 .safetensors, a save_lora_weights folder, or a hub "
        "id), at SCALE (default 1); repeatable; on top of the subject's LoRA, or alone without --subject",
    )
    models.add_argument(
        "--lcm-lora",
        default=None,
        help="LCM-LoRA file, folder or hub id to fuse for few-step sampling (selects --scheduler lcm)",
    )
    models.add_argument(
        "--controlnet-scale",
        type=non_negative_float,
        action="append",
        default=None,
        help="ControlNet conditioning scale; repeat for one per ControlNet (default: 1.0)",
    )

    identity = parser.add_argument_group("identity from photos (reference-only attention, no training)")
    identity.add_argument(
        "--reference",
        action="append",
        default=None,
        metavar="PHOTO",
        help="photo of the person to draw: every frame's self-attention also attends to it; repeat for "
        "several; 'subject' uses --subject's training photos. Works alone or with the subject's LoRA",
    )
    identity.add_argument(
        "--reference-fidelity",
        type=_fraction,
        default=DEFAULT_FIDELITY,
        help="in [0, 1]: how much the unguided half of classifier-free guidance ignores the references, "
        f"so guidance pushes towards them (as diffusers' style_fidelity) (default {DEFAULT_FIDELITY})",
    )

    source = parser.add_argument_group("image-to-image (re-render existing frames as the subject)")
    source.add_argument(
        "--init",
        type=Path,
        default=None,
        metavar="FRAMES_OR_VIDEO",
        help="video, folder of images or image whose frame i starts pose i's denoising (ControlNet "
        "img2img); it needs at least one frame per pose (default: start from noise)",
    )
    source.add_argument(
        "--strength",
        type=positive_float,
        default=DEFAULT_STRENGTH,
        help="with --init, in (0, 1]: how far each source frame is noised; 1 ignores it, low values keep "
        f"its layout and colours; the last int(steps x strength) steps run (default {DEFAULT_STRENGTH})",
    )

    sampling = parser.add_argument_group("sampling")
    sampling.add_argument(
        "--scheduler",
        choices=list(SCHEDULERS),
        default=None,
        help="sampler: "
        + "; ".join(f"{k}: {v.description}" for k, v in SCHEDULERS.items())
        + f" (default: lcm with --lcm-lora, else {DEFAULT_SCHEDULER})",
    )
    sampling.add_argument(
        "--steps", type=positive_int, default=None, help="denoising steps (default: the sampler's)"
    )
    sampling.add_argument(
        "--guidance",
        type=non_negative_float,
        default=None,
        help="classifier-free guidance scale; <= 1 turns it off (default: the sampler's)",
    )
    sampling.add_argument(
        "--guidance-stop",
        type=_positive_fraction,
        default=1.0,
        metavar="FRACTION",
        help="guide only the first FRACTION of the steps, in (0, 1]; the rest run one pass instead of two "
        "(e.g. 0.5: about 1.3x faster at 20 steps) (default 1: every step)",
    )
    sampling.add_argument(
        "--cache-interval",
        type=positive_int,
        default=1,
        metavar="K",
        help="run the UNet's deep blocks and the ControlNet on every K-th step only, reusing their outputs "
        "in between (DeepCache); 1 turns it off (e.g. 3: 2.1-2.2x faster on mini at 128 px; see "
        "docs/benchmarks.md) (default 1)",
    )
    sampling.add_argument(
        "--control-once",
        action="store_true",
        help="under guidance, run the ControlNet on the conditional half only and give both halves its "
        "residuals (unlike guess mode, the pose steers both) (default off)",
    )
    sampling.add_argument("--seed", type=non_negative_int, default=0, help="seed of all noise (default 0)")
    sampling.add_argument(
        "--size",
        type=canvas_size,
        default=None,
        help="output WxH, multiples of 8; poses are fitted with their aspect kept (default: the base "
        "model's own: 512x512 for SD 1.5, 128x128 for mini)",
    )
    sampling.add_argument(
        "--batch", type=positive_int, default=4, help="new frames per pipeline call (default 4)"
    )
    sampling.add_argument(
        "--consistency",
        choices=list(CONSISTENCY),
        default=DEFAULT_CONSISTENCY,
        help="how frames are tied together: "
        + "; ".join(f"{k}: {v.description}" for k, v in CONSISTENCY.items())
        + f" (default {DEFAULT_CONSISTENCY})",
    )
    sampling.add_argument(
        "--retarget",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="retarget poses to the subject's body proportions (default: when it has them)",
    )
    sampling.add_argument(
        "--fps", type=positive_float, default=None, help="video frame rate (default: the pose file's)"
    )

    speed = parser.add_argument_group("speed")
    speed.add_argument(
        "--device",
        default="auto",
        help=f"{', '.join(DEVICES)} or cuda:N; auto picks cuda, mps, cpu (default auto)",
    )
    speed.add_argument(
        "--dtype",
        choices=["auto", *DTYPES],
        default="auto",
        help="weights' precision; auto: fp16 on GPUs, fp32 on CPU (default auto)",
    )
    speed.add_argument(
        "--attention",
        choices=list(ATTENTION),
        default="sdpa",
        help="attention kernels: PyTorch SDPA, or xformers (CUDA only) (default sdpa)",
    )
    speed.add_argument(
        "--compile", action="store_true", help="torch.compile the UNet and ControlNet (default off)"
    )
    speed.add_argument(
        "--cpu-offload",
        action="store_true",
        help="keep models on the CPU until they run (saves GPU memory; default off)",
    )
    speed.add_argument(
        "--vae-slicing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="decode one image at a time, so memory does not grow with --batch (default on)",
    )
    speed.add_argument(
        "--vae-tiling", action="store_true", help="decode in tiles, for very large images (default off)"
    )
    speed.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=_generate)


def _generate(args: argparse.Namespace) -> None:
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    from ..diffusion.job import GenerateRequest, run_generate
    from ..diffusion.speed import SpeedOptions

    # Library warnings (safety checker, text-encoder LoRA keys ...) would bury the progress bar.
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    out = args.out or Path("outputs") / f"{args.subject or 'base'}_{args.poses.stem}"
    request = GenerateRequest(
        poses=args.poses,
        canvas=canvas_of(args),
        out=out,
        subject=args.subject,
        subjects_dir=args.subjects_dir,
        prompt=args.prompt,
        template=args.template,
        negative_prompt=args.negative_prompt,
        base=args.base,
        base_config=args.base_config,
        controlnets=tuple(args.controlnet or ()),
        lcm_lora=args.lcm_lora,
        lora_scale=args.lora_scale,
        loras=tuple(args.lora or ()),
        references=tuple(args.reference or ()),
        reference_fidelity=args.reference_fidelity,
        init=args.init,
        strength=args.strength,
        size=args.size,
        fps=args.fps,
        retarget=args.retarget,
        scheduler=args.scheduler,
        steps=args.steps,
        guidance=args.guidance,
        guidance_stop=args.guidance_stop,
        cache_interval=args.cache_interval,
        control_once=args.control_once,
        seed=args.seed,
        batch=args.batch,
        controlnet_scale=tuple(args.controlnet_scale or (1.0,)),
        consistency=args.consistency,
        speed=SpeedOptions(
            device=args.device,
            dtype=args.dtype,
            attention=args.attention,
            compile=args.compile,
            vae_slicing=args.vae_slicing,
            vae_tiling=args.vae_tiling,
            cpu_offload=args.cpu_offload,
        ),
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    result = run_generate(request)
    print(
        f"wrote {result.out}: {result.frames} frames ({result.generated} generated, {result.skipped} already "
        f"there) in {result.seconds:.1f} s"
    )
