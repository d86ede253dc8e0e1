"""The package's layers import downwards only, checked on the source with ``ast``:

    base -> pose -> data -> nn -> diffusion -> methods -> baselines/ -> eval -> demo -> ui -> commands -> cli

The base modules (errors, atomic files, locks, weight files ...) import only each other. No module under
``toolkit/`` imports the ``baselines`` package: the registry finds the methods through entry points.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "toolkit",
    "errors",
    "atomic",
    "paths",
    "checks",
    "weights",
    "locks",
    "manifest",
    "argtypes",
    "progress",
}
ORDER = [
    "base",
    "pose",
    "data",
    "nn",
    "diffusion",
    "methods",
    "baselines",
    "eval",
    "demo",
    "ui",
    "commands",
    "cli",
]


def layer(module: str) -> str:
    """``toolkit.pose.io.openpose`` -> ``pose``; ``baselines.knn`` -> ``baselines``."""
    parts = module.split(".")
    if parts[0] == "baselines":
        return "baselines"
    name = parts[1] if len(parts) > 1 else "toolkit"
    if name == "train":  # the training core sits beside the network parts
        return "nn"
    return "base" if name in BASE else name


def imports(path: Path) -> set[str]:
    """Every ``toolkit``/``baselines`` module ``path`` imports, relative imports resolved."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.removesuffix(".__init__") if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in ("toolkit", "baselines"))
    return found


def sources() -> list[Path]:
    return sorted([*(ROOT / "toolkit").rglob("*.py"), *(ROOT / "baselines").rglob("*.py")])


def test_every_import_goes_to_the_same_or_a_lower_layer():
    upward = []
    for path in sources():
        own = layer(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for target in imports(path):
            if ORDER.index(layer(target)) > ORDER.index(own):
                upward.append(f"{path.relative_to(ROOT)} ({own}) imports {target} ({layer(target)})")
    assert not upward, "\n".join(upward)


def test_no_toolkit_module_names_the_baselines_package():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "toolkit").rglob("*.py")
        if any(target.split(".")[0] == "baselines" for target in imports(path))
    ]
    assert not offenders


def test_the_checker_sees_relative_and_upward_imports():
    """The check itself: a relative import is resolved to its layer, and an upward one is caught."""
    assert layer("toolkit.pose.io.openpose") == "pose" and layer("toolkit.weights") == "base"
    assert imports(ROOT / "toolkit" / "data" / "subject.py") == {"toolkit.pose.sequence"}
    assert ORDER.index(layer("toolkit.eval.harness")) > ORDER.index(layer("toolkit.nn.trainer"))
