"""``toolkit generate`` as a function: a subject, a pose file and settings in; frames, videos and a
manifest out. The command line only parses its flags into a :class:`GenerateRequest` and calls
:func:`run_generate`.

1. Resolve the subject, prompts, models and sampler; read, fit, retarget and draw the poses.
2. Check the output folder: a rerun must have the same settings, and finished frames are skipped.
3. If frames are missing, load the pipeline and apply the speed options (before anything is written, so
   a model that cannot be loaded leaves no half-made folder).
4. Write the skeleton images, encode the prompts once, generate the missing frames.
5. Write the videos, the contact sheet and the manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..manifest import write_manifest
from ..pose.io import load_poses
from .consistency import DEFAULT_CONSISTENCY
from .controls import prepare_poses, skeleton_images
from .generate import GenerationSettings, encode_prompts, frame_path, generate_frames
from .img2img import DEFAULT_STRENGTH, InitFrames, check_strength
from .loading import (
    MINI,
    LoraWeights,
    file_sha256,
    load_loras,
    load_pipeline,
    lora_file,
    native_size,
    resolve_source,
)
from .outputs import FRAMES_DIR, prepare_out, read_frames, write_controls, write_videos
from .parameters import Parameters
from .prompts import Prompts, resolve_prompts
from .reference import DEFAULT_FIDELITY, References, encode_references
from .schedulers import DEFAULT_SCHEDULER, scheduler_spec, set_scheduler
from .speed import SpeedOptions, apply_speed
from .subjects import DEFAULT_BASE, DEFAULT_CONTROLNET, Subject, SubjectError, SubjectRegistry
from .tiny import TINY

if TYPE_CHECKING:
    from diffusers import StableDiffusionControlNetPipeline

    from ..pose.proportions import BodyProportions
    from ..pose.skeleton_images import SkeletonImages


@dataclass(frozen=True)
class GenerateRequest:
    """Everything ``toolkit generate`` is asked to do. ``None`` means "the subject's, else the default".

    Args:
        poses: Pose file or folder (any format ``load_poses`` reads).
        canvas: ``(width, height)`` the poses were measured on, for a file that states none (raw
            OpenPose); the output size is ``size``, not this.
        out: Output folder.
        subject: Subject name in the registry, or ``None`` to render the base model's "a person".
        subjects_dir: Registry root; default ``$TOOLKIT_SUBJECTS_DIR`` or ``./subjects``.
        prompt: Literal prompt with optional ``{token}``/``{class}``.
        template: Prompt template name (``prompts/<name>.toml``).
        negative_prompt: Literal negative prompt.
        base: Base model spec; default the subject's, else SD 1.5.
        base_config: Diffusers config for a single-file base.
        controlnets: ControlNet specs; default the subject's, else ``tiny`` or ``mini`` for that base,
            else the SD 1.5 OpenPose ControlNet.
        lcm_lora: An LCM-LoRA to fuse (file, folder or hub id); selects the ``lcm`` sampler by default.
        lora_scale: Strength of the subject's LoRA; 0 renders the base model. Default 1.
        loras: More LoRAs, ``(file, folder or hub id, scale)`` each, in diffusers', kohya's or A1111's
            format, applied after the subject's (if any). Default none.
        references: Photos every frame attends to (see :mod:`~.reference`); ``"subject"`` stands for the
            subject's own training photos. Default none.
        reference_fidelity: How much guidance pushes towards the references, in [0, 1]. Default 0.5.
        init: Source frames to re-render, one per pose (video, folder of images or image; see
            :mod:`~.img2img`); ``None`` renders from noise.
        strength: With ``init``, how far each source frame is noised, in (0, 1]. Default 0.75.
        size: Output ``(width, height)``, multiples of 8. Default: the base model's own (512 x 512 for
            SD 1.5, 128 x 128 for ``mini``).
        fps: Video frame rate; default the pose file's.
        retarget: Retarget poses to the subject's body proportions; default: when the subject has them.
        scheduler: Sampler name; default ``lcm`` with an LCM-LoRA, else ``unipc``.
        steps: Denoising steps; default the sampler's.
        guidance: Guidance scale; default the sampler's.
        guidance_stop: Fraction of the steps that use guidance (see :mod:`~.guidance`). Default 1.
        cache_interval: Run the deep UNet blocks every this many steps (see :mod:`~.deep_cache`).
            Default 1 (off).
        control_once: Run the ControlNet on the conditional half only (see :mod:`~.control_once`).
        seed, batch, controlnet_scale, consistency: As in :class:`~.generate.GenerationSettings`.
        speed: Device, dtype and speed knobs.
        overwrite: Replace frames of earlier runs instead of resuming.
        videos: Write ``video.mp4``, ``video.gif`` and ``contact_sheet.png`` (False: frames only, for
            callers that read the frames back). Default True.
        progress: Show a progress bar.
    """

    poses: Path
    out: Path
    canvas: tuple[int, int] | None = None
    subject: str | None = None
    subjects_dir: Path | None = None
    prompt: str | None = None
    template: str | None = None
    negative_prompt: str | None = None
    base: str | None = None
    base_config: str | None = None
    controlnets: tuple[str, ...] = ()
    lcm_lora: str | None = None
    lora_scale: float = 1.0
    loras: tuple[tuple[str, float], ...] = ()
    references: tuple[str, ...] = ()
    reference_fidelity: float = DEFAULT_FIDELITY
    init: Path | None = None
    strength: float = DEFAULT_STRENGTH
    size: tuple[int, int] | None = None
    fps: float | None = None
    retarget: bool | None = None
    scheduler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    guidance_stop: float = 1.0
    cache_interval: int = 1
    control_once: bool = False
    seed: int = 0
    batch: int = 4
    controlnet_scale: tuple[float, ...] = (1.0,)
    consistency: str = DEFAULT_CONSISTENCY
    speed: SpeedOptions = field(default_factory=SpeedOptions)
    overwrite: bool = False
    videos: bool = True
    progress: bool = True


@dataclass(frozen=True)
class GenerateResult:
    """What a run produced."""

    out: Path
    frames: int
    generated: int
    skipped: int
    seconds: float
    manifest: Path


def _subject(request: GenerateRequest) -> tuple[Subject | None, Path | None]:
    """The requested subject and its folder, checked to hold LoRA weights."""
    if request.subject is None and request.lora_scale != 1.0:
        raise ValueError("--lora-scale sets the strength of a subject's LoRA; pass --subject NAME")
    return find_subject(request.subject, request.subjects_dir)


def find_subject(name: str | None, subjects_dir: Path | None = None) -> tuple[Subject | None, Path | None]:
    """Subject ``name`` of the registry and its folder, checked to hold LoRA weights; ``(None, None)``
    for no name."""
    if name is None:
        return None, None
    registry = SubjectRegistry.at(subjects_dir)
    subject = registry.get(name)
    folder = registry.folder(subject.name)
    if not subject.lora_path(folder).is_file():
        raise SubjectError(
            f"subject {subject.name!r} has no LoRA weights at {subject.lora_path(folder)}; train it first"
        )
    return subject, folder


def retarget_proportions(retarget: bool | None, subject: Subject | None) -> BodyProportions | None:
    """The proportions to retarget to: the subject's, unless ``retarget`` is False or (when None) it has
    none; ``retarget=True`` without them is a one-line ``ValueError``."""
    wanted = retarget if retarget is not None else bool(subject and subject.proportions)
    if not wanted:
        return None
    if subject is None or subject.proportions is None:
        who = f"subject {subject.name!r} has" if subject else "there is no subject, so there are"
        raise ValueError(f"cannot retarget: {who} no body proportions; drop --retarget")
    return subject.proportions


def resolve_models(
    base: str | None, controlnets: tuple[str, ...], subject: Subject | None
) -> tuple[str, tuple[str, ...]]:
    """Base and ControlNet specs: explicit ones, else the subject's, else the defaults (the same name for
    both when the base is ``tiny`` or ``mini``); each checked to exist (a one-line error otherwise)."""
    chosen = base or (subject.base if subject else DEFAULT_BASE)
    if controlnets:
        nets = controlnets
    elif chosen in (TINY, MINI):
        nets = (chosen,)
    else:
        nets = subject.controlnets if subject and not base else (DEFAULT_CONTROLNET,)
    resolve_source(chosen, "base model", "--base")
    for spec in nets:
        resolve_source(spec, "ControlNet", "--controlnet", part="controlnet")
    return chosen, nets


def subject_loras(subject: Subject | None, folder: Path | None, scale: float) -> list[LoraWeights]:
    """The LoRAs that make ``subject``: the concept it was trained on (if any), then its own at
    ``scale``; none without a subject."""
    if subject is None or folder is None:
        return []
    loras = []
    concept = subject.concept_path(folder)
    if concept is not None:  # the base the subject was trained on
        loras.append(LoraWeights(concept, subject.concept_scale, "concept"))
    loras.append(LoraWeights(subject.lora_path(folder), scale, "subject"))
    return loras


def _references(
    request: GenerateRequest, subject: Subject | None, folder: Path | None, width: int, height: int
) -> References | None:
    """The reference photos, read and fitted to the canvas; ``"subject"`` expands to the subject's."""
    if not request.references:
        return None
    paths: list[str | Path] = []
    for reference in request.references:
        if reference != "subject":
            paths.append(reference)
        elif subject is None or folder is None:
            raise ValueError("--reference subject uses the photos of --subject NAME; pass --subject too")
        else:
            paths.extend(subject.photo_paths(folder))
    return References.read(paths, width, height, request.reference_fidelity)


