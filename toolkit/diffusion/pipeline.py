"""``PoseTransferPipeline``: a subject rendered in new poses, in memory, as a diffusers user would expect.

    from toolkit.diffusion.pipeline import PoseTransferPipeline
    from toolkit.pose.motions import make_motion

    pipe = PoseTransferPipeline.from_subject("alice")          # the subject's base, ControlNet and LoRA
    frames = pipe(make_motion("walk", frames=48), seed=0)       # (48, H, W, 3) uint8 RGB

    pipe = PoseTransferPipeline.from_pretrained("mini")         # no subject: the base model's "a person"
    frames = pipe(poses, prompt="a mannequin in a red shirt", num_inference_steps=20)

The models are loaded once, by the constructor; each call takes poses (a ``PoseSequence`` in any layout
on any canvas) and returns frames. The pixels are those ``toolkit generate`` writes for the same settings
(the same batched, temporally consistent loop, :func:`~.generate.render_frames`), without any file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .consistency import DEFAULT_CONSISTENCY
from .controls import prepare_poses, skeleton_images
from .generate import GenerationSettings, encode_prompts, render_frames
from .job import find_subject, resolve_models, retarget_proportions, subject_loras
from .loading import LoraWeights, load_loras, load_pipeline, native_size
from .prompts import resolve_prompts
from .reference import DEFAULT_FIDELITY, References, encode_references
from .schedulers import DEFAULT_SCHEDULER, scheduler_spec, set_scheduler
from .speed import SpeedOptions, apply_speed

if TYPE_CHECKING:
    from diffusers import StableDiffusionControlNetPipeline

    from ..pose.sequence import PoseSequence
    from .subjects import Subject


class PoseTransferPipeline:
    """Base model + OpenPose ControlNet(s) + LoRAs, loaded and ready to render poses.

    Build it with :meth:`from_subject` or :meth:`from_pretrained`; ``pipe`` is the underlying diffusers
    ``StableDiffusionControlNetPipeline`` (LoRAs fused), for anything diffusers can do with it.
    """

    def __init__(
        self,
        pipe: StableDiffusionControlNetPipeline,
        *,
        size: tuple[int, int],
        subject: Subject | None = None,
        scheduler: str = DEFAULT_SCHEDULER,
        loras: list[dict[str, Any]] | None = None,
    ) -> None:
        self.pipe = pipe
        self.size = size  # (width, height) rendered by default: the base model's own
        self.subject = subject
        self.scheduler = scheduler
        self.loras = loras or []  # what load_loras reported: source, scale, matched modules, hash

    @classmethod
    def from_pretrained(
        cls,
        base: str = "mini",
        controlnets: tuple[str, ...] = (),
        *,
        loras: tuple[tuple[str, float], ...] = (),
        scheduler: str = DEFAULT_SCHEDULER,
        speed: SpeedOptions | None = None,
        base_config: str | None = None,
    ) -> PoseTransferPipeline:
        """Load ``base`` (hub id, folder, single file, ``mini`` or ``tiny``) with its OpenPose ControlNet
        (default: ``mini``/``tiny`` for those bases, else SD 1.5's) and ``loras`` (``(spec, scale)``)."""
        weights = [LoraWeights(spec, scale, f"lora{i}") for i, (spec, scale) in enumerate(loras)]
        return cls._load(None, base, controlnets, weights, scheduler, speed, base_config)

    @classmethod
    def from_subject(
        cls,
        name: str,
        *,
        subjects_dir: str | Path | None = None,
        base: str | None = None,
        controlnets: tuple[str, ...] = (),
        lora_scale: float = 1.0,
        scheduler: str = DEFAULT_SCHEDULER,
        speed: SpeedOptions | None = None,
    ) -> PoseTransferPipeline:
        """Load subject ``name`` of the registry: the base and ControlNet it was trained with (or
        ``base`` / ``controlnets``), its concept LoRA (if any) and its own LoRA at ``lora_scale``."""
        subject, folder = find_subject(name, None if subjects_dir is None else Path(subjects_dir))
        assert subject is not None
        loras = subject_loras(subject, folder, lora_scale)
        return cls._load(subject, base, controlnets, loras, scheduler, speed, None)

    @classmethod
    def _load(
        cls,
        subject: Subject | None,
        base: str | None,
        controlnets: tuple[str, ...],
        loras: list[LoraWeights],
        scheduler: str,
        speed: SpeedOptions | None,
        base_config: str | None,
    ) -> PoseTransferPipeline:
        speed = speed or SpeedOptions()
        base, controlnets = resolve_models(base, tuple(controlnets), subject)
        scheduler_spec(scheduler)  # an unknown name fails before anything loads
        _, dtype = speed.resolve()
        pipe = load_pipeline(base, controlnets, dtype=dtype, base_config=base_config)
        loaded = load_loras(pipe, loras)
        set_scheduler(pipe, scheduler)
        apply_speed(pipe, speed)
        return cls(pipe, size=native_size(base), subject=subject, scheduler=scheduler, loras=loaded)

    def __call__(
        self,
        poses: PoseSequence,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        template: str | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        guidance_stop: float = 1.0,
        cache_interval: int = 1,
        control_once: bool = False,
        size: tuple[int, int] | None = None,
        seed: int = 0,
        batch: int = 4,
        controlnet_scale: float = 1.0,
        consistency: str = DEFAULT_CONSISTENCY,
        references: Sequence[str | Path | np.ndarray] | None = None,
        reference_fidelity: float = DEFAULT_FIDELITY,
        retarget: bool | None = None,
        progress: bool = True,
    ) -> np.ndarray:
        """Render ``poses``.

        Args:
            poses: Any layout the toolkit converts to BODY_18, on any canvas; fitted (letterboxed) to
                ``size``.
            prompt, negative_prompt: Literal prompts (``{token}``/``{class}`` filled in); default the
                subject's, else the template's ("a person").
            template: Prompt template name (``prompts/<name>.toml``); default the subject's.
            num_inference_steps, guidance_scale: Default the sampler's.
            guidance_stop: Fraction of the steps that use guidance; the rest run one pass. Default 1.
            cache_interval: Run the deep UNet blocks and the ControlNet every this many steps, reusing
                their outputs in between (DeepCache). Default 1 (off).
            control_once: Under guidance, the ControlNet on the conditional half only. Default False.
            size: Output ``(width, height)``, multiples of 8; default the base model's own.
            seed, batch, controlnet_scale, consistency: As for ``toolkit generate``.
            references: Photos (files or ``(H, W, 3)`` uint8 arrays) every frame attends to
                (reference-only attention), or None.
            reference_fidelity: How much guidance pushes towards the references, in [0, 1].
            retarget: Retarget to the subject's body proportions; default when it has them.
            progress: Show a progress bar.

        Returns:
            ``(T, H, W, 3)`` uint8 RGB frames.
        """
        width, height = size or self.size
        subject = self.subject
        prepared = prepare_poses(poses, width, height, retarget_proportions(retarget, subject))
        prompts = resolve_prompts(subject=subject, template=template, prompt=prompt, negative=negative_prompt)
        settings = GenerationSettings.for_sampler(
            self.scheduler,
            steps=num_inference_steps,
            guidance=guidance_scale,
            guidance_stop=guidance_stop,
            cache_interval=cache_interval,
            control_once=control_once,
            seed=seed,
            batch=batch,
            controlnet_scale=(controlnet_scale,),
            consistency=consistency,
        )
        embeddings = encode_prompts(self.pipe, prompts.prompt, prompts.negative, settings.guidance)
        encoded = None
        if references:
            encoded = encode_references(
                self.pipe, References.read(references, width, height, reference_fidelity)
            )
        skeletons = skeleton_images(prepared)
        return render_frames(
            self.pipe, skeletons, embeddings, settings, references=encoded, progress=progress
        )
