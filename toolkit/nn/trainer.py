"""The one training loop every trainable baseline runs in, from ``training/baseline.py`` and from ``fit``.

A method is :class:`Trainable`: it builds its networks, optimizers and dataset in
:meth:`~Trainable.training_setup`, and does one optimisation step in :meth:`~Trainable.training_step`.
:func:`train` drives it:

1. Seed Python, NumPy and torch, then let the method build its models (so the init is seeded too).
   With several processes, every rank but the first then reseeds them from ``(seed, rank)``, so that
   each draws its own network noise.
2. With ``resume``, restore models, optimizers, RNG states and the step from a checkpoint.
3. Draw batches with :class:`~toolkit.train.sampling.EpochBatches`: the samples and augmentations of
   step s depend only on (seed, s), so a resumed run sees exactly the batches the uninterrupted run
   would have seen.
4. Every ``log_every`` steps log the losses (TensorBoard when installed, else ``logs/losses.csv``),
   every ``sample_every`` steps write a sample grid, and every ``checkpoint_every`` steps (and at the end)
   write a checkpoint.

The steps run in the training core's loop (:mod:`toolkit.train.loop`: progress, global-mean losses, log
rows, checkpoint timing); checkpoints are the core's one format (:mod:`toolkit.train.checkpoint`), loss
logs :mod:`toolkit.nn.train_log`.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..checks import check_choice, check_count
from ..data.media import write_image
from ..locks import exclusive_folder
from ..train.checkpoint import (
    CHECKPOINTS_DIR,
    Checkpoint,
    CheckpointError,
    resolve_resume,
    save_checkpoint,
    sweep_checkpoint_temporaries,
)
from ..train.loop import LoopSettings, run_steps
from ..train.sampling import EpochBatches, seeded
from .io import config_from_dict
from .train_log import LOGGERS, open_logger

if TYPE_CHECKING:
    from ..data.subject import SubjectFrames

SAMPLES_DIR = "samples"
LOGS_DIR = "logs"


TRAIN_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class TrainOptions:
    """How :func:`train` runs (the method's own settings live in its config).

    Args:
        steps: Total optimisation steps, counting those of a resumed run. Default 2000.
        batch_size: Samples per step and process. Default 4.
        seed: Seeds initialisation, sample order and augmentation. Default 0.
        output_dir: Where checkpoints, sample grids and logs go; None writes nothing (``fit`` in memory).
        checkpoint_every: Steps between checkpoints; the last step is always saved. Default 500.
        keep_checkpoints: Most recent checkpoints kept; older ones are deleted. Default 2.
        sample_every: Steps between sample grids. Default 500.
        log_every: Steps between log lines. Default 10.
        num_workers: DataLoader worker processes. Default 0 (load in the training process).
        resume: ``"latest"`` (the newest checkpoint in ``output_dir``, or a fresh start if there is none)
            or a checkpoint folder. Default None.
        logger: ``"auto"`` (TensorBoard when installed, else CSV), ``"tensorboard"`` or ``"csv"``.
        mixed_precision: ``"no"`` (default) or ``"bf16"``: autocast when :func:`train` is given no
            accelerator (``accelerate launch --mixed_precision`` sets a given one's). bf16 makes training
            about 1.4x faster on CPUs with AVX-512 BF16.
        dtype: ``"float32"`` (default) or ``"float64"``: the dtype models are built in and batches cast to.
            float64 is for checking exactness: rounding differences (a batch split over ranks is summed in
            another order) then stay near 1e-16, where float32's can flip the sign of a near-zero gradient
            entry, which Adam's first steps turn into a full +-lr step. About 2x slower.
        progress: Show a progress bar. Default True.
    """

    steps: int = 2000
    batch_size: int = 4
    seed: int = 0
    output_dir: str | None = None
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    sample_every: int = 500
    log_every: int = 10
    num_workers: int = 0
    resume: str | None = None
    logger: str = "auto"
    mixed_precision: str = "no"
    dtype: str = "float32"
    progress: bool = True

    def __post_init__(self) -> None:
        positive = (
            "steps",
            "batch_size",
            "checkpoint_every",
            "keep_checkpoints",
            "sample_every",
            "log_every",
        )
        for name in positive:
            check_count(name, getattr(self, name))
        if self.num_workers < 0 or self.seed < 0:
            raise ValueError("num_workers and seed must be >= 0")
        if self.resume == "latest" and self.output_dir is None:
            raise ValueError("resume='latest' needs an output_dir to look for checkpoints in")
        check_choice(self.logger, ("auto", *LOGGERS), "logger")
        if self.mixed_precision not in ("no", "bf16"):
            raise ValueError(f"mixed_precision must be no or bf16, got {self.mixed_precision!r}")
        check_choice(self.dtype, TRAIN_DTYPES, "dtype")
        if self.dtype != "float32" and self.mixed_precision != "no":
            raise ValueError("mixed_precision needs dtype float32")

    @property
    def torch_dtype(self) -> torch.dtype:
        """``dtype`` as a ``torch.dtype``."""
        return TRAIN_DTYPES[self.dtype]


TRAIN_OPTION_NAMES: frozenset[str] = frozenset(f.name for f in dataclasses.fields(TrainOptions))


@dataclass
class TrainingSetup:
    """What a method builds for training: its dataset and the models and optimizers :func:`train` saves
    and restores, by name."""

    dataset: Dataset
    models: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]


@dataclass
class StepContext:
    """What :meth:`Trainable.training_step` works with.

    Args:
        step: This step, counted from 1.
        steps: Total steps of the run (for learning-rate schedules).
        models: The models of :class:`TrainingSetup`, prepared by the accelerator.
        optimizers: Its optimizers, likewise.
        backward: ``loss -> None``; use it instead of ``loss.backward()`` (mixed precision, DDP).
    """

    step: int
    steps: int
    models: dict[str, nn.Module]
    optimizers: dict[str, Any]
    backward: Callable[[torch.Tensor], None]


@runtime_checkable
class Trainable(Protocol):
    """A method :func:`train` can drive; ``config`` is its settings dataclass, saved with checkpoints."""

    name: ClassVar[str]
    config: Any

    def training_setup(self, train_data: SubjectFrames, device: torch.device) -> TrainingSetup:
        """Build (seeded) models, optimizers and the dataset on ``device``."""

    def training_step(self, batch: dict[str, torch.Tensor], context: StepContext) -> dict[str, float]:
        """One optimisation step on ``batch``; returns the losses as floats."""

    def sample_grid(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """An ``(H, W, 3)`` uint8 picture of what the model makes of ``batch`` now."""

    def save(self, directory: Path) -> None:
        """Write what inference needs (as for ``Baseline.save``)."""


class TrainableMethod:
    """What the trainable methods share: their settings (a dataclass, ``config_class``) kept apart from
    the run options (:class:`TrainOptions`), and the one :meth:`fit`.

    A subclass sets ``config_class``, may preset settings (:meth:`setting_defaults`) and run options
    (:meth:`run_defaults`), and implements :class:`Trainable`'s ``training_setup``, ``training_step``,
    ``sample_grid`` and ``save``.
    """

    config_class: ClassVar[type]
    config: Any

    @classmethod
    def setting_defaults(cls) -> dict[str, Any]:
        """Settings this method presets when they are not given (posewarp-upper's layout); none here."""
        return {}

    @classmethod
    def setting_names(cls) -> frozenset[str]:
        """The names of the method's settings (``config_class``'s fields)."""
        return frozenset(f.name for f in dataclasses.fields(cls.config_class))

    @classmethod
    def parse_config(cls, values: Any) -> Any:
        """The settings from a ``config_class`` instance or a mapping of its fields; training options in
        the mapping are ``fit``'s and ignored here (the harness passes one mapping to both)."""
        if isinstance(values, cls.config_class):
            values = dataclasses.asdict(values)
        values = dict(values or {})
        for key, value in cls.setting_defaults().items():
            if values.get(key) is None:
                values[key] = value
        return config_from_dict(cls.config_class, values, ignore=TRAIN_OPTION_NAMES)

    def run_defaults(self) -> dict[str, Any]:
        """Run options this method presets (two-stage: ``steps`` from its stages); none here."""
        return {}

    def fit(
        self, train_data: SubjectFrames, config: Mapping[str, Any] | None = None, accelerator: Any = None
    ) -> None:
        """Train on ``train_data`` with :func:`train`. ``config`` may hold method settings (which replace
        the constructor's) and training options (``TrainOptions``: steps, batch_size ...)."""
        names = self.setting_names()
        if config and set(config) & names:
            self.config = self.parse_config(config)
        options = config_from_dict(TrainOptions, {**self.run_defaults(), **(config or {})}, ignore=names)
        train(self, train_data, options, accelerator)  # type: ignore[arg-type]


@dataclass
class TrainResult:
    """What :func:`train` did: the last step, where it started, seconds, last losses, last checkpoint."""

    step: int
    start_step: int
    seconds: float
    losses: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None


# ---- the loop -----------------------------------------------------------------------------------------


class SingleProcess:
    """What :func:`train` runs with when given no ``accelerate.Accelerator`` (``fit`` called on a CPU): the
    parts of the accelerator's interface it uses, for one process on the CPU. Unlike an ``Accelerator``,
    whose state is global to the process, each can have its own precision.

    Args:
        mixed_precision: ``"no"`` or ``"bf16"`` (autocast).
    """

    device = torch.device("cpu")
    process_index = 0
    num_processes = 1
    is_main_process = True

    def __init__(self, mixed_precision: str = "no") -> None:
        self.mixed_precision = mixed_precision

    def prepare(self, *objects: Any) -> Any:
        return objects if len(objects) != 1 else objects[0]

    def autocast(self) -> torch.autocast:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.mixed_precision == "bf16")

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def wait_for_everyone(self) -> None:
        """One process: nobody to wait for."""


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all devices). The toolkit draws from explicit
    generators; the global ones are seeded (and checkpointed) for code that does not."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)


def train(
    method: Trainable, train_data: SubjectFrames, options: TrainOptions, accelerator: Any = None
) -> TrainResult:
    """Train ``method`` on ``train_data`` (see the module docstring for the steps).

    Args:
        method: A :class:`Trainable` method.
        train_data: The subject's frames.
        options: How to run.
        accelerator: An ``accelerate.Accelerator``; None trains on the CPU in this process
            (:class:`SingleProcess`, with ``options.mixed_precision``).

    Returns:
        A :class:`TrainResult`. The method's models hold the trained weights afterwards.

    Raises:
        CheckpointError: ``resume`` names a missing checkpoint, or one of another method or config.
    """
    accelerator = accelerator or SingleProcess(options.mixed_precision)
    output = None if options.output_dir is None else Path(options.output_dir)
    with ExitStack() as stack:
        if output is not None and accelerator.is_main_process:  # the one process that writes
            stack.enter_context(exclusive_folder(output, "run folder"))
        stack.enter_context(default_dtype(options.torch_dtype))
        return _train(method, train_data, options, accelerator, output)


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Make ``dtype`` torch's default floating dtype (what new models and tensors get) inside the block."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """``batch``'s tensors on ``device``, floating ones in the default dtype (a dataset's float32 arrays
    follow ``TrainOptions.dtype``); other values as they are."""
    dtype = torch.get_default_dtype()

    def move(value: Any) -> Any:
        if not torch.is_tensor(value):
            return value
        return value.to(device, dtype=dtype) if value.is_floating_point() else value.to(device)

    return {key: move(value) for key, value in batch.items()}


def _train(
    method: Trainable, train_data: SubjectFrames, options: TrainOptions, accelerator: Any, output: Path | None
) -> TrainResult:
    """:func:`train` once the output folder is this run's."""
    seed_everything(options.seed)
    setup = method.training_setup(train_data, accelerator.device)
    if accelerator.process_index > 0:
        # Every rank built the same models from the same seed; from here on each draws its own network
        # noise (dropout, posewarp's hole noise), or all ranks would drop the same units of their slices.
        # Rank 0 goes on as one process would, so a one-process run is unchanged.
        seed_everything(int(seeded(options.seed, accelerator.process_index).integers(2**31)))

    root = (output or Path.cwd()) / CHECKPOINTS_DIR
    if output is not None and accelerator.is_main_process:
        sweep_checkpoint_temporaries(root)
    checkpoint = resolve_resume(options.resume, root)
    start = 0
    if checkpoint is not None:
        _check_same_method(checkpoint, method)
        rank, world = accelerator.process_index, accelerator.num_processes
        weights = checkpoint.restore(optimizers=setup.optimizers, rank=rank, world=world)
        for name, model in setup.models.items():
            prefix = f"model/{name}/"
            model.load_state_dict({k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)})
        start = checkpoint.step
    saved = None if checkpoint is None else checkpoint.path
    if start >= options.steps:
        _inference_dtype(setup.models)
        return TrainResult(start, start, 0.0, {}, saved)

    names, optimizer_names = list(setup.models), list(setup.optimizers)
    prepared = accelerator.prepare(*setup.models.values(), *setup.optimizers.values())
    prepared = prepared if isinstance(prepared, tuple) else (prepared,)
    models = dict(zip(names, prepared[: len(names)], strict=True))
    optimizers = dict(zip(optimizer_names, prepared[len(names) :], strict=True))
    for model in models.values():
        model.train()

    sampler = EpochBatches(
        len(setup.dataset), options.batch_size, options.seed, start, options.steps,
        accelerator.process_index, accelerator.num_processes,
    )  # fmt: skip
    # The loader draws a worker seed when iterated; from its own generator, so that it does not move the
    # global stream (dropout's), which a resumed run restores before creating its loader.
    loader = DataLoader(
        setup.dataset,
        batch_sampler=sampler,
        num_workers=options.num_workers,
        generator=torch.Generator().manual_seed(options.seed),
    )
    batches = iter(loader)
    preview = _preview_batch(setup.dataset)
    main = accelerator.is_main_process
    log = open_logger(output / LOGS_DIR, options.logger, start) if output is not None and main else None

    def step_fn(step: int) -> dict[str, float]:
        batch = to_device(next(batches), accelerator.device)
        context = StepContext(step, options.steps, models, optimizers, accelerator.backward)
        with accelerator.autocast():
            return method.training_step(batch, context)

    def save(step: int, rng: list[dict[str, Any]]) -> None:
        nonlocal saved
        tensors = {f"model/{n}/{k}": v for n, m in setup.models.items() for k, v in m.state_dict().items()}
        meta = {
            "method": method.name,
            "method_config": dataclasses.asdict(method.config),
            "options": dataclasses.asdict(options),
        }
        saved = save_checkpoint(
            root, step, seed=options.seed, tensors=tensors, optimizers=setup.optimizers, rng=rng, meta=meta,
            write_files=method.save, keep=options.keep_checkpoints,
        )  # fmt: skip

    def sample(step: int, losses: Mapping[str, float]) -> None:
        if output is not None and (step % options.sample_every == 0 or step == options.steps):
            grid = _sample(method, preview, accelerator.device)
            write_image(output / SAMPLES_DIR / f"step_{step:07d}.png", grid)

    settings = LoopSettings(
        steps=options.steps, start=start, desc=f"train {method.name}", log_every=options.log_every,
        checkpoint_every=options.checkpoint_every, progress=options.progress,
    )  # fmt: skip
    try:
        done = run_steps(
            step_fn, settings, accelerator, log=log, save=save if output else None, after_step=sample
        )
    finally:
        if log is not None:
            log.close()
    accelerator.wait_for_everyone()
    _inference_dtype(setup.models)
    return TrainResult(options.steps, start, done.seconds, done.losses, saved)


