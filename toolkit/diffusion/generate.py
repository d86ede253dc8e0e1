"""The generation loop: batched, resumable, temporally consistent.

1. Frames already on disk are skipped; the rest are planned into pipeline calls of a fixed size.
2. Each call denoises several frames at once (one UNet/ControlNet forward per step for the whole batch,
   which is where the speed-up over a per-frame loop comes from). The prompt embeddings are computed once
   per run and passed in, never re-encoded per frame.
3. Each frame's initial latents and sampler noise come from ``(seed, frame index)`` only (see
   :mod:`toolkit.diffusion.noise`), every call has the same size (a short last call is padded by
   repeating its last frame), and the sequence is cut into calls the same way whichever frames are
   missing, so a frame comes out bit-identical whether it is generated in a first run or in a rerun
   after a kill, on the same device.
4. With cross-frame attention, slot 0 of every call holds the anchor frame (frame 0), which the other
   frames attend to (see :mod:`toolkit.diffusion.consistency`). With reference images, every frame also
   attends to them (see :mod:`toolkit.diffusion.reference`); their noise depends on the seed and the
   timestep only, so this holds with them too.
5. With source frames (``init``), each call runs diffusers' ControlNet img2img pipeline on the same
   modules instead, from the sources noised with the same per-frame noise (see :mod:`~.img2img`).
6. Frames are written (atomically) as soon as their call finishes, so an interrupted run keeps them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data.media import write_image
from ..progress import progress_bar
from .consistency import DEFAULT_CONSISTENCY, consistency
from .cross_frame import ReferenceBank, shared_attention
from .guidance import TENSOR_INPUTS, guided_steps, stop_guidance_after
from .img2img import InitFrames, img2img_pipeline, noised_init_latents
from .noise import FrameNoise
from .parameters import PARAMETERS_KEY
from .reference import EncodedReferences, reference_pass
from .schedulers import scheduler_spec

if TYPE_CHECKING:
    from diffusers import StableDiffusionControlNetImg2ImgPipeline, StableDiffusionControlNetPipeline

    from ..pose.skeleton_images import SkeletonImages

FRAME_PATTERN = "{:04d}.png"
ANCHOR = 0


def frame_path(folder: str | Path, index: int) -> Path:
    """``folder/0007.png`` for frame 7."""
    return Path(folder) / FRAME_PATTERN.format(index)


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings of a run.

    Args:
        steps: Denoising steps. Default 20.
        guidance: Classifier-free guidance scale; at most 1 turns guidance off (one UNet pass per step
            instead of two, as LCM wants). Default 7.5.
        seed: Seed of all noise, >= 0. Default 0.
        batch: New frames per pipeline call (cross-frame attention adds the anchor). Default 4.
        controlnet_scale: ControlNet conditioning scale: one value, or one per ControlNet. Default 1.
        consistency: Name from ``consistency.CONSISTENCY``. Default ``"cross-frame"``.
        guidance_stop: Fraction of the steps, in (0, 1], that use classifier-free guidance; the rest run
            the conditional pass alone (one UNet and ControlNet pass instead of two). Guidance matters most
            while the picture is laid out, in the first steps. Default 1 (every step).
        cache_interval: Run the UNet's deep blocks (and the ControlNet) on every ``cache_interval``-th
            step only, reusing their outputs in between (:mod:`~.deep_cache`). Default 1 (off).
        control_once: Under guidance, run the ControlNet on the conditional half only and give both
            halves its residuals (:mod:`~.control_once`). Default False.
    """

    steps: int = 20
    guidance: float = 7.5
    seed: int = 0
    batch: int = 4
    controlnet_scale: tuple[float, ...] = (1.0,)
    consistency: str = DEFAULT_CONSISTENCY
    guidance_stop: float = 1.0
    cache_interval: int = 1
    control_once: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "controlnet_scale", tuple(float(s) for s in self.controlnet_scale))
        checks = {
            "steps": self.steps >= 1,
            "guidance": math.isfinite(self.guidance) and self.guidance >= 0,
            "seed": self.seed >= 0,
            "batch": self.batch >= 1,
            "controlnet_scale": bool(self.controlnet_scale)
            and all(math.isfinite(s) and s >= 0 for s in self.controlnet_scale),
            "guidance_stop": 0 < self.guidance_stop <= 1,
            "cache_interval": self.cache_interval >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"invalid generation setting(s) {', '.join(bad)}: steps, batch, cache_interval >= 1; "
                "guidance, seed and ControlNet scales finite and >= 0; guidance_stop in (0, 1]"
            )
        consistency(self.consistency)  # raises for an unknown name, listing the known ones

    @classmethod
    def for_sampler(
        cls, scheduler: str, *, steps: int | None = None, guidance: float | None = None, **settings: Any
    ) -> GenerationSettings:
        """Settings for sampler ``scheduler`` (a name in ``schedulers.SCHEDULERS``): ``steps`` and
        ``guidance`` default to the sampler's own (20 and 7.5 for UniPC, 4 and 1 for LCM ...)."""
        sampler = scheduler_spec(scheduler)
        return cls(
            steps=steps or sampler.steps,
            guidance=sampler.guidance if guidance is None else guidance,
            **settings,
        )


