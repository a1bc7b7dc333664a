"""The one-way dependency rule of docs/ARCHITECTURE.md, checked on the source's imports."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "quakeslide"

# a module imports from its own layer or lower ones; each name is a top-level module or
# subpackage of quakeslide
LAYERS = [
    {
        "errors",
        "classes",
        "folders",
        "allocator",
        "area_classes",
        "device",
        "options",
        "records",
        "catalogue",
    },
    {"io", "models", "data", "reporting", "config", "synthetic"},
    {"inference", "evaluation", "export", "training", "bench", "inventory"},
    {"cli", "cli_options", "demo", "__main__"},
]
# stage -> stage imports that are part of the design
STAGE_USES = {
    ("evaluation", "inference"),  # scores tiles through the same engines predict runs
    ("training", "evaluation"),  # validation counts with evaluate's Confusion
    ("training", "inference"),  # study --self-train pseudo-labels with predict's engines
    ("inference", "inventory"),  # predict writes each scene's event figures
    ("bench", "training"),  # measures the training step with training's optimiser
}
# only these may import the Lightning-based training package
TRAINING_USERS = {"training", "bench", "cli", "demo"}


def imports() -> list[tuple[str, str, Path]]:
    """(importing group, imported group, file) for every quakeslide import across groups."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        group = relative.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "quakeslide" and len(parts) > 1 and parts[1] != group:
                    found.append((group, parts[1], relative))
    return found


def layer_of(group: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if group in layer)


def test_every_module_has_a_layer():
    groups = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.glob("*")}
    groups -= {"__init__", "__pycache__"}
    assert groups <= set().union(*LAYERS), groups - set().union(*LAYERS)


def test_imports_point_down():
    upward = [
        f"{path}: {source} -> {target}"
        for source, target, path in imports()
        if layer_of(target) > layer_of(source)
        or (layer_of(target) == layer_of(source) == 2 and (source, target) not in STAGE_USES)
    ]
    assert not upward, upward


def test_lightning_stays_in_training():
    users = {
        f"{path}: {source}"
        for source, target, path in imports()
        if target == "training" and source not in TRAINING_USERS
    }
    assert not users, users
