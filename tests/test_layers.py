"""The import graph of ``src/crabplus`` follows the layer order written in ``docs/architecture.md``.

Parsed with ``ast`` (every import, also those inside functions): no module imports a package on its own
line or above it, no module imports a ``_private`` module or name of another package, and ``importlib``
appears only where a user's dotted path is resolved (plugin loading).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "crabplus"
# Resolving the dotted path a user writes in a config (``LayerWrapPolicy`` layer classes) is plugin loading.
PLUGIN_LOADERS = {"crabplus/train/strategies.py"}


def layer_order() -> list[list[str]]:
    """The ```layers block of docs/architecture.md: one layer per line, bottom first, peers on one line."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    match = re.search(r"```layers\n(.*?)```", text, re.S)
    assert match, "docs/architecture.md has no ```layers block"
    return [line.split() for line in match.group(1).splitlines() if line.strip()]


def layer_of() -> dict[str, int]:
    return {name: i for i, line in enumerate(layer_order()) for name in line}


def modules(src: Path = SRC) -> list[Path]:
    return sorted(src.rglob("*.py"))


def unit_of(path: Path, src: Path = SRC) -> str:
    """The top-level unit (package or module) of ``crabplus`` a file belongs to."""
    rel = path.relative_to(src)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else ""


def imports(path: Path, src: Path = SRC) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import statement of ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = ["crabplus", *path.relative_to(src).parent.parts]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            out.append((node.lineno, module, [alias.name for alias in node.names]))
    return out


def crabplus_targets(module: str, names: list[str]) -> list[tuple[str, list[str]]]:
    """(top-level unit, path parts below ``crabplus``) of what an import reaches inside crabplus."""
    parts = module.split(".")
    if parts[0] != "crabplus":
        return []
    if len(parts) > 1:
        return [(parts[1], parts[1:])]
    return [(name, [name]) for name in names]  # from crabplus import tasks


def test_layer_order_is_readable_and_covers_every_package():
    order = layer_of()
    units = {unit_of(p) for p in modules()} - {""}
    assert units, "no modules found"
    assert sorted(units - set(order)) == [], "packages missing from docs/architecture.md's layers block"
    assert sorted(set(order) - units) == [], "the layers block names packages that do not exist"


def test_readme_lists_every_package_in_layer_order():
    order = layer_of()
    listed = re.findall(r"^\| `crabplus\.(\w+)` \|", (ROOT / "README.md").read_text(), re.M)
    assert sorted(listed) == sorted(order), "README's package table and the layers block differ"
    layers = [order[name] for name in listed]
    assert layers == sorted(layers), f"README's package table is not in layer order: {listed}"


def climbing_imports(src: Path, order: dict[str, int]) -> list[str]:
    climbs = []
    for path in modules(src):
        unit = unit_of(path, src)
        for line, module, names in imports(path, src):
            for target, _ in crabplus_targets(module, names):
                if unit in order and target in order and target != unit and order[target] >= order[unit]:
                    climbs.append(
                        f"{path.relative_to(src.parent)}:{line}: {unit} imports {target} ({module})"
                    )
    return climbs


def test_no_module_imports_its_own_layer_or_above():
    climbs = climbing_imports(SRC, layer_of())
    assert not climbs, "imports that climb the layer order:\n" + "\n".join(climbs)


def test_no_private_name_of_another_package_is_imported():
    private = []
    for path in modules():
        unit = unit_of(path)
        for line, module, names in imports(path):
            for target, parts in crabplus_targets(module, names):
                if target == unit:
                    continue
                hidden = [p for p in parts if p.startswith("_") and p != "__init__"]
                hidden += [n for n in names if n.startswith("_")] if module.startswith("crabplus.") else []
                if hidden:
                    private.append(f"{path.relative_to(SRC.parent)}:{line}: {module} {hidden}")
    assert not private, "private names imported across packages:\n" + "\n".join(private)


def test_importlib_only_for_plugin_loading():
    found = []
    for path in modules():
        rel = str(path.relative_to(SRC.parent))
        if rel in PLUGIN_LOADERS:
            continue
        tree = ast.parse(path.read_text(), rel)
        for node in ast.walk(tree):
            bad = (
                (isinstance(node, ast.Import) and any(a.name.startswith("importlib") for a in node.names))
                or (
                    isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith("importlib")
                    and any(a.name != "resources" for a in node.names)  # package data, not imports
                )
                or (isinstance(node, ast.Name) and node.id == "__import__")
            )
            if bad:
                found.append(f"{rel}:{node.lineno}")
    assert not found, "importlib outside plugin loading:\n" + "\n".join(found)


def test_the_check_sees_lazy_relative_and_package_imports(tmp_path):
    src = tmp_path / "crabplus"
    (src / "metrics").mkdir(parents=True)
    (src / "metrics" / "__init__.py").write_text("")
    (src / "metrics" / "a.py").write_text(
        "import torch\n"
        "from crabplus import answer\n"  # below metrics: fine
        "from . import b\n"  # own package: fine
        "def f():\n    from crabplus.train.module import AVLLMModule\n"  # lazy, climbs
        "from ..tasks import get\n"  # relative, climbs
        "from crabplus import metrics, data\n"  # own package fine, data climbs
    )
    order = {"answer": 0, "metrics": 1, "tasks": 2, "data": 3, "train": 4}
    climbs = climbing_imports(src, order)
    assert sorted(c.split(": ", 1)[1] for c in climbs) == [
        "metrics imports data (crabplus)",
        "metrics imports tasks (crabplus.tasks)",
        "metrics imports train (crabplus.train.module)",
    ]