def _lora_hash(lora: LoraWeights) -> str | None:
    weights = lora_file(lora.source)
    return file_sha256(weights) if weights else None


@dataclass(frozen=True)
class GenerationPlan:
    """Everything decided about a run before any model is loaded."""

    skeletons: SkeletonImages  # what the ControlNet sees, drawn as frames are generated
    fps: float
    retargeted: bool
    prompts: Prompts
    base: str
    controlnets: tuple[str, ...]
    loras: tuple[LoraWeights, ...]
    references: References | None
    init: InitFrames | None
    scheduler: str
    settings: GenerationSettings
    device: torch.device
    dtype: torch.dtype

    def fingerprint(self, vae_tiling: bool) -> dict[str, Any]:
        """Every setting that decides the pixels (JSON-safe); a rerun resumes only if it is unchanged."""
        settings = self.settings
        return {
            "poses_sha256": self.skeletons.sha256(),
            "frames": len(self.skeletons),
            "size": list(self.skeletons.size),
            "prompt": self.prompts.prompt,
            "negative_prompt": self.prompts.negative,
            "base": self.base,
            "controlnets": list(self.controlnets),
            "loras": [[str(lora.source), lora.scale, _lora_hash(lora)] for lora in self.loras],
            "scheduler": self.scheduler,
            "steps": settings.steps,
            "guidance": settings.guidance,
            "seed": settings.seed,
            "batch": settings.batch,
            "controlnet_scale": list(settings.controlnet_scale),
            "consistency": settings.consistency,
            "dtype": str(self.dtype).removeprefix("torch."),
            "vae_tiling": vae_tiling,
        } | self._optional()

    def _optional(self) -> dict[str, Any]:
        """Fingerprint entries of features a run may not use; absent when unused, so that runs without
        them resume across versions."""
        entries = {}
        if self.references is not None:
            entries["references"] = self.references.fingerprint()
        if self.init is not None:
            entries["init"] = self.init.fingerprint()
        if self.settings.guidance_stop < 1:
            entries["guidance_stop"] = self.settings.guidance_stop
        if self.settings.cache_interval > 1:
            entries["cache_interval"] = self.settings.cache_interval
        if self.settings.control_once:
            entries["control_once"] = True
        return entries