def _inference_dtype(models: Mapping[str, nn.Module]) -> None:
    """Hand models trained in another ``TrainOptions.dtype`` back in float32, the dtype inference runs in."""
    for model in models.values():
        if any(p.dtype != torch.float32 for p in model.parameters() if p.is_floating_point()):
            model.float()


def _check_same_method(checkpoint: Checkpoint, method: Trainable) -> None:
    """Raise :class:`CheckpointError` unless ``checkpoint`` was written by ``method`` with its settings."""
    saved = checkpoint.meta
    if saved.get("method") != method.name:
        raise CheckpointError(
            f"{checkpoint.path} is a checkpoint of {saved.get('method')!r}, not {method.name!r}"
        )
    mine = json.loads(json.dumps(dataclasses.asdict(method.config)))
    if saved.get("method_config") != mine:
        changed = sorted(k for k in mine if saved.get("method_config", {}).get(k) != mine[k])
        raise CheckpointError(
            f"{checkpoint.path} was trained with other settings ({', '.join(changed)} differ); resume with "
            "the same method settings, or start a new output folder"
        )


def _preview_batch(dataset: Dataset, count: int = 4) -> dict[str, Any]:
    """The clean (unaugmented) samples spread over the dataset, shown in every sample grid."""
    indices = np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int)
    items = [dataset[int(i)] for i in indices]
    return {
        k: torch.stack([item[k] for item in items]) if torch.is_tensor(items[0][k]) else None
        for k in items[0]
    }


def _sample(method: Trainable, batch: dict[str, Any], device: torch.device) -> np.ndarray:
    moved = to_device(batch, device)
    # Sampling must not move the training RNG streams, or a resumed run would diverge from an
    # uninterrupted one.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        return method.sample_grid(moved)
