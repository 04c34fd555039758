"""The plugins' definitions, and the Meltano lock files made from them.

``plugins/<type>/<name>.yml`` is a plugin definition in Meltano Hub's format: what
``meltano add --from-ref`` reads in any project. This project's ``meltano.yml`` names the
same plugins by variant, and Meltano reads their definitions from the lock files beside
them (``<name>--<variant>.lock``, Meltano's format) with no Hub to ask. ``meltano lock``
would fetch them from the Hub; ``python -m pipeline.plugins`` writes them from the
definitions instead, and a test checks they are current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
#: (plugin type, name) of every definition
DEFINED = (
    ("extractors", "tap-commerce"),
    ("loaders", "target-postgres"),
    ("loaders", "target-jsonl"),
)


def source(kind: str, name: str) -> Path:
    """The definition's file."""
    return PLUGINS / kind / f"{name}.yml"


def definition(kind: str, name: str) -> dict[str, Any]:
    """A plugin's definition (``kind``: ``extractors``, ``loaders``)."""
    value: dict[str, Any] = yaml.safe_load(source(kind, name).read_text(encoding="utf-8"))
    return value


def lock_path(kind: str, name: str) -> Path:
    """Where Meltano looks for the plugin's lock file."""
    return PLUGINS / kind / f"{name}--{definition(kind, name)['variant']}.lock"


def lock_text(kind: str, name: str) -> str:
    """The lock file: the definition as Meltano writes one (JSON, with its type)."""
    return json.dumps({"plugin_type": kind, **definition(kind, name)}, indent=2) + "\n"


def main() -> int:
    """Write every lock file; return 0."""
    for kind, name in DEFINED:
        path = lock_path(kind, name)
        path.write_text(lock_text(kind, name), encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