def plan_generation(request: GenerateRequest) -> GenerationPlan:
    """Resolve the subject, poses, prompts, models and sampler of ``request``; cheap, loads no model.

    Raises:
        ToolkitError / ValueError: for bad input, in one line.
    """
    subject, subject_folder = _subject(request)
    proportions = retarget_proportions(request.retarget, subject)
    base, controlnets = resolve_models(request.base, request.controlnets, subject)
    width, height = request.size or native_size(base)
    poses = prepare_poses(load_poses(request.poses, canvas=request.canvas), width, height, proportions)
    prompts = resolve_prompts(
        subject=subject, template=request.template, prompt=request.prompt, negative=request.negative_prompt
    )
    loras = subject_loras(subject, subject_folder, request.lora_scale)
    loras.extend(LoraWeights(spec, scale, f"lora{i}") for i, (spec, scale) in enumerate(request.loras))
    if request.lcm_lora:
        loras.append(LoraWeights(request.lcm_lora, 1.0, "lcm"))
    scheduler = request.scheduler or ("lcm" if request.lcm_lora else DEFAULT_SCHEDULER)
    device, dtype = request.speed.resolve()
    settings = GenerationSettings.for_sampler(
        scheduler,
        steps=request.steps,
        guidance=request.guidance,
        guidance_stop=request.guidance_stop,
        cache_interval=request.cache_interval,
        control_once=request.control_once,
        seed=request.seed,
        batch=request.batch,
        controlnet_scale=request.controlnet_scale,
        consistency=request.consistency,
    )
    init = None
    if request.init is not None:
        check_strength(request.strength, settings.steps)
        init = InitFrames.read(request.init, len(poses), width, height, request.strength)
    return GenerationPlan(
        skeletons=skeleton_images(poses),
        fps=request.fps or poses.fps,
        retargeted=proportions is not None,
        prompts=prompts,
        base=base,
        controlnets=controlnets,
        loras=tuple(loras),
        references=_references(request, subject, subject_folder, width, height),
        init=init,
        scheduler=scheduler,
        settings=settings,
        device=device,
        dtype=dtype,
    )


