"""The diffusion path as a pose-transfer method: DreamBooth/LoRA on Stable Diffusion, rendered through an
OpenPose ControlNet, so the evaluation harness can score it beside the GAN baselines.

Nothing here trains or samples by itself; the method only translates the :class:`~toolkit.methods.Baseline`
protocol into the toolkit's own diffusion jobs:

- ``fit`` hands the subject's frames with their exact poses (so no detector runs) to
  ``toolkit.diffusion.dreambooth.train``, which writes a subject folder into a registry owned by the
  method (a temporary folder, removed with the method).
- ``transfer`` renders the target poses with a :class:`~toolkit.diffusion.pipeline.PoseTransferPipeline`
  of that subject (loaded once and kept), on the target canvas, without retargeting: in memory, the
  pixels ``toolkit generate`` would write. The source images are not used (once learnt, the subject lives
  in the LoRA) unless ``reference=True``: then the first ``references`` of them are reference photos
  every frame attends to (``generate --reference``), with or without a LoRA: the seed papers' one-photo
  setting, with no training.
- ``save`` writes ``config.json`` and a copy of the subject folder under ``subjects/<name>/``; ``load``
  reads that back, or a subject folder trained on the command line (``accelerate launch
  training/dreambooth.py``), so ``toolkit eval --method diffusion --checkpoint subjects/NAME`` scores it.

With ``lora=False`` the method renders the base model and ControlNet alone, with the template's class
prompt ("a mannequin"): ``fit`` then only records the subject's name. With ``describe=True`` as well, the
prompt is the subject's description instead (a mannequin benchmark's caption: "a mannequin with short black
hair ..."), which measures how far the base model draws a person from words alone.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from toolkit.checks import check_count, check_number
from toolkit.data.datasets import Letterbox, letterbox_frames
from toolkit.data.subject import SubjectFrames
from toolkit.diffusion.consistency import DEFAULT_CONSISTENCY, consistency
from toolkit.diffusion.controls import SIZE_MULTIPLE
from toolkit.diffusion.dreambooth.config import DreamBoothConfig
from toolkit.diffusion.dreambooth.loop import DEFAULT_CLASS_PROMPT, train
from toolkit.diffusion.dreambooth.lora import DEFAULT_TARGETS, UNET_TARGETS
from toolkit.diffusion.pipeline import PoseTransferPipeline
from toolkit.diffusion.prompts import fill, load_template
from toolkit.diffusion.reference import DEFAULT_FIDELITY
from toolkit.diffusion.subjects import DEFAULT_CONTROLNET, SUBJECT_FILE, Subject, SubjectError
from toolkit.errors import ToolkitError
from toolkit.methods import register_method
from toolkit.nn.io import CONFIG_NAME, CheckpointError, config_from_dict, read_method, write_method
from toolkit.pose.sequence import PoseSequence
from toolkit.train.checkpoint import CHECKPOINTS_DIR

SUBJECTS_DIR = "subjects"
DEFAULT_SUBJECT = "subject"
# One fixed pose for the end-of-training sample grid the subject folder lists: cheap, and still a picture.
VALIDATION_MOTIONS = ("walk",)
# Settings of a command-line subject's ``[training]`` record that fill the config's fields of the same
# meaning (config field -> record key).
RECORDED_SETTINGS = {
    "train_steps": "steps",
    "rank": "rank",
    "learning_rate": "learning_rate",
    "lr_warmup_steps": "lr_warmup_steps",
    "train_batch_size": "train_batch_size",
    "resolution": "resolution",
    "controlnet_scale": "controlnet_scale",
    "lora_targets": "lora_targets",
    "train_text_encoder": "train_text_encoder",
    "pose_conditioning": "pose_conditioning",
    "prior_preservation": "with_prior_preservation",
    "num_class_images": "num_class_images",
}


@dataclass(frozen=True)
class DiffusionConfig:
    """Settings of the diffusion method: the models, DreamBooth/LoRA training and sampling.

    Args:
        base: Base model spec (hub id, diffusers folder, single file, ``"mini"`` or ``"tiny"``). Default
            ``"mini"``, the small packaged model trained on mannequins.
        controlnet: OpenPose ControlNet spec, in the same forms. Default ``"mini"``.
        lora: Learn the subject as a LoRA (default True). False renders base + ControlNet only, untrained.
        describe: With ``lora=False``, prompt with the subject's description (``SubjectFrames.description``)
            instead of the class prompt. Default False.
        token: The rare identifier bound to the subject. Default ``"sks"``.
        class_noun: The subject's class. Default ``"mannequin"`` (the mini model's word for its people).
        template: Prompt template in ``prompts/``. Default ``"mannequin"`` (``"a {token} {class}"``).
        train_steps: DreamBooth optimisation steps (``max_train_steps``). Default 400.
        rank: LoRA rank. Default 4.
        lora_targets: UNet layers with adapters (``dreambooth.py --lora-targets``): ``"attention"``
            (default) or ``"attention+conv"`` (LoCon).
        train_text_encoder: Also a LoRA on the text encoder. Default False.
        pose_conditioning: Train with the ControlNet's residuals for each frame's pose. Default True.
        prior_preservation: DreamBooth's prior-preservation loss on class images the base draws.
            Default False.
        num_class_images: Class images for it. Default 50.
        class_dir: Where the class images are kept (reused by later fits); None: a temporary folder.
        learning_rate: AdamW learning rate. Default 1e-4.
        lr_warmup_steps: Linear warm-up steps of the learning rate; 0 (default) keeps it constant.
        train_batch_size: Frames per training step. Default 4.
        resolution: Training image side, a multiple of 8: frames are letterboxed into that square. None
            (default) trains at the frames' own side, which must then be square and a multiple of 8.
        inference_steps: Denoising steps per frame. Default 20.
        guidance: Classifier-free guidance scale. Default 5.0.
        seed: Seed of training and of the sampling noise. Default 0.
        consistency: How frames are tied together (``toolkit.diffusion.consistency.CONSISTENCY``).
            Default ``"cross-frame"``.
        batch: New frames per pipeline call. Default 4.
        controlnet_scale: ControlNet conditioning scale, in training (the residuals that explain each
            frame's pose) as in rendering. Default 1.0.
        lora_scale: Strength of the subject's LoRA at rendering; 0 renders the base model. Default 1.0.
        reference: Attend to source images as reference photos (see :mod:`toolkit.diffusion.reference`).
            Default False.
        references: How many source images (the first ones) serve as references. Default 1.
        reference_fidelity: ``generate --reference-fidelity``. Default 0.5.
        subject_dir: A subject folder trained already (``training/dreambooth.py`` wrote it): ``fit`` uses
            it instead of training, and the other settings still apply. Default None.
    """

    base: str = "mini"
    controlnet: str = "mini"
    lora: bool = True
    describe: bool = False
    token: str = "sks"
    class_noun: str = "mannequin"
    template: str = "mannequin"
    train_steps: int = 400
    rank: int = 4
    lora_targets: str = DEFAULT_TARGETS
    train_text_encoder: bool = False
    pose_conditioning: bool = True
    prior_preservation: bool = False
    num_class_images: int = 50
    class_dir: str | None = None
    learning_rate: float = 1e-4
    lr_warmup_steps: int = 0
    train_batch_size: int = 4
    resolution: int | None = None
    inference_steps: int = 20
    guidance: float = 5.0
    seed: int = 0
    consistency: str = DEFAULT_CONSISTENCY
    batch: int = 4
    controlnet_scale: float = 1.0
    lora_scale: float = 1.0
    reference: bool = False
    references: int = 1
    reference_fidelity: float = DEFAULT_FIDELITY
    subject_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("base", "controlnet", "token", "class_noun", "template"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        for name in (
            "lora",
            "describe",
            "reference",
            "train_text_encoder",
            "pose_conditioning",
            "prior_preservation",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.describe and self.lora:
            raise ValueError(
                "describe=true renders the base model from the subject's description: set lora=false with it"
            )
        counts = (
            "train_steps",
            "rank",
            "train_batch_size",
            "inference_steps",
            "batch",
            "references",
            "num_class_images",
        )
        for name in counts:
            check_count(name, getattr(self, name))
        for name in ("lr_warmup_steps", "seed"):
            check_count(name, getattr(self, name), minimum=0)
        if self.resolution is not None:
            check_count("resolution", self.resolution, minimum=SIZE_MULTIPLE)
            if self.resolution % SIZE_MULTIPLE:
                raise ValueError(f"resolution must be a multiple of 8 (or null), got {self.resolution}")
        check_number("learning_rate", self.learning_rate, lambda v: v > 0, "a finite number > 0")
        for name in ("guidance", "controlnet_scale", "lora_scale"):
            check_number(name, getattr(self, name), lambda v: v >= 0, "a finite number >= 0")
        check_number("reference_fidelity", self.reference_fidelity, lambda v: 0 <= v <= 1, "in [0, 1]")
        if self.lora_targets not in UNET_TARGETS:
            raise ValueError(
                f"lora_targets must be one of {', '.join(UNET_TARGETS)}, got {self.lora_targets!r}"
            )
        consistency(self.consistency)


def _subject_name(name: str) -> str:
    """A valid subject folder name made from a free-form ``name`` (``"subject"`` when nothing is left)."""
    cleaned = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9_.-]+", "-", name)).strip("-_.")[:64]
    return cleaned or DEFAULT_SUBJECT


def _ceil_to_multiple(value: int) -> int:
    return -(-value // SIZE_MULTIPLE) * SIZE_MULTIPLE


@register_method("diffusion")
class DiffusionTransfer:
    """A subject learnt by DreamBooth/LoRA, rendered in new poses through an OpenPose ControlNet.

    Args:
        config: A :class:`DiffusionConfig` or a mapping of its fields. Default ``DiffusionConfig()``.
    """

    name: ClassVar[str]
    # The subject lives in the LoRA; cross-frame attention ties every frame to the sequence's first.
    uses_source: ClassVar[bool] = False
    frame_independent: ClassVar[bool] = False

    def __init__(self, config: DiffusionConfig | Mapping[str, Any] | None = None) -> None:
        self.config = (
            config if isinstance(config, DiffusionConfig) else config_from_dict(DiffusionConfig, config)
        )
        self.subject: str | None = None
        self.description = ""
        # The registry root that holds the subject folder (None before fit/load, and with lora=False).
        self.registry: Path | None = None
        self._work: tempfile.TemporaryDirectory[str] | None = None
        self._loaded: tuple[Any, PoseTransferPipeline] | None = None  # (subject key, models)

    # ---- fitting --------------------------------------------------------------------------------------

    def fit(
        self, train_data: SubjectFrames, config: Mapping[str, Any] | None = None, accelerator: Any = None
    ) -> None:
        """Learn the subject of ``train_data`` with DreamBooth/LoRA (or take ``subject_dir``'s); a
        non-empty ``config`` replaces the settings. ``accelerator`` is not used: the DreamBooth loop makes
        its own ``accelerate`` ``Accelerator``, which finds the same device.

        Raises:
            ValueError: frames that cannot be trained at ``resolution`` (see :class:`DiffusionConfig`).
        """
        if config:
            self.config = config_from_dict(DiffusionConfig, config)
        self.subject = _subject_name(train_data.name)
        if self.config.describe:
            if not train_data.description:
                raise ValueError(
                    f"describe=true needs a description of subject {train_data.name!r} "
                    "(SubjectFrames.description); mannequin benchmarks give one, other data does not"
                )
            self.description = train_data.description
        if not self.config.lora:
            return
        if self.config.subject_dir is not None:
            folder = Path(self.config.subject_dir).expanduser().resolve()
            self.subject, self.registry = folder.name, folder.parent
            self._subject_folder()
            return
        frames = self._training_frames(train_data)
        self._work = tempfile.TemporaryDirectory(prefix="diffusion-method-")
        registry = Path(self._work.name) / SUBJECTS_DIR
        train(self._dreambooth_config(registry, frames.poses.width), photos=frames)
        self.registry = registry

    def _training_frames(self, frames: SubjectFrames) -> SubjectFrames:
        """``frames`` letterboxed into the ``resolution`` square, or as they are when ``resolution`` is
        None and they are square with a side that is a multiple of 8."""
        if self.config.resolution is not None:
            return letterbox_frames(frames, self.config.resolution)
        width, height = frames.poses.canvas
        if width != height or width % SIZE_MULTIPLE:
            raise ValueError(
                f"the training frames are {width}x{height}: with resolution=null they must be square with a "
                "side that is a multiple of 8; set resolution (e.g. 128) to letterbox them into that square"
            )
        return frames

    def _dreambooth_config(self, registry: Path, resolution: int) -> DreamBoothConfig:
        c = self.config
        assert self.subject is not None
        return DreamBoothConfig(
            subject=self.subject,
            token=c.token,
            class_noun=c.class_noun,
            base=c.base,
            controlnet=c.controlnet,
            template=c.template,
            subjects_dir=registry,
            controlnet_scale=c.controlnet_scale,
            pose_conditioning=c.pose_conditioning,
            rank=c.rank,
            lora_targets=c.lora_targets,
            train_text_encoder=c.train_text_encoder,
            with_prior_preservation=c.prior_preservation,
            class_dir=self._class_dir(registry) if c.prior_preservation else None,
            num_class_images=c.num_class_images,
            resolution=resolution,
            train_batch_size=c.train_batch_size,
            max_train_steps=c.train_steps,
            learning_rate=c.learning_rate,
            # diffusers' "constant" schedule ignores warm-up steps.
            lr_scheduler="constant_with_warmup" if c.lr_warmup_steps else "constant",
            lr_warmup_steps=c.lr_warmup_steps,
            seed=c.seed,
            # 0 validates once, at the end, for the sample grid the subject folder lists.
            validation_steps=0,
            validation_motions=VALIDATION_MOTIONS,
            validation_inference_steps=c.inference_steps,
            progress=False,
        )

    def _class_dir(self, registry: Path) -> Path:
        """``class_dir``, else a folder beside the method's temporary registry."""
        return (
            Path(self.config.class_dir).expanduser() if self.config.class_dir else registry.parent / "class"
        )

    # ---- rendering ------------------------------------------------------------------------------------

    def transfer(
        self, source_images: np.ndarray, source_poses: PoseSequence, target_poses: PoseSequence
    ) -> np.ndarray:
        """Render the learnt subject in every pose of ``target_poses``: ``(T, H, W, 3)`` uint8 on the target
        canvas. ``source_poses`` are not used, and ``source_images`` ``(S, H, W, 3)`` only with
        ``reference=True``. A canvas whose sides are not multiples of 8 is rendered letterboxed into the
        next larger one and cut back.

        Raises:
            ToolkitError: with ``lora=True``, before :meth:`fit` or :meth:`load`; with ``reference=True``,
                without source images.
        """
        if self.config.lora and self.registry is None:
            raise ToolkitError(
                "the diffusion method has no subject yet: call fit() with the subject's frames, or load() "
                "a saved method or subject folder"
            )
        if self.config.reference and not len(source_images):
            raise ToolkitError("reference=true renders the person of a source image: give one")
        width, height = target_poses.canvas
        box = Letterbox(width, height, _ceil_to_multiple(width), _ceil_to_multiple(height))
        c = self.config
        frames = self._pipeline()(
            box.poses(target_poses.to_layout("body_18")),
            # Without a LoRA the token means nothing to the model: the class prompt names what to draw.
            prompt=None if c.lora else self.description or self._class_prompt(),
            template=c.template,
            num_inference_steps=c.inference_steps,
            guidance_scale=c.guidance,
            size=(box.out_width, box.out_height),
            seed=c.seed,
            batch=c.batch,
            controlnet_scale=c.controlnet_scale,
            consistency=c.consistency,
            references=list(source_images[: c.references]) if c.reference else None,
            reference_fidelity=c.reference_fidelity,
            retarget=False,
            progress=False,
        )
        return np.stack([box.undo(frame) for frame in frames])

    def _pipeline(self) -> PoseTransferPipeline:
        """The loaded models (kept between calls): the base and ControlNet, with the subject's LoRA."""
        c = self.config
        key = (self.subject, self.registry) if c.lora else None
        if self._loaded is None or self._loaded[0] != key:
            if c.lora:
                assert self.subject is not None
                pipe = PoseTransferPipeline.from_subject(
                    self.subject, subjects_dir=self.registry, base=c.base, controlnets=(c.controlnet,),
                    lora_scale=c.lora_scale,
                )  # fmt: skip
            else:
                pipe = PoseTransferPipeline.from_pretrained(c.base, (c.controlnet,))
            self._loaded = (key, pipe)
        return self._loaded[1]

    def _class_prompt(self) -> str:
        template = load_template(self.config.template)
        return fill(template.class_prompt or DEFAULT_CLASS_PROMPT, self.config.token, self.config.class_noun)

    # ---- saving ---------------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write ``config.json`` and, with a LoRA, a copy of the subject folder as
        ``subjects/<name>/`` (``subject.toml``, ``pytorch_lora_weights.safetensors``, samples, logs;
        training checkpoints are left out)."""
        directory = Path(directory)
        if self.config.lora:
            source = self._subject_folder()
            target = directory / SUBJECTS_DIR / source.name
            if source.resolve() != target.resolve():
                shutil.copytree(
                    source, target, ignore=shutil.ignore_patterns(CHECKPOINTS_DIR), dirs_exist_ok=True
                )
        extra = {"subject": self.subject, "description": self.description}
        write_method(directory, self.name, self.config, extra=extra)

    @classmethod
    def load(cls, directory: Path) -> DiffusionTransfer:
        """A method restored from what :meth:`save` wrote, or from a subject folder written by
        ``training/dreambooth.py`` (it holds ``subject.toml``; the models and prompt template are the
        subject's, the sampling settings the defaults).

        Raises:
            CheckpointError / SubjectError: a folder that is neither, or one without its LoRA weights.
        """
        directory = Path(directory)
        if not (directory / CONFIG_NAME).is_file() and (directory / SUBJECT_FILE).is_file():
            return cls._from_subject_folder(directory)
        if not (directory / CONFIG_NAME).is_file():
            raise CheckpointError(
                f"{directory}: neither a saved diffusion method ({CONFIG_NAME}) nor a subject folder "
                f"({SUBJECT_FILE}); pass the folder save() wrote or subjects/NAME"
            )
        record, _ = read_method(directory, cls.name, weights=False)
        method = cls(record["config"])
        method.subject = record.get("subject")
        method.description = record.get("description", "")
        if method.config.lora:
            method.registry = directory.resolve() / SUBJECTS_DIR
            method._subject_folder()
        return method

    @classmethod
    def _from_subject_folder(cls, folder: Path) -> DiffusionTransfer:
        folder = folder.resolve()
        subject = Subject.load(folder)
        recorded = {
            field: subject.training[key]
            for field, key in RECORDED_SETTINGS.items()
            if key in subject.training
        }
        try:
            config = DiffusionConfig(
                base=subject.base,
                controlnet=(subject.controlnets or (DEFAULT_CONTROLNET,))[0],
                token=subject.token,
                class_noun=subject.class_noun,
                template=subject.template,
                **recorded,
            )
        except ValueError as err:
            raise SubjectError(f"{folder / SUBJECT_FILE}: [training] {err}") from None
        method = cls(config)
        method.subject, method.registry = subject.name, folder.parent
        method._subject_folder()
        return method

    def _subject_folder(self) -> Path:
        """The subject folder, checked to hold its LoRA weights."""
        if self.registry is None or self.subject is None:
            raise ToolkitError("the diffusion method has no trained subject to save: call fit() or load()")
        folder = self.registry / self.subject
        lora = Subject.load(folder).lora_path(folder)
        if not lora.is_file():
            raise SubjectError(f"subject folder {folder} has no LoRA weights ({lora.name}); train it first")
        return folder