@dataclass(frozen=True)
class PromptEmbeddings:
    """Text embeddings computed once per run: ``positive`` ``(1, 77, D)``; ``negative`` likewise, or
    ``None`` when guidance is off."""

    positive: torch.Tensor
    negative: torch.Tensor | None


def encode_prompts(
    pipe: StableDiffusionControlNetPipeline, prompt: str, negative: str, guidance: float
) -> PromptEmbeddings:
    """Encode the prompt pair once with the pipeline's text encoder (LoRAs included)."""
    guided = guidance > 1.0
    with torch.no_grad():
        positive, negative_embeds = pipe.encode_prompt(prompt, pipe._execution_device, 1, guided, negative)
    return PromptEmbeddings(positive, negative_embeds if guided else None)


@dataclass(frozen=True)
class Call:
    """One pipeline call: the frame in each batch slot, and which slots are new frames to write."""

    slots: tuple[int, ...]
    writes: tuple[int, ...]


def plan_calls(count: int, pending: Collection[int], batch: int, anchor: int | None = None) -> list[Call]:
    """The calls that write the ``pending`` frames of a ``count``-frame sequence.

    The sequence is always cut the same way, whichever frames are pending: frames in order, ``batch`` per
    call (``batch + 1`` slots with an ``anchor`` frame in slot 0 of each), a short last call padded by
    repeating its last frame. A call runs only if it writes a pending frame, and writes only those, so a
    frame is always computed beside the same frames, in the same slot, as in an uninterrupted run.

    Example: ``plan_calls(6, [0, 1, 2, 3, 5], 2, anchor=0)`` gives slots ``(0, 1, 2)`` writing all three,
    then ``(0, 3, 4)`` writing slot 1 and ``(0, 5, 5)`` writing slot 1.
    """
    wanted = set(pending)
    others = [i for i in range(count) if i != anchor]
    chunks = [others[k : k + batch] for k in range(0, len(others), batch)] or [[]]
    calls = []
    for n, chunk in enumerate(chunks):
        filler = chunk[-1] if chunk else anchor  # an empty chunk only occurs to carry the anchor
        if filler is None:
            break  # an empty sequence
        padded = chunk + [filler] * (batch - len(chunk))
        slots = tuple(padded) if anchor is None else (anchor, *padded)
        first = 0 if anchor is None else 1
        writes = [first + k for k, frame in enumerate(chunk) if frame in wanted]
        if anchor is not None and n == 0 and anchor in wanted:
            writes.insert(0, 0)
        if writes:
            calls.append(Call(slots, tuple(writes)))
    return calls


