"""The definitions the README and docs/definitions.md show work as written, and the
reference documents every extension key."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tap_commerce_sandbox import Sandbox

from tap_commerce.loader import EXTENSIONS, load
from tests.harness import REPO, free_port, parse_lines, run_cli, shell


def blocks(text: str, after: str, language: str) -> list[str]:
    section = text[text.index(after) :]
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(seed=5, scale=0.05, anchor="2026-01-01") as sb:
        yield sb


def test_the_docs_whole_api_example_discovers_and_syncs_the_sandbox(sandbox, tmp_path):
    docs = (REPO / "docs" / "definitions.md").read_text(encoding="utf-8")
    definition = blocks(docs, "## A whole API: an example", "yaml")[0]
    (tmp_path / "my-shop.yml").write_text(definition)
    config = {
        "definition": str(tmp_path / "my-shop.yml"),
        "api_key": "sandbox-shop-key",
        "api_secret": "sandbox-shop-secret",
        # the README's sandbox listens on 8765; this one on a free port
        "base_url": sandbox.config("shop")["base_url"],
    }
    discovered = run_cli(["--discover"], config=config, tmp_path=tmp_path)
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    catalog = discovered.messages[0]
    schemas = {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}
    assert set(schemas) == {"products", "reviews"}
    assert schemas["products"]["updated_at_utc"]["format"] == "date-time"
    assert "integer" in schemas["reviews"]["product_id"]["type"]
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    synced = run_cli(
        ["--catalog", str(tmp_path / "catalog.json")], config=config, tmp_path=tmp_path
    )
    assert synced.returncode == 0, synced.stderr[-2000:]
    products = sandbox.records("shop", "products")
    assert sorted(r["id"] for r in synced.records["products"]) == sorted(p["id"] for p in products)
    reviews = [
        (product, review["id"])
        for product, rows in sandbox.child_records("shop", "products_reviews").items()
        for review in rows
    ]
    assert sorted((r["product_id"], r["id"]) for r in synced.records["reviews"]) == sorted(reviews)


def test_the_docs_example_of_starting_from_a_built_in_loads():
    docs = (REPO / "docs" / "definitions.md").read_text(encoding="utf-8")
    text = blocks(docs, "## Starting from a built-in", "yaml")[0]
    import yaml  # noqa: PLC0415

    definition = load(yaml.safe_load(text))
    products = definition.resource("products")
    assert products.path.source == "/v2/catalogue/products"
    assert products.primary_key == ("uuid",)
    assert products.paginator is not None and products.paginator.limit == 50
    assert definition.auth is not None and definition.auth.name == "X-Shop-Token"
    assert products.replication_key == "updated_at_utc"  # the rest is the built-in's
    assert len(definition.resources) == 14


def test_the_reference_documents_every_extension_key():
    docs = (REPO / "docs" / "definitions.md").read_text(encoding="utf-8")
    for key in EXTENSIONS:
        assert f"`{key}`" in docs, key


def test_the_worked_adaptation_works_as_pasted(tmp_path):
    """The worked adaptation, pasted as written (only the sandbox's port changed): the
    sandbox command, the definition, the commands, and the schema it says --discover
    infers, which must be the one printed.
    """
    page = (REPO / "docs" / "definitions.md").read_text(encoding="utf-8")
    section = "## Adapting a built-in to the service you have"
    definition = blocks(page, section, "yaml")[0]
    commands = blocks(page, section, "sh")[0].strip().splitlines()
    shown = json.loads(blocks(page, section, "json")[0])
    port = str(free_port())
    (tmp_path / "my-shop-like.yml").write_text(definition.replace("8765", port))
    serve, *rest = commands
    assert serve == "tap-commerce-sandbox serve --port 8765 &"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen(  # the sandbox, as the page starts it, in the background
        serve.removesuffix("&").replace("8765", port).split(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip().endswith(port)
        done = shell("set -euo pipefail\n" + "\n".join(rest) + "\n", tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == shown
    catalog = {
        s["tap_stream_id"]: s
        for s in json.loads((tmp_path / "catalog.json").read_text())["streams"]
    }
    assert catalog["products"]["key_properties"] == ["id"]
    assert catalog["products"]["replication_key"] == "updatedAtUtc"
    records = parse_lines((tmp_path / "shop-like.singer").read_text())
    products = [m["record"] for m in records if m["type"] == "RECORD" and m["stream"] == "products"]
    assert products, "the sync emitted no products"
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", p["updatedAtUtc"]) for p in products
    )
    assert all(p["updatedAtUtc"] >= "2025-01-01T00:00:00+00:00" for p in products)


def test_the_settings_reference_is_what_the_tap_reports() -> None:
    from pipeline import docs  # noqa: PLC0415 - the generator, only here

    assert docs.SETTINGS.read_text(encoding="utf-8") == docs.settings_reference(), (
        "docs/settings.md is stale: run python -m pipeline.docs"
    )
    assert "| refresh_token |" in docs.SETTINGS.read_text(encoding="utf-8")


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_and_anchor_in_the_readme_and_docs_resolves() -> None:
    pages = [REPO / "README.md", *(REPO / "docs").rglob("*.md"), REPO / "sandbox" / "README.md"]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"(https?|mailto):", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path) if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
            elif anchor:
                headings = re.findall(r"(?m)^#+ (.*)$", file.read_text(encoding="utf-8"))
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(f"{page.relative_to(REPO)}: {target}")
    assert not broken, broken
