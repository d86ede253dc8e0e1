"""Prompt templates: ``prompts/<name>.toml`` files with ``{token}`` and ``{class}`` placeholders.

A template file holds ``prompt`` and ``negative`` (and optionally ``class_prompt``, the DreamBooth
prior-preservation prompt, and ``description``). Templates are looked up in ``$TOOLKIT_PROMPTS_DIR`` if
set, else in the ``prompts/`` folder at the root of the toolkit's source tree (an editable install or a
checkout; the folder ships beside the ``toolkit`` package).
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolkitError
from .subjects import Subject
from .tomlfile import read_toml

PROMPTS_ENV = "TOOLKIT_PROMPTS_DIR"
DEFAULT_TEMPLATE = "default"
PLACEHOLDERS = ("token", "class")
# Without a subject the placeholders read naturally: "a photo of {token} {class}" -> "a photo of a person".
NO_SUBJECT = {"token": "a", "class": "person"}


class PromptError(ToolkitError):
    """A prompt template is unknown or malformed."""


def prompts_dir() -> Path:
    """Where templates live: ``$TOOLKIT_PROMPTS_DIR``, else ``<source root>/prompts``."""
    return Path(os.environ.get(PROMPTS_ENV) or Path(__file__).resolve().parents[2] / "prompts")


@dataclass(frozen=True)
class PromptTemplate:
    """One template file.

    Args:
        name: The file's stem.
        prompt: Positive prompt with ``{token}`` and ``{class}``.
        negative: Negative prompt. Default empty.
        class_prompt: Prior-preservation prompt with ``{class}``, for DreamBooth training. Optional.
        description: One line shown by listings. Optional.
    """

    name: str
    prompt: str
    negative: str = ""
    class_prompt: str | None = None
    description: str = ""


def list_templates(folder: str | Path | None = None) -> list[str]:
    """Sorted names of the templates in ``folder`` (default :func:`prompts_dir`)."""
    folder = Path(folder) if folder is not None else prompts_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_template(name: str, folder: str | Path | None = None) -> PromptTemplate:
    """Read template ``name``; an unknown name raises :class:`PromptError` listing the known ones."""
    folder = Path(folder) if folder is not None else prompts_dir()
    path = folder / f"{name}.toml"
    if "/" in name or "\\" in name or not path.is_file():
        known = ", ".join(list_templates(folder)) or "none"
        raise PromptError(
            f"no prompt template {name!r} in {folder} (known: {known}); set ${PROMPTS_ENV} "
            "to a folder of templates, or pass --prompt"
        )
    data = read_toml(path)
    unknown = sorted(set(data) - {"prompt", "negative", "class_prompt", "description"})
    if unknown or not isinstance(data.get("prompt"), str):
        raise PromptError(
            f"{path}: needs a 'prompt' string and may have negative, class_prompt, description"
            + (f"; unknown key(s) {', '.join(unknown)}" if unknown else "")
        )
    template = PromptTemplate(name=name, **data)
    for text in (template.prompt, template.negative, template.class_prompt or ""):
        check_placeholders(text, where=str(path))
    return template


def check_placeholders(text: str, where: str = "prompt") -> str:
    """Return ``text`` if its only ``{...}`` fields are ``{token}`` and ``{class}``; else raise
    :class:`PromptError` (write ``{{`` and ``}}`` for literal braces)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as err:
        raise PromptError(f"{where}: {err} in {text!r}; write {{{{ and }}}} for literal braces") from None
    unknown = sorted(fields - set(PLACEHOLDERS))
    if unknown:
        raise PromptError(
            f"{where}: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)} in "
            f"{text!r}; use {{token}} and {{class}}"
        )
    return text


def fill(text: str, token: str, class_noun: str) -> str:
    """``text`` with ``{token}`` and ``{class}`` filled in and runs of spaces collapsed."""
    filled = check_placeholders(text).format_map({"token": token, "class": class_noun})
    return " ".join(filled.split())


@dataclass(frozen=True)
class Prompts:
    """The final prompt pair of a run."""

    prompt: str
    negative: str
    template: str | None


def resolve_prompts(
    *,
    subject: Subject | None = None,
    template: str | None = None,
    prompt: str | None = None,
    negative: str | None = None,
    folder: str | Path | None = None,
) -> Prompts:
    """Decide a run's prompts. Each part takes the first that is given of: the explicit argument, the
    subject's ``subject.toml``, the template (``template`` argument, else the subject's, else
    ``"default"``). Placeholders are filled with the subject's token and class noun, or "a person" when
    there is no subject.

    Args:
        subject: The subject being rendered, if any.
        template: Template name (``--template``).
        prompt: Literal prompt, may use ``{token}`` and ``{class}`` (``--prompt``).
        negative: Literal negative prompt (``--negative-prompt``).
        folder: Template folder; default :func:`prompts_dir`.
    """
    name = template or (subject.template if subject else DEFAULT_TEMPLATE)
    prompt = prompt if prompt is not None else (subject.prompt if subject else None)
    negative = negative if negative is not None else (subject.negative_prompt if subject else None)
    used_template = None
    if prompt is None or negative is None:
        loaded = load_template(name, folder)
        used_template = name
        prompt = loaded.prompt if prompt is None else prompt
        negative = loaded.negative if negative is None else negative
    token, class_noun = (
        (subject.token, subject.class_noun) if subject else (NO_SUBJECT["token"], NO_SUBJECT["class"])
    )
    return Prompts(fill(prompt, token, class_noun), fill(negative, token, class_noun), used_template)
