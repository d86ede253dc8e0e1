"""The subject registry: one folder per trained person, ``<subjects dir>/<name>/``.

A subject folder holds::

    subject.toml                        what the subject is and what it was trained on (see Subject)
    pytorch_lora_weights.safetensors    its LoRA, as written by diffusers' save_lora_weights
    samples/...                         optional sample images, listed in subject.toml

The registry root is ``./subjects`` unless the ``TOOLKIT_SUBJECTS_DIR`` environment variable or an
explicit folder (``--subjects-dir``) says otherwise. A subject's name is its folder name.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..atomic import write_text_atomic
from ..errors import ToolkitError
from ..pose.proportions import BodyProportions
from .tomlfile import TomlFileError, dumps_toml, read_toml

SUBJECTS_ENV = "TOOLKIT_SUBJECTS_DIR"
SUBJECT_FILE = "subject.toml"
LORA_FILE = "pytorch_lora_weights.safetensors"
DEFAULT_BASE = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_CONTROLNET = "lllyasviel/control_v11p_sd15_openpose"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class SubjectError(ToolkitError):
    """A subject name, folder or ``subject.toml`` is invalid, or the subject is unknown."""


def check_subject_name(name: str) -> str:
    """Return ``name`` if it is a valid subject name: 1-64 characters from letters, digits, ``_ . -``,
    starting with a letter or digit, with no ``..`` (so it can never leave the registry folder)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise SubjectError(
            f"invalid subject name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit (no path separators, no '..')"
        )
    return name