@dataclass
class FrameStats:
    """What :func:`generate_frames` did."""

    generated: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    calls: int = 0
    call_size: int = 0
    seconds: float = 0.0


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` floats in [0, 1] -> uint8, rounded as diffusers rounds its PIL output."""
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


def _conditioning_scale(
    pipe: StableDiffusionControlNetPipeline, scales: tuple[float, ...]
) -> float | list[float]:
    """The ``controlnet_conditioning_scale`` argument: a float for one ControlNet, a list for several."""
    nets = len(getattr(pipe.controlnet, "nets", [pipe.controlnet]))
    if len(scales) not in (1, nets):
        raise ValueError(f"got {len(scales)} ControlNet scales for {nets} ControlNets; give one, or one each")
    if nets == 1:
        return scales[0]
    return [scales[0]] * nets if len(scales) == 1 else list(scales)


@contextmanager
def _shared_attention(
    pipe: StableDiffusionControlNetPipeline,
    call_size: int,
    anchor: bool,
    references: EncodedReferences | None,
    seed: int,
) -> Iterator[None]:
    """The UNet, for the context, attending to each call's anchor frame and/or the references."""
    with ExitStack() as stack:
        bank = None
        if references is not None:
            bank = ReferenceBank(fidelity=references.fidelity)
            alphas = pipe.scheduler.alphas_cumprod
            stack.enter_context(reference_pass(pipe.unet, alphas, references.latents, bank, call_size, seed))
        stack.enter_context(shared_attention(pipe.unet, call_size, anchor=anchor, bank=bank))
        yield


def _denoise(
    pipe: StableDiffusionControlNetPipeline | StableDiffusionControlNetImg2ImgPipeline,
    init: InitFrames | None,
    slots: list[int],
    control: torch.Tensor | list[torch.Tensor],
    latents: torch.Tensor,
    options: dict[str, Any],
) -> np.ndarray:
    """One call's frames, ``(N, H, W, 3)`` floats in [0, 1]: text-to-image from the noise ``latents``
    ``(N, C, h, w)``, or img2img from the source frames of ``slots`` noised with them.

    Args:
        pipe: The text-to-image pipeline, or with ``init`` its img2img twin (:func:`img2img_pipeline`).
        control: ``(N, 3, H, W)`` skeletons in [0, 1], one tensor per ControlNet when there are several.
        options: The other pipeline arguments (prompt embeddings, steps, guidance, size ...).
    """
    if init is None:
        return pipe(
            image=control, latents=latents.to(pipe._execution_device, pipe.unet.dtype), **options
        ).images
    steps = options["num_inference_steps"]
    start = noised_init_latents(pipe, init.frames[slots], latents, steps, init.strength)
    source = torch.from_numpy(init.frames[slots]).permute(0, 3, 1, 2).float() / 255.0
    return pipe(image=source, control_image=control, strength=init.strength, latents=start, **options).images


def run_calls(
    pipe: StableDiffusionControlNetPipeline,
    skeletons: SkeletonImages,
    embeddings: PromptEmbeddings,
    settings: GenerationSettings,
    calls: Sequence[Call],
    *,
    references: EncodedReferences | None = None,
    init: InitFrames | None = None,
) -> Iterator[tuple[Call, np.ndarray]]:
    """Run the pipeline ``calls`` (from :func:`plan_calls`) one by one, yielding each with its frames,
    ``(N, H, W, 3)`` uint8, one per slot, as soon as it finishes.

    Args:
        pipe: A ready pipeline (models loaded, scheduler set, on its device).
        skeletons: The skeleton images, drawn call by call; every ControlNet is given the same images.
        embeddings: From :func:`encode_prompts`.
        settings: Sampling settings (the calls must have been planned with its batch and consistency).
        calls: The calls to run.
        references: Reference images every frame attends to (from
            :func:`~.reference.encode_references`); ``None`` for none.
        init: Source frames to re-render (image-to-image, see :mod:`~.img2img`), one per pose frame;
            ``None`` for text-to-image.
    """
    if not calls:
        return
    width, height = skeletons.size
    mechanism = consistency(settings.consistency)
    latent_shape = (
        pipe.unet.config.in_channels,
        height // pipe.vae_scale_factor,
        width // pipe.vae_scale_factor,
    )
    noise = FrameNoise(settings.seed, latent_shape, mechanism.noise, mechanism.blend)
    nets = len(getattr(pipe.controlnet, "nets", [pipe.controlnet]))
    scale = _conditioning_scale(pipe, settings.controlnet_scale)
    negative = embeddings.negative
    runner = pipe if init is None else img2img_pipeline(pipe)
    call_size = len(calls[0].slots)
    extra: dict[str, Any] = {}
    guided = guided_steps(settings.steps, settings.guidance_stop)
    if settings.guidance > 1 and guided < settings.steps:
        if init is not None or references is not None:
            raise ValueError("guidance_stop below 1 does not combine with references or init frames yet")
        extra = {
            "callback_on_step_end": stop_guidance_after(guided),
            "callback_on_step_end_tensor_inputs": TENSOR_INPUTS,
        }
    if settings.cache_interval > 1 and references is not None:
        raise ValueError("cache_interval above 1 does not combine with references yet")
    from .control_embedding import control_embedding_once
    from .control_once import control_once
    from .deep_cache import deep_cache

    with (
        _shared_attention(pipe, call_size, mechanism.cross_frame, references, settings.seed),
        control_embedding_once(pipe),  # exact: the control image is the same at every step
        control_once(pipe, settings.control_once),  # inside the cache's hook: see control_once
        deep_cache(pipe, settings.cache_interval),
    ):
        for call in calls:
            slots = list(call.slots)
            drawn = torch.from_numpy(skeletons.draw(slots))  # (N, H, W, 3) uint8
            control = drawn.permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W) in [0, 1]
            options = {
                "prompt_embeds": embeddings.positive.expand(call_size, -1, -1),
                "negative_prompt_embeds": None if negative is None else negative.expand(call_size, -1, -1),
                "generator": noise.step_generators(call.slots),
                "num_inference_steps": settings.steps,
                "guidance_scale": settings.guidance,
                "controlnet_conditioning_scale": scale,
                "height": height,
                "width": width,
                "output_type": "np",
                **extra,
            }
            controls_in = control if nets == 1 else [control] * nets
            images = _denoise(runner, init, slots, controls_in, noise.latents(call.slots), options)
            yield call, _to_uint8(images)


def frame_calls(count: int, pending: Collection[int], settings: GenerationSettings) -> list[Call]:
    """The calls that make frames ``pending`` of a ``count``-frame clip under ``settings``."""
    anchor = ANCHOR if consistency(settings.consistency).cross_frame else None
    return plan_calls(count, pending, settings.batch, anchor)


def render_frames(
    pipe: StableDiffusionControlNetPipeline,
    skeletons: SkeletonImages,
    embeddings: PromptEmbeddings,
    settings: GenerationSettings,
    *,
    references: EncodedReferences | None = None,
    init: InitFrames | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Every frame of the clip, in memory: ``(T, H, W, 3)`` uint8, the same pixels :func:`generate_frames`
    writes (see :func:`run_calls` for the arguments)."""
    count = len(skeletons)
    width, height = skeletons.size
    frames = np.zeros((count, height, width, 3), np.uint8)
    calls = frame_calls(count, range(count), settings)
    with progress_bar(total=count, desc="generate", unit="frame", disable=not progress) as bar:
        for call, images in run_calls(
            pipe, skeletons, embeddings, settings, calls, references=references, init=init
        ):
            for slot in call.writes:
                frames[call.slots[slot]] = images[slot]
            bar.update(len(call.writes))
    return frames


def generate_frames(
    pipe: StableDiffusionControlNetPipeline,
    skeletons: SkeletonImages,
    embeddings: PromptEmbeddings,
    settings: GenerationSettings,
    frames_dir: str | Path,
    *,
    references: EncodedReferences | None = None,
    init: InitFrames | None = None,
    parameters: str | None = None,
    progress: bool = True,
) -> FrameStats:
    """Generate every frame of ``skeletons`` that is not yet in ``frames_dir``, writing each (atomically)
    as soon as its call finishes (see :func:`run_calls` for the other arguments).

    Args:
        frames_dir: Output folder; frame ``i`` is ``frames_dir/{i:04d}.png``.
        parameters: Text every frame carries in its PNG ``"parameters"`` chunk (see :mod:`~.parameters`).
        progress: Show a progress bar on stderr. Default True.

    Returns:
        :class:`FrameStats`: indices generated and skipped, number and size of pipeline calls, seconds.
    """
    frames_dir = Path(frames_dir)
    count = len(skeletons)
    done = [frame_path(frames_dir, i).is_file() for i in range(count)]
    stats = FrameStats(skipped=[i for i in range(count) if done[i]])
    pending = [i for i in range(count) if not done[i]]
    calls = frame_calls(count, pending, settings)
    stats.call_size = settings.batch + (1 if consistency(settings.consistency).cross_frame else 0)
    text = None if parameters is None else {PARAMETERS_KEY: parameters}
    started = time.perf_counter()
    with progress_bar(total=len(pending), desc="generate", unit="frame", disable=not progress) as bar:
        for call, images in run_calls(
            pipe, skeletons, embeddings, settings, calls, references=references, init=init
        ):
            for slot in call.writes:
                write_image(frame_path(frames_dir, call.slots[slot]), images[slot], text=text)
                stats.generated.append(call.slots[slot])
            stats.calls += 1
            bar.update(len(call.writes))
    stats.generated.sort()
    stats.seconds = time.perf_counter() - started
    return stats
