"""Every singer-sdk private name the package uses is listed, once, in
`tap_commerce.sdk_private`, for the singer-sdk version installed."""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

import singer_sdk

from tap_commerce.sdk_private import PRIVATE_NAMES, SDK_VERSION

PACKAGE = Path(__file__).resolve().parent.parent / "tap_commerce"
SDK = Path(singer_sdk.__file__).resolve().parent


def sdk_source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in SDK.rglob("*.py"))


def private_uses() -> dict[str, set[str]]:
    """Private names of singer-sdk in the package: imports from private modules or of
    private names, and `_names` of attributes and methods that singer-sdk's code has."""
    source = sdk_source()
    uses: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                module = node.module or ""
                private_module = any(part.startswith("_") for part in module.split("."))
                found += [
                    f"{module}.{alias.name}"
                    for alias in node.names
                    if private_module or alias.name.startswith("_")
                ]
            elif isinstance(node, ast.Attribute | ast.FunctionDef):
                name = node.attr if isinstance(node, ast.Attribute) else node.name
                if (
                    name.startswith("_")
                    and not name.startswith("__")
                    and re.search(rf"(def |self\.|\bcls\.){re.escape(name)}\b", source)
                ):
                    found.append(name)
            for name in found:
                uses.setdefault(name, set()).add(path.name)
    return uses


def test_the_list_is_written_for_the_installed_singer_sdk():
    assert metadata.version("singer-sdk") == SDK_VERSION


def test_every_private_name_used_is_listed_and_every_listed_one_is_used():
    uses = private_uses()
    assert set(uses) == set(PRIVATE_NAMES), (
        f"unlisted: {sorted(set(uses) - set(PRIVATE_NAMES))}; "
        f"listed but unused: {sorted(set(PRIVATE_NAMES) - set(uses))}"
    )
    for name, files in uses.items():
        listed = PRIVATE_NAMES[name]
        assert any(listed.startswith(f) or f"{f}:" in listed for f in files), (name, files)