def subjects_dir(explicit: str | Path | None = None) -> Path:
    """The registry root: ``explicit`` if given, else ``$TOOLKIT_SUBJECTS_DIR``, else ``./subjects``."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get(SUBJECTS_ENV) or "subjects")


@dataclass
class Subject:
    """One trained subject, as recorded in ``subject.toml``.

    Args:
        name: The subject's name, which is also its folder name (see :func:`check_subject_name`).
        token: The rare identifier token bound to the subject in training, e.g. ``"sks"``.
        class_noun: The class the subject belongs to, e.g. ``"person"`` (``class`` in the file).
        base: The base model it was trained on: hub id, local folder, ``.safetensors`` file or ``"tiny"``.
        controlnets: The ControlNet(s) it is meant to be rendered with (``controlnet`` in the file).
        template: Name of the prompt template in ``prompts/`` (``"default"``, ``"walkcycle"`` ...).
        prompt: Optional literal prompt template with ``{token}`` and ``{class}``; overrides ``template``'s.
        negative_prompt: Optional negative prompt; overrides the template's.
        proportions: Body proportions measured from the training photos, used to retarget poses.
        samples: Sample images, paths relative to the subject folder.
        photos: The training photos, copied into the folder (paths relative to it), which
            ``toolkit generate --reference subject`` attends to.
        lora: File name of the LoRA weights in the subject folder.
        concept_lora: File name, in the folder, of the concept LoRA the subject was trained on top of
            (``dreambooth.py --init-lora``); generate applies it under the subject's. ``None`` for none.
        concept_scale: The concept LoRA's strength. Default 1.
        training: Free-form record of the training run (steps, rank, learning rate ...): scalars only.
    """

    name: str
    token: str = "sks"
    class_noun: str = "person"
    base: str = DEFAULT_BASE
    controlnets: tuple[str, ...] = (DEFAULT_CONTROLNET,)
    template: str = "default"
    prompt: str | None = None
    negative_prompt: str | None = None
    proportions: BodyProportions | None = None
    samples: tuple[str, ...] = ()
    photos: tuple[str, ...] = ()
    lora: str = LORA_FILE
    concept_lora: str | None = None
    concept_scale: float = 1.0
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_subject_name(self.name)
        for name in ("token", "class_noun", "base", "template", "lora"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise SubjectError(f"subject {self.name!r}: {name} must be a non-empty string")
        self.controlnets = tuple(self.controlnets)
        self.samples = tuple(self.samples)
        self.photos = tuple(self.photos)
        for sample in (
            *self.samples,
            *self.photos,
            self.lora,
            *([self.concept_lora] if self.concept_lora else []),
        ):
            if PurePosixPath(sample).is_absolute() or ".." in PurePosixPath(sample).parts:
                raise SubjectError(f"subject {self.name!r}: {sample!r} must be a path inside its folder")

    def to_toml(self) -> str:
        """The ``subject.toml`` text (the name is the folder's, so it is not stored)."""
        document: dict[str, Any] = {
            "token": self.token,
            "class": self.class_noun,
            "base": self.base,
            "controlnet": list(self.controlnets),
            "template": self.template,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "lora": self.lora,
            "concept_lora": self.concept_lora,
            "concept_scale": self.concept_scale,
            "samples": list(self.samples),
            "photos": list(self.photos),
        }
        if self.proportions is not None:
            document["proportions"] = self.proportions.to_dict()
        if self.training:
            document["training"] = dict(self.training)
        return dumps_toml(document, header=f"Subject {self.name!r} for `toolkit generate --subject`.")

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/subject.toml`` atomically (the folder is created); returns its path. The LoRA
        weights and sample images are written into the same folder by whoever trains the subject."""
        path = Path(folder) / SUBJECT_FILE
        write_text_atomic(path, self.to_toml())
        return path

    @classmethod
    def load(cls, folder: str | Path) -> Subject:
        """Read ``folder/subject.toml``; the folder's name is the subject's name. Missing keys take the
        defaults above; unknown keys or wrong types raise :class:`SubjectError` naming the file."""
        folder = Path(folder)
        path = folder / SUBJECT_FILE
        try:
            data = read_toml(path)
        except TomlFileError as err:
            raise SubjectError(str(err)) from None
        known = {
            "token",
            "class",
            "base",
            "controlnet",
            "template",
            "prompt",
            "negative_prompt",
            "lora",
            "concept_lora",
            "concept_scale",
            "samples",
            "photos",
            "proportions",
            "training",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise SubjectError(
                f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        try:
            controlnets = data.get("controlnet", [DEFAULT_CONTROLNET])
            proportions = data.get("proportions")
            return cls(
                name=folder.name,
                token=data.get("token", "sks"),
                class_noun=data.get("class", "person"),
                base=data.get("base", DEFAULT_BASE),
                controlnets=(controlnets,)
                if isinstance(controlnets, str)
                else _strings(controlnets, "controlnet"),
                template=data.get("template", "default"),
                prompt=data.get("prompt"),
                negative_prompt=data.get("negative_prompt"),
                proportions=None if proportions is None else BodyProportions.from_dict(proportions),
                samples=_strings(data.get("samples", []), "samples"),
                photos=_strings(data.get("photos", []), "photos"),
                lora=data.get("lora", LORA_FILE),
                concept_lora=data.get("concept_lora"),
                concept_scale=float(data.get("concept_scale", 1.0)),
                training=dict(data.get("training", {})),
            )
        except (SubjectError, ValueError, TypeError, AttributeError) as err:
            raise SubjectError(f"{path}: {err}") from None

    def concept_path(self, folder: str | Path) -> Path | None:
        """The concept LoRA's file in ``folder``, or ``None`` when the subject was trained on the plain
        base."""
        return None if self.concept_lora is None else Path(folder) / self.concept_lora

    def lora_path(self, folder: str | Path) -> Path:
        """The LoRA weights file of this subject stored in ``folder``."""
        return Path(folder) / self.lora

    def photo_paths(self, folder: str | Path) -> list[Path]:
        """The stored training photos of this subject in ``folder``; raises :class:`SubjectError` when
        it has none (subjects trained before photos were kept) or one is missing."""
        if not self.photos:
            raise SubjectError(
                f"subject {self.name!r} keeps no photos (it was trained before photos were stored); pass "
                "--reference PHOTO instead, or train it again"
            )
        paths = [Path(folder) / photo for photo in self.photos]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SubjectError(f"subject {self.name!r}: missing photo(s) {', '.join(missing)}")
        return paths

    def summary(self) -> dict[str, Any]:
        """A JSON-safe description (for ``toolkit subjects show --json`` and manifests)."""
        return {
            "name": self.name,
            "token": self.token,
            "class": self.class_noun,
            "base": self.base,
            "controlnets": list(self.controlnets),
            "template": self.template,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "proportions": None if self.proportions is None else self.proportions.to_dict(),
            "samples": list(self.samples),
            "photos": list(self.photos),
            "lora": self.lora,
            "concept_lora": self.concept_lora,
            "concept_scale": self.concept_scale,
            "training": dict(self.training),
        }


def _strings(values: object, key: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SubjectError(f"{key} must be a list of strings, got {values!r}")
    return tuple(values)


@dataclass(frozen=True)
class SubjectEntry:
    """One subject of a listing: its record, or why it cannot be read (a broken ``subject.toml``)."""

    name: str
    folder: Path
    subject: Subject | None
    problem: str | None = None

    @property
    def trained(self) -> bool:
        """Whether its LoRA file is there."""
        return self.subject is not None and self.subject.lora_path(self.folder).is_file()

    def columns(self) -> tuple[str, str, str, str]:
        """``(name, "token class", base, "LoRA" | "no LoRA")``, or ``(name, "broken", why, "")``."""
        if self.subject is None:
            return self.name, "broken", str(self.problem), ""
        subject = self.subject
        return (
            self.name,
            f"{subject.token} {subject.class_noun}",
            subject.base,
            "LoRA" if self.trained else "no LoRA",
        )

    def line(self) -> str:
        """:meth:`columns` tab-separated, or ``name, broken: why``."""
        if self.subject is None:
            return f"{self.name}\tbroken: {self.problem}"
        return "\t".join(self.columns())


@dataclass(frozen=True)
class SubjectRegistry:
    """The subjects stored under ``root`` (see :func:`subjects_dir`)."""

    root: Path

    @classmethod
    def at(cls, explicit: str | Path | None = None) -> SubjectRegistry:
        """The registry at ``explicit``, ``$TOOLKIT_SUBJECTS_DIR`` or ``./subjects``."""
        return cls(subjects_dir(explicit))

    def names(self) -> list[str]:
        """Sorted names of the folders under ``root`` that hold a ``subject.toml``."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if (p / SUBJECT_FILE).is_file() and _NAME.fullmatch(p.name)
        )

    def entries(self) -> list[SubjectEntry]:
        """Every subject, in name order; one whose record cannot be read is listed as broken (with the
        reason) instead of stopping the listing."""
        entries = []
        for name in self.names():
            try:
                entries.append(SubjectEntry(name, self.folder(name), self.get(name)))
            except SubjectError as err:
                entries.append(SubjectEntry(name, self.folder(name), None, str(err)))
        return entries

    def folder(self, name: str) -> Path:
        """The folder of subject ``name`` (which need not exist yet); the name is checked first."""
        return self.root / check_subject_name(name)

    def get(self, name: str) -> Subject:
        """Load subject ``name``; an unknown name raises :class:`SubjectError` listing the known ones."""
        folder = self.folder(name)
        if not (folder / SUBJECT_FILE).is_file():
            known = ", ".join(self.names()) or "none"
            raise SubjectError(
                f"no subject {name!r} in {self.root} (known: {known}); train one, or point "
                f"--subjects-dir / ${SUBJECTS_ENV} at the folder that holds it"
            )
        return Subject.load(folder)

    def save(self, subject: Subject) -> Path:
        """Write ``subject``'s ``subject.toml`` into its folder; returns the folder."""
        folder = self.folder(subject.name)
        subject.save(folder)
        return folder

    def remove(self, name: str) -> Path:
        """Delete subject ``name``'s folder and everything in it, even when its ``subject.toml`` is
        malformed; returns the removed folder. A name that is not a subject folder raises
        :class:`SubjectError` listing the known ones."""
        folder = self.folder(name)
        if not (folder / SUBJECT_FILE).is_file():
            self.get(name)  # raises, naming the known subjects
        if folder.is_symlink():
            folder.unlink()  # the link, not what it points to
        else:
            shutil.rmtree(folder)
        return folder
