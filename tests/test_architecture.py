"""The package's data flow, checked: no module imports one from a later stage.

images -> predictions (stored) -> metrics and analysis -> runs (the service layer) -> report,
review -> zoo -> cli. A lower layer never imports a higher one, not even inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reassess

PACKAGE = Path(reassess.__file__).parent

# Lowest first. Small utilities every layer may use sit at the bottom.
LAYERS = (
    ("reassess", "reassess.fsnames", "reassess.cache", "reassess.store.atomic"),
    ("reassess.labels",),
    ("reassess.datasets",),
    ("reassess.models",),
    ("reassess.store",),
    ("reassess.inference",),
    ("reassess.metrics",),
    ("reassess.analysis",),
    ("reassess.runs",),
    ("reassess.report", "reassess.review"),
    ("reassess.zoo",),
    ("reassess.cli",),
)


def layer_of(module: str) -> int:
    """The index in LAYERS of the longest prefix naming ``module``."""
    best, best_len = 0, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_len:
                best, best_len = index, len(name)
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ``reassess...`` module a file imports, at any depth (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("reassess"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("reassess"))
    return found


def test_no_module_imports_a_later_stage_of_the_data_flow():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for imported in sorted(imported_modules(path)):
            if layer_of(imported) > layer_of(importer):
                upward.append(f"{importer} imports {imported}")
    assert upward == []


def test_the_layer_map_knows_every_package():
    packages = {module_name(p) for p in PACKAGE.glob("*/__init__.py")}
    unplaced = [p for p in packages if layer_of(p) == 0]
    assert unplaced == []
