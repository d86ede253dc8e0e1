"""Every setting of a DreamBooth/LoRA run, with the defaults of diffusers' ``train_dreambooth_lora.py``.

Where this differs from diffusers it says so: the learning rate is 1e-4 (diffusers' text-to-image LoRA
script; its DreamBooth LoRA script uses 5e-4), images are always centre-cropped (the crop must keep the
detected pose on the photo), and the pose-aware options are new.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ...checks import check_choice
from ..loading import lora_file
from ..subjects import DEFAULT_BASE, DEFAULT_CONTROLNET, check_subject_name
from .lora import DEFAULT_TARGETS, UNET_TARGETS

MIXED_PRECISION = ("no", "fp16", "bf16")
LR_SCHEDULERS = (
    "constant",
    "constant_with_warmup",
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
)
REPORT_TO = ("auto", "tensorboard", "csv", "wandb")
VALIDATION_MOTIONS = ("walk", "wave", "squat", "jumping_jack")


@dataclass
class DreamBoothConfig:
    """A DreamBooth/LoRA training run.

    Subject and models:
        subject: Name of the subject folder written under ``subjects_dir``.
        instance_dir: Folder of photos of the subject; ``None`` when :func:`~.loop.train` is given the
            photos in memory.
        token: Rare identifier bound to the subject. Default ``"sks"``.
        class_noun: The subject's class. Default ``"person"``.
        base: Base model spec (hub id, folder, single file or ``"tiny"``). Default SD 1.5.
        controlnet: OpenPose ControlNet spec. Default ``lllyasviel/control_v11p_sd15_openpose``.
        template: Prompt template in ``prompts/`` for the instance and class prompts. Default ``"default"``.
        instance_prompt / class_prompt: Literal prompts (``{token}`` and ``{class}`` are filled in) that
            override the template's, as diffusers' flags of the same names. Default None.
        validation_prompt: Prompt of the validation grids; default the instance prompt.
        base_config: Diffusers config (hub id or folder) to build a single-file ``base`` with.
        subjects_dir: Registry root; default ``$TOOLKIT_SUBJECTS_DIR`` or ``./subjects``.
        init_lora: A concept LoRA (file or ``save_lora_weights`` folder) fused into the base before the
            subject trains on it, e.g. a walk-cycle style; ``generate`` stacks it under the subject's.
        init_lora_scale: Its strength. Default 1.

    Poses:
        poses: Pose file with one pose per instance photo (natural file order); default: detect them.
        detector: Detector name in ``toolkit.pose.detect.DETECTORS``. Default ``"mediapipe"``.
        pose_conditioning: Add the frozen ControlNet's residuals for each photo's skeleton. Default True.
        controlnet_scale: Scale of those residuals. Default 1.0.

    LoRA:
        rank: LoRA rank. Default 4. lora_alpha: default ``rank`` (scale 1). lora_dropout: default 0.
        lora_targets: Which UNet layers get adapters, a key of ``lora.UNET_TARGETS``: ``"attention"``
            (default, as diffusers) or ``"attention+conv"`` (LoCon: the ResNets' convolutions too).
        train_text_encoder: Also add a LoRA to the CLIP text encoder. Default False.

    Data and optimisation (diffusers' names and defaults): resolution 512, train_batch_size 4,
    sample_batch_size 4, random_flip False (a flip also swaps left and right in the pose),
    num_train_epochs 1, max_train_steps None (overrides epochs), gradient_accumulation_steps 1,
    gradient_checkpointing False, learning_rate 1e-4, scale_lr False, lr_scheduler ``"constant"``,
    lr_warmup_steps 500, lr_num_cycles 1, lr_power 1.0, use_8bit_adam False, adam_beta1 0.9,
    adam_beta2 0.999, adam_weight_decay 1e-2, adam_epsilon 1e-8, max_grad_norm 1.0, snr_gamma None
    (5.0 is the Min-SNR paper's value), mixed_precision None (accelerate's setting), seed None.

    Prior preservation: with_prior_preservation False, class_dir None, num_class_images 100,
    prior_loss_weight 1.0, prior_generation_precision None (fp16 on CUDA, else fp32),
    class_inference_steps 25.

    Checkpoints: checkpointing_steps 500, checkpoints_total_limit None, resume_from_checkpoint None
    (a checkpoint folder or ``"latest"``).

    Validation and logs: validation_steps 100 (0 = only at the end), validation_motions (the fixed poses),
    validation_inference_steps 20, report_to ``"auto"`` (TensorBoard when installed, else CSV).

    Export: export_kohya False writes ``pytorch_lora_weights_kohya.safetensors`` too.
    """

    subject: str
    instance_dir: Path | None = None
    token: str = "sks"
    class_noun: str = "person"
    base: str = DEFAULT_BASE
    controlnet: str = DEFAULT_CONTROLNET
    template: str = "default"
    instance_prompt: str | None = None
    class_prompt: str | None = None
    validation_prompt: str | None = None
    base_config: str | None = None
    subjects_dir: Path | None = None
    init_lora: Path | None = None
    init_lora_scale: float = 1.0
    poses: Path | None = None
    detector: str = "mediapipe"
    pose_conditioning: bool = True
    controlnet_scale: float = 1.0
    rank: int = 4
    lora_alpha: float | None = None
    lora_dropout: float = 0.0
    lora_targets: str = DEFAULT_TARGETS
    train_text_encoder: bool = False
    resolution: int = 512
    train_batch_size: int = 4
    sample_batch_size: int = 4
    random_flip: bool = False
    num_train_epochs: int = 1
    max_train_steps: int | None = None
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    learning_rate: float = 1e-4
    scale_lr: bool = False
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 500
    lr_num_cycles: int = 1
    lr_power: float = 1.0
    use_8bit_adam: bool = False
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-2
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    snr_gamma: float | None = None
    mixed_precision: str | None = None
    seed: int | None = None
    with_prior_preservation: bool = False
    class_dir: Path | None = None
    num_class_images: int = 100
    prior_loss_weight: float = 1.0
    prior_generation_precision: str | None = None
    class_inference_steps: int = 25
    checkpointing_steps: int = 500
    checkpoints_total_limit: int | None = None
    resume_from_checkpoint: str | None = None
    validation_steps: int = 100
    validation_motions: tuple[str, ...] = VALIDATION_MOTIONS
    validation_inference_steps: int = 20
    report_to: str = "auto"
    export_kohya: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        check_subject_name(self.subject)
        self.instance_dir = None if self.instance_dir is None else Path(self.instance_dir)
        self.poses = None if self.poses is None else Path(self.poses)
        self.init_lora = None if self.init_lora is None else Path(self.init_lora)
        if self.init_lora is not None and lora_file(self.init_lora) is None:
            raise ValueError(
                f"--init-lora {self.init_lora}: not a .safetensors file or a folder holding "
                "pytorch_lora_weights.safetensors (it is kept with the subject, so it must be local)"
            )
        if not self.init_lora_scale > 0:
            raise ValueError(f"--init-lora-scale must be positive, got {self.init_lora_scale}")
        self.class_dir = None if self.class_dir is None else Path(self.class_dir)
        self.validation_motions = tuple(self.validation_motions)
        positive = {
            "rank": self.rank,
            "resolution": self.resolution,
            "train_batch_size": self.train_batch_size,
            "sample_batch_size": self.sample_batch_size,
            "num_train_epochs": self.num_train_epochs,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "learning_rate": self.learning_rate,
            "checkpointing_steps": self.checkpointing_steps,
            "num_class_images": self.num_class_images,
            "class_inference_steps": self.class_inference_steps,
            "validation_inference_steps": self.validation_inference_steps,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
        for name in ("max_train_steps", "checkpoints_total_limit", "lora_alpha", "snr_gamma"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive when given, got {value}")
        if self.resolution % 8:
            raise ValueError(
                f"--resolution must be a multiple of 8 (latents are 1/8 size), got {self.resolution}"
            )
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"--lora-dropout must be in [0, 1), got {self.lora_dropout}")
        if self.validation_steps < 0 or self.lr_warmup_steps < 0:
            raise ValueError("--validation-steps and --lr-warmup-steps must be >= 0")
        if self.mixed_precision not in (None, *MIXED_PRECISION):
            raise ValueError(f"--mixed-precision must be one of {', '.join(MIXED_PRECISION)}")
        check_choice(self.lora_targets, UNET_TARGETS, "--lora-targets")
        check_choice(self.lr_scheduler, LR_SCHEDULERS, "--lr-scheduler")
        check_choice(self.report_to, REPORT_TO, "--report-to")
        if self.with_prior_preservation and self.class_dir is None:
            raise ValueError(
                "--with-prior-preservation needs --class-dir DIR (missing class images are made there)"
            )

    @property
    def alpha(self) -> float:
        """The LoRA alpha: ``lora_alpha``, else ``rank`` (a scale of 1)."""
        return float(self.rank if self.lora_alpha is None else self.lora_alpha)

    def record(self) -> dict[str, Any]:
        """The run's settings as TOML-safe scalars and lists (for ``subject.toml``'s ``[training]``); unset
        options are left out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("subject", "progress") or value is None:
                continue
            out[f.name] = (
                str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value
            )
        return out
