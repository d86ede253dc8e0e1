"""``toolkit subjects``: list, show, import and remove subjects in the registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(groups: argparse._SubParsersAction) -> None:
    from ..diffusion.subjects import DEFAULT_BASE, DEFAULT_CONTROLNET, SUBJECTS_ENV

    parser = groups.add_parser("subjects", help="list, show, import and remove subjects")
    commands = parser.add_subparsers(dest="subjects_command", metavar="COMMAND", required=True)
    where = f"subject registry folder (default: ${SUBJECTS_ENV} or ./subjects)"

    listing = commands.add_parser(
        "list", help="list the subjects in the registry", description="List subjects."
    )
    listing.add_argument("--subjects-dir", type=Path, default=None, help=where)
    listing.set_defaults(run=_list)

    show = commands.add_parser(
        "show",
        help="print a subject's subject.toml record",
        description="Print what a subject is and what it was trained on.",
    )
    show.add_argument("name", help="subject name")
    show.add_argument("--subjects-dir", type=Path, default=None, help=where)
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(run=_show)

    imported = commands.add_parser(
        "import",
        help="register a LoRA trained elsewhere (diffusers, kohya or A1111) as a subject",
        description="Copy a LoRA file into a new subject folder with its subject.toml, so that "
        "`toolkit generate --subject NAME` renders it. The LoRA is checked to load on --base first.",
    )
    imported.add_argument("name", help="subject name (its folder in the registry)")
    imported.add_argument("--lora", type=Path, required=True, help="the LoRA .safetensors file")
    imported.add_argument("--token", required=True, help="the identifier the LoRA was trained on, e.g. sks")
    imported.add_argument("--class-noun", default="person", help="the subject's class (default: person)")
    imported.add_argument("--base", default=DEFAULT_BASE, help=f"its base model (default: {DEFAULT_BASE})")
    imported.add_argument(
        "--controlnet",
        default=DEFAULT_CONTROLNET,
        help=f"OpenPose ControlNet (default: {DEFAULT_CONTROLNET})",
    )
    imported.add_argument("--template", default="default", help="prompt template (default: default)")
    imported.add_argument("--subjects-dir", type=Path, default=None, help=where)
    imported.set_defaults(run=_import)

    remove = commands.add_parser(
        "remove",
        help="delete a subject's folder",
        description="Delete a subject's folder, LoRA and samples included.",
    )
    remove.add_argument("name", help="subject name")
    remove.add_argument("--subjects-dir", type=Path, default=None, help=where)
    remove.add_argument("--yes", action="store_true", help="confirm the deletion (required)")
    remove.set_defaults(run=_remove)


def _list(args: argparse.Namespace) -> None:
    from ..diffusion.subjects import SubjectRegistry

    registry = SubjectRegistry.at(args.subjects_dir)
    entries = registry.entries()
    if not entries:
        print(f"no subjects in {registry.root}")
    for entry in entries:  # one broken subject does not hide the others
        print(entry.line())


def _show(args: argparse.Namespace) -> None:
    from ..diffusion.subjects import SubjectRegistry

    registry = SubjectRegistry.at(args.subjects_dir)
    subject = registry.get(args.name)
    if args.json:
        print(json.dumps({**subject.summary(), "folder": str(registry.folder(args.name))}, indent=2))
    else:
        print(f"# {registry.folder(args.name)}")
        print(subject.to_toml(), end="")


def _import(args: argparse.Namespace) -> None:
    from ..diffusion.lora_import import import_lora
    from ..diffusion.subjects import SubjectRegistry

    registry = SubjectRegistry.at(args.subjects_dir)
    folder, modules = import_lora(
        registry,
        args.name,
        args.lora,
        token=args.token,
        class_noun=args.class_noun,
        base=args.base,
        controlnet=args.controlnet,
        template=args.template,
    )
    print(f"imported {args.lora} as subject {args.name!r} ({modules} modules) into {folder}")


def _remove(args: argparse.Namespace) -> None:
    from ..diffusion.subjects import SubjectRegistry

    registry = SubjectRegistry.at(args.subjects_dir)
    if args.name not in registry.names():
        registry.get(args.name)  # raises, naming the known subjects
    if not args.yes:
        raise ValueError(
            f"this deletes {registry.folder(args.name)} and everything in it; pass --yes to confirm"
        )
    print(f"removed {registry.remove(args.name)}")
