"""``toolkit subjects``: list, show and remove trained subjects in the registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(groups: argparse._SubParsersAction) -> None:
    from ..diffusion.subjects import SUBJECTS_ENV

    parser = groups.add_parser("subjects", help="list, show and remove trained subjects")
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
    names = registry.names()
    if not names:
        print(f"no subjects in {registry.root}")
        return
    for name in names:
        subject = registry.get(name)
        trained = "LoRA" if subject.lora_path(registry.folder(name)).is_file() else "no LoRA"
        print(f"{name}\t{subject.token} {subject.class_noun}\t{subject.base}\t{trained}")


def _show(args: argparse.Namespace) -> None:
    from ..diffusion.subjects import SubjectRegistry

    registry = SubjectRegistry.at(args.subjects_dir)
    subject = registry.get(args.name)
    if args.json:
        print(json.dumps({**subject.summary(), "folder": str(registry.folder(args.name))}, indent=2))
    else:
        print(f"# {registry.folder(args.name)}")
        print(subject.to_toml(), end="")


def _remove(args: argparse.Namespace) -> None:
    from ..diffusion.subjects import SubjectRegistry

    registry = SubjectRegistry.at(args.subjects_dir)
    registry.get(args.name)
    if not args.yes:
        raise ValueError(
            f"this deletes {registry.folder(args.name)} and everything in it; pass --yes to confirm"
        )
    print(f"removed {registry.remove(args.name)}")
