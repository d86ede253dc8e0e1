"""Speed knobs: device and dtype choice, attention back-end, ``torch.compile``, memory layout, VAE slicing
and tiling, model CPU offload. Each is an explicit option; ``SpeedOptions()`` gives the fast defaults.

torch is imported where it is used, so that ``toolkit generate --help`` can list the choices quickly.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..checks import check_choice
from ..errors import ToolkitError

if TYPE_CHECKING:
    import torch
    from diffusers import StableDiffusionControlNetPipeline

# --dtype names and the torch dtypes they stand for.
DTYPES: dict[str, str] = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
DEVICES = ("auto", "cuda", "mps", "cpu")


class SpeedError(ToolkitError):
    """A device, dtype or speed option cannot be used on this machine."""


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; ``"cuda"``, ``"cuda:1"``, ``"mps"`` and
    ``"cpu"`` are checked to exist."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SpeedError(f"unknown device {name!r}; use one of {', '.join(DEVICES)} or cuda:N") from None
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if not available.get(device.type, False):
        raise SpeedError(f"device {name!r} is not available here; use --device auto or cpu")
    return device


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """``"auto"``: float16 on CUDA and MPS (SD 1.x is trained to run in half precision), float32 on the
    CPU. ``"fp32"``, ``"fp16"`` or ``"bf16"`` explicitly; fp16 is refused on the CPU, where PyTorch lacks
    many half-precision kernels."""
    import torch

    if name == "auto":
        return torch.float32 if device.type == "cpu" else torch.float16
    check_choice(name, ("auto", *DTYPES), "dtype", SpeedError)
    if name == "fp16" and device.type == "cpu":
        raise SpeedError("fp16 does not run on the CPU; use --dtype fp32 (or bf16)")
    return getattr(torch, DTYPES[name])


def _sdpa(pipe: StableDiffusionControlNetPipeline, device: torch.device) -> None:
    """PyTorch's fused scaled-dot-product attention: diffusers' default processor, nothing to change."""


def _xformers(pipe: StableDiffusionControlNetPipeline, device: torch.device) -> None:
    if device.type != "cuda" or importlib.util.find_spec("xformers") is None:
        raise SpeedError(
            "xformers needs a CUDA device and the xformers package (pip install xformers); "
            "use --attention sdpa"
        )
    try:
        pipe.enable_xformers_memory_efficient_attention()
    except (ImportError, ValueError, RuntimeError) as err:
        raise SpeedError(
            f"xformers is installed but does not work here ({err}); use --attention sdpa"
        ) from None


ATTENTION: dict[str, Callable[[StableDiffusionControlNetPipeline, torch.device], None]] = {
    "sdpa": _sdpa,
    "xformers": _xformers,
}


@dataclass(frozen=True)
class SpeedOptions:
    """How to run the pipeline.

    Args:
        device: ``"auto"`` (CUDA, MPS, CPU in that order), ``"cuda"``, ``"cuda:N"``, ``"mps"``, ``"cpu"``.
        dtype: ``"auto"`` (fp16 on GPUs, fp32 on CPU), ``"fp32"``, ``"fp16"``, ``"bf16"``.
        attention: ``"sdpa"`` (default, PyTorch's fused attention) or ``"xformers"`` (CUDA only). With
            cross-frame consistency the self-attention layers use SDPA either way.
        compile: ``torch.compile`` the UNet and ControlNet(s). Slow first call; pays off on long clips.
        channels_last: NHWC memory layout for the UNet, ControlNet(s) and VAE; ``None`` (default) turns
            it on for CUDA and the CPU, whose convolution kernels (cuDNN, oneDNN) prefer that layout (on the
            tiny test pipeline it makes batched CPU generation about 20% faster).
        vae_slicing: Decode the batch's latents one image at a time, so peak memory does not grow with
            ``--batch``. Default True.
        vae_tiling: Decode in overlapping tiles, for images larger than the GPU's memory allows.
        cpu_offload: Keep models on the CPU and move each to the GPU only while it runs (saves memory,
            costs speed). Needs an accelerator.
    """

    device: str = "auto"
    dtype: str = "auto"
    attention: str = "sdpa"
    compile: bool = False
    channels_last: bool | None = None
    vae_slicing: bool = True
    vae_tiling: bool = False
    cpu_offload: bool = False

    def resolve(self) -> tuple[torch.device, torch.dtype]:
        """The concrete device and dtype; raises :class:`SpeedError` for impossible choices."""
        device = pick_device(self.device)
        if self.cpu_offload and device.type == "cpu":
            raise SpeedError("--cpu-offload needs a GPU (it moves models between the CPU and the GPU)")
        check_choice(self.attention, ATTENTION, "attention", SpeedError)
        return device, pick_dtype(self.dtype, device)


def apply_speed(pipe: StableDiffusionControlNetPipeline, options: SpeedOptions) -> dict[str, Any]:
    """Move ``pipe`` to its device and apply ``options``. Call after the models and LoRAs are loaded (in
    the dtype ``options.resolve()`` gives) and before the first generation. Returns what was applied,
    JSON-safe, for the manifest."""
    import torch

    device, dtype = options.resolve()
    if options.cpu_offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    ATTENTION[options.attention](pipe, device)
    default_layout = device.type in ("cuda", "cpu")
    channels_last = default_layout if options.channels_last is None else options.channels_last
    if channels_last:
        for model in (pipe.unet, pipe.controlnet, pipe.vae):
            model.to(memory_format=torch.channels_last)
    if options.vae_slicing:
        pipe.vae.enable_slicing()
    if options.vae_tiling:
        pipe.vae.enable_tiling()
    if options.compile:
        pipe.unet = torch.compile(pipe.unet)
        pipe.controlnet = torch.compile(pipe.controlnet)
    return {
        **asdict(options),
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
        "channels_last": channels_last,
    }
