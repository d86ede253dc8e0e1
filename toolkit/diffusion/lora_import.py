"""A LoRA trained elsewhere (diffusers, kohya or A1111 format) registered as a subject."""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_bytes_atomic
from ..errors import ToolkitError
from .loading import LoraWeights, load_loras, load_pipeline
from .subjects import (
    DEFAULT_BASE,
    DEFAULT_CONTROLNET,
    LORA_FILE,
    SUBJECT_FILE,
    Subject,
    SubjectError,
    SubjectRegistry,
)


def import_lora(
    registry: SubjectRegistry,
    name: str,
    lora: str | Path,
    *,
    token: str,
    class_noun: str = "person",
    base: str = DEFAULT_BASE,
    controlnet: str = DEFAULT_CONTROLNET,
    template: str = "default",
) -> tuple[Path, int]:
    """Copy ``lora`` into a new subject ``name`` of ``registry`` with its ``subject.toml``, after checking
    that it loads on ``base`` (at least one module matches).

    Returns:
        The subject's folder and the number of modules the LoRA patched.

    Raises:
        SubjectError: the subject exists already. ToolkitError: the file is missing or is for another base.
    """
    lora = Path(lora)
    folder = registry.folder(name)
    if (folder / SUBJECT_FILE).exists():
        raise SubjectError(f"subject {name!r} exists already in {registry.root}; remove it first")
    if not lora.is_file():
        raise ToolkitError(f"{lora}: no such LoRA file")
    pipe = load_pipeline(base, [controlnet])
    record = load_loras(pipe, [LoraWeights(lora, 1.0, "subject")])[0]  # it must load on its base
    if not record["modules"]:
        raise ToolkitError(f"{lora}: none of its modules match {base}; is it for another base?")
    subject = Subject(
        name,
        token=token,
        class_noun=class_noun,
        base=base,
        controlnets=(controlnet,),
        template=template,
        training={"imported_from": str(lora.resolve()), "sha256": record["sha256"]},
    )
    write_bytes_atomic(folder / LORA_FILE, lora.read_bytes())
    registry.save(subject)
    return folder, int(record["modules"])
