"""Generation parameters in A1111's "parameters" text, which every frame carries in a PNG text chunk, so
the tools people already use (A1111's PNG Info, ComfyUI, image browsers, civitai) read them::

    a photo of sks person, full body
    Negative prompt: blurry, lowres
    Steps: 20, Sampler: UniPC, CFG scale: 7.5, Seed: 0, Size: 512x512, Model: mini, Lora hashes: "subject:
    0123456789ab", ControlNet 0: "Module: openpose, Model: mini, Weight: 1.0", Version: pose-transfer-toolkit

Hashes follow A1111's short forms: the model's is the first 10 hex digits of its file's SHA-256 (only a
single-file model has one), a LoRA's the first 12.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PARAMETERS_KEY = "parameters"  # the PNG text key A1111 reads and writes


@dataclass(frozen=True)
class Parameters:
    """What decided a frame, as A1111 names it.

    Args:
        prompt / negative: The prompts.
        steps / sampler / guidance / seed: Sampling (``sampler`` in A1111's naming, e.g. ``"UniPC"``).
        size: ``(width, height)``.
        model: The base model's spec; ``model_hash`` its file's SHA-256 when it is a single file.
        loras: ``(adapter name, file SHA-256 or None)`` of each LoRA applied.
        controlnets: ControlNet specs, each with its ``controlnet_scale``.
    """

    prompt: str
    negative: str
    steps: int
    sampler: str
    guidance: float
    seed: int
    size: tuple[int, int]
    model: str
    model_hash: str | None
    loras: Sequence[tuple[str, str | None]]
    controlnets: Sequence[str]
    controlnet_scale: Sequence[float]

    def text(self) -> str:
        """The three-line A1111 text (the negative line only when there is a negative prompt)."""
        from .. import __version__

        fields = [
            f"Steps: {self.steps}",
            f"Sampler: {self.sampler}",
            f"CFG scale: {self.guidance:g}",
            f"Seed: {self.seed}",
            f"Size: {self.size[0]}x{self.size[1]}",
        ]
        if self.model_hash:
            fields.append(f"Model hash: {self.model_hash[:10]}")
        fields.append(f"Model: {_name(self.model)}")
        hashed = [f"{name}: {sha[:12]}" for name, sha in self.loras if sha]
        if hashed:
            fields.append(f'Lora hashes: "{", ".join(hashed)}"')
        scales = list(self.controlnet_scale) * (
            len(self.controlnets) if len(self.controlnet_scale) == 1 else 1
        )
        for i, (spec, scale) in enumerate(zip(self.controlnets, scales, strict=False)):
            fields.append(f'ControlNet {i}: "Module: openpose, Model: {_name(spec)}, Weight: {scale:g}"')
        fields.append(f"Version: pose-transfer-toolkit {__version__}")
        lines = [self.prompt]
        if self.negative:
            lines.append(f"Negative prompt: {self.negative}")
        lines.append(", ".join(fields))
        return "\n".join(lines)


def _name(spec: str) -> str:
    """A model's short name as A1111 shows it: a file's stem, a folder's or hub id's last part."""
    path = Path(spec)
    return path.stem if path.suffix in (".safetensors", ".ckpt") else path.name or spec
