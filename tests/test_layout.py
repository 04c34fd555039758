"""The package's shape: no import circle between its modules (counting imports made only
for type checking or inside functions), one entry module, and no Python per API."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tap_commerce"


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("tap_commerce")
        ):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (PACKAGE / f"{alias.name}.py").exists() and node.module == "tap_commerce"
            )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tap_commerce"))
    return {name for name in found if name != "tap_commerce"}


def test_no_module_of_the_engine_imports_another_in_a_circle():
    graph = {
        f"tap_commerce.{path.stem}": imports_of(path)
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    }
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None
    assert "tap_commerce.tap" in order


def test_only_the_entry_module_imports_the_tap():
    importers = [
        path.name
        for path in PACKAGE.rglob("*.py")
        if "tap_commerce.tap" in imports_of(path) and path.name != "__main__.py"
    ]
    assert importers == []


def test_no_python_module_describes_an_api():
    """An API is a definition file; the engine holds no API's paths or names."""
    assert not (PACKAGE / "apis").exists()
    definitions = sorted(p.name for p in (PACKAGE / "definitions").iterdir())
    assert definitions == [
        "digital.yml",
        "orders.yml",
        "payments.yml",
        "shop.yml",
        "storefront.yml",
    ]
    for path in PACKAGE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for api_path in ("/v1/order_payments", "/commerce/inventory", "/v1/choice-sets", "prd_id"):
            assert api_path not in text, (path.name, api_path)
