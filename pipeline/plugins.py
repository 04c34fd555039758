"""The plugin definitions a Meltano project adds with ``meltano add --from-ref``, in
Meltano Hub's format: ``plugins/extractors/tap-commerce.yml`` and
``plugins/loaders/target-postgres.yml``, made from this project's ``meltano.yml`` so the
two never differ. ``python -m pipeline.plugins`` writes them; a test checks they are
current.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
#: the files, by plugin type and name
FILES = {
    ("extractors", "tap-commerce"): ROOT / "plugins" / "extractors" / "tap-commerce.yml",
    ("loaders", "target-postgres"): ROOT / "plugins" / "loaders" / "target-postgres.yml",
}
#: what Meltano Hub shows beside each plugin's own keys
HUB = {
    "tap-commerce": {
        "variant": "tap-commerce",
        "label": "tap-commerce",
        "description": "Commerce REST APIs (five built in, any other described in dlt's rest_api shape)",
        "pip_url": "tap-commerce",
        "keywords": ["meltano_sdk", "commerce", "rest_api"],
        "maintenance_status": "active",
    },
    "target-postgres": {
        "variant": "meltanolabs",
        "label": "Postgres",
        "description": "PostgreSQL database loader, configured as tap-commerce loads",
        "keywords": ["meltano_sdk", "database"],
        "maintenance_status": "active",
    },
}
#: the keys of a plugin of meltano.yml that a definition carries, in Hub's order
KEYS = (
    "name",
    "variant",
    "label",
    "description",
    "namespace",
    "pip_url",
    "executable",
    "capabilities",
    "settings_group_validation",
    "settings",
    "keywords",
    "maintenance_status",
)
HEADER = (
    "# A Meltano plugin definition (Meltano Hub's format), made from this project's\n"
    "# meltano.yml by `python -m pipeline.plugins`. Add it to any Meltano project:\n"
    "#   meltano add {kind} {name} --from-ref <this file's path or URL>\n"
)


def definition(kind: str, name: str) -> dict[str, Any]:
    """The definition of plugin ``name`` (of ``kind``, e.g. ``extractors``)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (plugin,) = [p for p in project["plugins"][kind] if p["name"] == name]
    merged = {**plugin, **HUB[name]}
    return {key: merged[key] for key in KEYS if key in merged}


def text(kind: str, name: str) -> str:
    """The file's text."""
    body = yaml.safe_dump(definition(kind, name), sort_keys=False, allow_unicode=True, width=100)
    return HEADER.format(kind=kind.removesuffix("s"), name=name) + body


def main() -> int:
    """Write every file; return 0."""
    for (kind, name), path in FILES.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text(kind, name), encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
