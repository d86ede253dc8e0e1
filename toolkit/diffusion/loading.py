"""Assembling the pipeline: base model + ControlNet(s) + LoRA(s), from hub ids, local folders or files.

Every model is named by a *spec*: a Hugging Face hub id (``owner/name``), a local diffusers folder, a
single ``.safetensors``/``.ckpt`` checkpoint (loaded with ``from_single_file``), ``mini`` for the small
model trained on mannequins that ships inside the package (:mod:`toolkit.diffusion.mini`), or ``tiny`` for
the random-weight test pipeline of :mod:`toolkit.diffusion.tiny`. Hub ids are looked up in the local cache
first, so nothing touches the network when the model is already there (or when ``HF_HUB_OFFLINE=1``).
Whatever goes wrong while loading becomes one :class:`ModelLoadError` line that says what to pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from ..errors import ToolkitError
from .subjects import LORA_FILE
from .tiny import TINY, tiny_components, tiny_controlnet, tiny_unet

if TYPE_CHECKING:
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
MODEL_FORMS = "a hub id (owner/name), a local diffusers folder, a .safetensors/.ckpt file, 'mini' or 'tiny'"
SD_SIZE = (512, 512)
MINI = "mini"
# The packaged mini model: a StableDiffusionPipeline folder and an OpenPose ControlNet folder.
MINI_WEIGHTS = Path(__file__).parent / "mini" / "weights"
MINI_PARTS = {"base": "model", "controlnet": "controlnet"}
logger = logging.getLogger(__name__)
LORA_FORMS = "a .safetensors file written by save_lora_weights for this base model, its folder, or a hub id"
_T = TypeVar("_T")


class ModelLoadError(ToolkitError):
    """A model, ControlNet or LoRA cannot be found or loaded."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from.

    Args:
        spec: What the user passed.
        kind: ``"tiny"``, ``"folder"`` (diffusers layout), ``"file"`` (single checkpoint) or ``"hub"``.
        folder: Where a packaged model (``mini``) lives; None for the others.
    """

    spec: str
    kind: str
    folder: Path | None = None

    @property
    def path(self) -> Path:
        return self.folder or Path(self.spec).expanduser()


def mini_folder(part: str) -> Path:
    """The packaged mini model's ``part`` (``"base"`` or ``"controlnet"``) folder; a one-line
    :class:`ModelLoadError` when this install lacks it."""
    folder = MINI_WEIGHTS / MINI_PARTS[part]
    if not (folder / "model_index.json").is_file() and not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"the mini model's {part} is not installed at {folder}; reinstall the toolkit from a full "
            "clone of its repository, or train the model as docs/mini-model.md says"
        )
    return folder


def native_size(spec: str) -> tuple[int, int]:
    """The ``(width, height)`` a base model was trained at: the packaged mini model's resolution (from its
    ``mini_config.json``), else 512 x 512 (Stable Diffusion 1.x)."""
    if spec == MINI:
        config = json.loads((mini_folder("base") / "mini_config.json").read_text())
        return config["resolution"], config["resolution"]
    return SD_SIZE


def resolve_source(
    spec: str, what: str, flag: str, forms: str | None = None, *, part: str = "base"
) -> ModelSource:
    """Classify ``spec``; a path-like spec that does not exist raises :class:`ModelLoadError` at once
    (rather than being sent to the hub), saying what ``flag`` accepts (``forms``, default the model
    forms). ``part`` (``"base"`` or ``"controlnet"``) picks which packaged folder ``mini`` means."""
    if spec == TINY:
        return ModelSource(spec, "tiny")
    if spec == MINI:
        return ModelSource(spec, "folder", mini_folder(part))
    path = Path(spec).expanduser()
    if path.is_dir():
        return ModelSource(spec, "folder")
    if path.is_file():
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise ModelLoadError(
                f"{what} {spec}: expected a diffusers folder or a {' or '.join(SINGLE_FILE_SUFFIXES)} "
                f"checkpoint for {flag}"
            )
        return ModelSource(spec, "file")
    hub_like = (
        spec.count("/") <= 1
        and not spec.startswith((".", "/", "~"))
        and path.suffix.lower() not in SINGLE_FILE_SUFFIXES
    )
    if not hub_like or not spec.strip():
        raise ModelLoadError(f"{what} {spec!r}: no such file or folder; {flag} takes {forms or MODEL_FORMS}")
    return ModelSource(spec, "hub")


def _dtype_option(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """The weights-dtype keyword of ``from_pretrained``: ``dtype`` in diffusers releases that deprecate
    ``torch_dtype`` (they ship the ``_resolve_dtype`` helper), ``torch_dtype`` before."""
    from diffusers.utils import deprecation_utils

    return {"dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype": dtype}


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    return flag or bool(constants.HF_HUB_OFFLINE)


def _from_hub(load: Callable[..., _T], spec: str, **kwargs: Any) -> _T:
    """``load(spec, ...)`` from the local cache, then, unless offline, from the hub."""
    try:
        return load(spec, local_files_only=True, **kwargs)
    except (OSError, ValueError):
        if _hub_offline():
            raise
    return load(spec, **kwargs)


@contextmanager
def _loading(what: str, source: ModelSource, flag: str, forms: str = MODEL_FORMS) -> Iterator[None]:
    """Turn the many errors diffusers, transformers and huggingface_hub raise into one line that names
    ``what`` failed and what ``flag`` accepts (``forms``)."""
    from diffusers.utils import logging as diffusers_logging

    verbosity = diffusers_logging.get_verbosity()
    # diffusers logs a failed LoRA load at length before raising; the one line below replaces it.
    diffusers_logging.set_verbosity(diffusers_logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="huggingface_hub")
            yield
    except ModelLoadError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, ImportError) as err:
        # The first two lines: state-dict errors put the size mismatch on the second.
        reason = " ".join(line.strip() for line in str(err).split("\n")[:2]).strip()[:240]
        reason = reason or type(err).__name__
        if source.kind == "hub":
            hint = (
                f"it is not in the local Hugging Face cache and could not be fetched from the hub "
                f"({reason}); download it where the hub is reachable, or pass a local copy: {flag} PATH"
            )
            if forms == MODEL_FORMS:  # a base or ControlNet: the packaged model runs with no hub at all
                hint += f" (offline, the packaged model: --base {MINI} --controlnet {MINI})"
        elif source.kind == "file" and forms == MODEL_FORMS:
            hint = (
                f"{reason}; a single-file checkpoint needs its diffusers config from the hub cache, so if "
                f"the hub is unreachable pass a local diffusers folder instead: {flag} PATH"
            )
        else:
            hint = f"{reason}; {flag} takes {forms}"
        raise ModelLoadError(f"cannot load {what} {source.spec!r}: {hint}") from err
    finally:
        diffusers_logging.set_verbosity(verbosity)


def load_controlnet(spec: str, *, dtype: torch.dtype = torch.float32) -> ControlNetModel:
    """One ControlNet from a spec (see the module docstring), in ``dtype`` on the CPU."""
    from diffusers import ControlNetModel

    source = resolve_source(spec, "ControlNet", "--controlnet", part="controlnet")
    with _loading("the ControlNet", source, "--controlnet"):
        if source.kind == "tiny":
            net = tiny_controlnet(tiny_unet())
            return net if dtype == torch.float32 else net.to(dtype)
        if source.kind == "folder":
            return ControlNetModel.from_pretrained(source.path, **_dtype_option(dtype))
        if source.kind == "file":
            return ControlNetModel.from_single_file(source.path, **_dtype_option(dtype))
        return _from_hub(ControlNetModel.from_pretrained, spec, **_dtype_option(dtype))


def load_pipeline(
    base: str,
    controlnets: Sequence[str],
    *,
    dtype: torch.dtype = torch.float32,
    base_config: str | None = None,
) -> StableDiffusionControlNetPipeline:
    """A ``StableDiffusionControlNetPipeline`` of ``base`` with the given ControlNet(s), on the CPU.

    Args:
        base: Base model spec: hub id, diffusers folder, single-file checkpoint or ``"tiny"``.
        controlnets: One or more ControlNet specs; several make a ``MultiControlNetModel``.
        dtype: Weights' dtype. Default float32.
        base_config: For a single-file ``base``: the diffusers config to build it with (hub id or local
            folder); default lets diffusers infer it (which needs the hub or its cache).

    Raises:
        ModelLoadError: in one line, saying what to pass instead.
    """
    from diffusers import StableDiffusionControlNetPipeline
    from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

    if not controlnets:
        raise ModelLoadError("at least one ControlNet is needed: --controlnet SPEC")
    nets = [load_controlnet(spec, dtype=dtype) for spec in controlnets]
    controlnet = nets[0] if len(nets) == 1 else MultiControlNetModel(nets)
    source = resolve_source(base, "base model", "--base")
    options: dict[str, Any] = {
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
        **_dtype_option(dtype),
    }
    with _loading("the base model", source, "--base"):
        if source.kind == "tiny":
            pipe = StableDiffusionControlNetPipeline(
                **tiny_components(), controlnet=controlnet, requires_safety_checker=False
            )
            if dtype != torch.float32:
                pipe.to(dtype=dtype)
        elif source.kind == "folder":
            pipe = StableDiffusionControlNetPipeline.from_pretrained(
                source.path, controlnet=controlnet, **options
            )
        elif source.kind == "file":
            pipe = StableDiffusionControlNetPipeline.from_single_file(
                source.path, controlnet=controlnet, config=base_config, **options
            )
        else:
            pipe = _from_hub(
                StableDiffusionControlNetPipeline.from_pretrained, base, controlnet=controlnet, **options
            )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@dataclass(frozen=True)
class LoraWeights:
    """A LoRA to apply.

    Args:
        source: A ``.safetensors`` file, a folder holding ``pytorch_lora_weights.safetensors`` (as
            diffusers' ``save_lora_weights`` writes it), or a hub id.
        scale: Strength; 0 leaves the base model unchanged. Default 1.
        name: Adapter name, unique per pipeline. Default ``"subject"``.
    """

    source: str | Path
    scale: float = 1.0
    name: str = "subject"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lora_file(source: str | Path) -> Path | None:
    """The weights file of a LoRA given as a file or as a folder written by ``save_lora_weights``; ``None``
    for a hub id or a folder without ``pytorch_lora_weights.safetensors``."""
    path = Path(source).expanduser()
    weights = path if path.is_file() else path / LORA_FILE
    return weights if weights.is_file() else None


_DOWN_MARKERS = (".lora_A.", ".lora_down.", ".lora.down.")  # diffusers/PEFT, kohya, old diffusers


def targeted_modules(weights: Path) -> int:
    """How many modules a LoRA file adapts: its down-projection tensors, in any of the key styles."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as file:
        return sum(any(marker in key for marker in _DOWN_MARKERS) for key in file.keys())  # noqa: SIM118


def adapted_modules(pipe: StableDiffusionControlNetPipeline, adapter: str) -> int:
    """How many modules of the UNet and text encoder carry PEFT adapter ``adapter``."""
    count = 0
    for model in (pipe.unet, pipe.text_encoder):
        for module in model.modules():
            lora_a = getattr(module, "lora_A", None)
            count += isinstance(lora_a, torch.nn.ModuleDict) and adapter in lora_a
    return count


def load_loras(pipe: StableDiffusionControlNetPipeline, loras: Sequence[LoraWeights]) -> list[dict[str, Any]]:
    """Load LoRAs with diffusers' ``load_lora_weights`` and fuse them, at their scales, into the UNet and
    text encoder, so generation runs at the base model's speed. A local file whose modules do not all
    match the model is reported in one warning (how many matched, how many were ignored). Returns, per
    LoRA, its source, adapter name, scale, matched modules and the SHA-256 of its file (for the
    manifest)."""
    records = []
    for lora in loras:
        spec = str(lora.source)
        flag = "--lcm-lora" if lora.name == "lcm" else "the LoRA path"
        source = resolve_source(spec, f"LoRA {lora.name!r}", flag, LORA_FORMS)
        with _loading(f"the LoRA {lora.name!r}", source, flag, LORA_FORMS):
            if source.kind == "file":
                pipe.load_lora_weights(
                    source.path.parent, weight_name=source.path.name, adapter_name=lora.name
                )
            elif source.kind == "folder":
                pipe.load_lora_weights(source.path, adapter_name=lora.name)
            else:
                _from_hub(pipe.load_lora_weights, spec, adapter_name=lora.name)
        weights = lora_file(spec)
        matched = adapted_modules(pipe, lora.name)
        targeted = targeted_modules(weights) if weights else None
        if targeted is not None and matched < targeted:
            logger.warning(
                "LoRA %r (%s): %d of its %d modules match this model; %d ignored (made for another base?)",
                lora.name, spec, matched, targeted, targeted - matched,
            )  # fmt: skip
        sha256 = file_sha256(weights) if weights else None
        records.append(
            {"source": spec, "name": lora.name, "scale": lora.scale, "modules": matched, "sha256": sha256}
        )
    if loras:
        names = [lora.name for lora in loras]
        pipe.set_adapters(names, adapter_weights=[lora.scale for lora in loras])
        pipe.fuse_lora(adapter_names=names)
        pipe.unload_lora_weights()
    return records