def _parameters(plan: GenerationPlan, models: dict[str, Any]) -> Parameters:
    """The run's A1111-style parameters; ``models`` is what :func:`_load` loaded."""
    base = Path(plan.base).expanduser()
    settings = plan.settings
    return Parameters(
        prompt=plan.prompts.prompt,
        negative=plan.prompts.negative,
        steps=settings.steps,
        sampler=scheduler_spec(plan.scheduler).a1111_name,
        guidance=settings.guidance,
        seed=settings.seed,
        size=plan.skeletons.size,
        model=plan.base,
        model_hash=file_sha256(base) if base.is_file() else None,  # a single-file checkpoint
        loras=[(lora["name"], lora["sha256"]) for lora in models.get("loras", [])],
        controlnets=plan.controlnets,
        controlnet_scale=settings.controlnet_scale,
    )


def _load(
    plan: GenerationPlan, request: GenerateRequest
) -> tuple[StableDiffusionControlNetPipeline, dict[str, Any], dict[str, Any]]:
    """The ready pipeline, what was loaded (for the manifest) and the speed options applied."""
    pipe = load_pipeline(plan.base, plan.controlnets, dtype=plan.dtype, base_config=request.base_config)
    models = {
        "base": plan.base,
        "controlnets": list(plan.controlnets),
        "loras": load_loras(pipe, plan.loras),
        "scheduler": type(set_scheduler(pipe, plan.scheduler)).__name__,
    }
    return pipe, models, apply_speed(pipe, request.speed)


def run_generate(request: GenerateRequest, *, command: list[str] | None = None) -> GenerateResult:
    """Render ``request.poses`` as frames, videos and a manifest in ``request.out`` (see the module
    docstring). Finished frames of an earlier run with the same settings are kept and skipped.

    Args:
        request: What to render and how.
        command: The command line for the manifest; default ``sys.argv``.

    Raises:
        ToolkitError / ValueError: for bad input, in one line.
    """
    started = time.perf_counter()
    # 1. Decide everything.
    plan = plan_generation(request)
    timings = {"prepare": time.perf_counter() - started}
    count = len(plan.skeletons)

    # 2. Check the output folder.
    out = Path(request.out)
    fingerprint = plan.fingerprint(request.speed.vae_tiling)
    prepare_out(out, fingerprint, overwrite=request.overwrite)
    frames_dir = out / FRAMES_DIR
    missing = [i for i in range(count) if not frame_path(frames_dir, i).is_file()]

    # 3. Load the models only if there is something to generate, before anything is written.
    pipe, models = None, {"base": plan.base, "controlnets": list(plan.controlnets)}
    speed: dict[str, Any] = {"device": str(plan.device), "dtype": fingerprint["dtype"]}
    if missing:
        t = time.perf_counter()
        pipe, models, speed = _load(plan, request)
        timings["load"] = time.perf_counter() - t

    def manifest(outputs: dict[str, Any]) -> Path:
        options = {
            "fingerprint": fingerprint,
            "subject": request.subject,
            "template": plan.prompts.template,
            "retargeted": plan.retargeted,
            "references": [] if plan.references is None else list(plan.references.sources),
            "init": None if plan.init is None else plan.init.source,
            "batch": plan.settings.batch,
            "fps": plan.fps,
            "speed": speed,
        }
        return write_manifest(
            out,
            command=command,
            seed=plan.settings.seed,
            options=options,
            models=models,
            timings=timings,
            outputs=outputs,
        )

    # 4. Skeletons, prompt embeddings (once), the missing frames.
    write_controls(out, plan.skeletons)
    manifest({"complete": False})
    generated, calls, call_size = [], 0, 0
    if pipe is not None:
        t = time.perf_counter()
        embeddings = encode_prompts(pipe, plan.prompts.prompt, plan.prompts.negative, plan.settings.guidance)
        references = None if plan.references is None else encode_references(pipe, plan.references)
        timings["encode_prompt"] = time.perf_counter() - t
        stats = generate_frames(
            pipe,
            plan.skeletons,
            embeddings,
            plan.settings,
            frames_dir,
            references=references,
            init=plan.init,
            parameters=_parameters(plan, models).text(),
            progress=request.progress,
        )
        timings["generate"] = stats.seconds
        timings["per_frame"] = stats.seconds / max(len(stats.generated), 1)
        generated, calls, call_size = stats.generated, stats.calls, stats.call_size

    # 5. Videos and contact sheet (unless not wanted), manifest.
    t = time.perf_counter()
    files = write_videos(out, plan.skeletons, read_frames(out, count), plan.fps) if request.videos else []
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    path = manifest(
        {
            "complete": True,
            "frames": count,
            "generated": len(generated),
            "skipped": count - len(generated),
            "generated_indices": generated,
            "calls": calls,
            "call_size": call_size,
            "files": [f"{FRAMES_DIR}/", "controls/", *files],
        }
    )
    return GenerateResult(out, count, len(generated), count - len(generated), timings["total"], path)
