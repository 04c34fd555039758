"""The plugin definitions (plugins/) and meltano.yml: every setting, secrets sensitive, the
capabilities --about reports, one plugin per API, lock files current."""

from __future__ import annotations

import json

import yaml

from pipeline import docs, plugins
from tap_commerce.settings import API_IDS, CONFIG_SCHEMA, SECRET_SETTINGS
from tests.harness import REPO


def _settings(kind: str, name: str) -> dict[str, dict]:
    return {s["name"]: s for s in plugins.definition(kind, name)["settings"]}


def test_meltano_yml_declares_every_setting_and_marks_secrets_sensitive() -> None:
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    extractors = {p["name"]: p for p in project["plugins"]["extractors"]}
    settings = _settings("extractors", "tap-commerce")
    assert set(CONFIG_SCHEMA["properties"]) <= set(settings)
    for name, setting in settings.items():
        assert setting.get("sensitive", False) == (name in SECRET_SETTINGS), name
        assert setting["description"], name
    for api in API_IDS:
        plugin = extractors[f"tap-commerce-{api}"]
        assert plugin["inherit_from"] == "tap-commerce" and plugin["config"]["api"] == api


def test_each_api_loads_into_its_own_schema() -> None:
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    extractors = {p["name"]: p for p in project["plugins"]["extractors"]}
    schemas = [extractors[f"tap-commerce-{api}"]["load_schema"] for api in API_IDS]
    assert schemas == list(API_IDS)
    postgres = _settings("loaders", "target-postgres")
    assert postgres["default_target_schema"]["value"] == "$MELTANO_EXTRACT__LOAD_SCHEMA"
    assert postgres["load_method"]["value"] == "upsert"
    assert postgres["password"]["sensitive"] is True
    jsonl = _settings("loaders", "target-jsonl")
    assert jsonl["destination_path"]["value"].endswith("$MELTANO_EXTRACT__LOAD_SCHEMA")


def test_plugins_are_named_by_variant_and_locked_so_meltano_needs_no_hub() -> None:
    """Each base plugin names a variant whose lock file is in plugins/: `meltano install`
    and `meltano run` read the definition there, with no network but the package
    registries; the lock files are current with the definitions."""
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    assert project["send_anonymous_usage_stats"] is False
    bases = [
        (kind, plugin)
        for kind in ("extractors", "loaders")
        for plugin in project["plugins"][kind]
        if "inherit_from" not in plugin
    ]
    assert {(kind, p["name"]) for kind, p in bases} == set(plugins.DEFINED)
    for kind, plugin in bases:
        assert set(plugin) <= {"name", "variant", "pip_url", "config"}, plugin["name"]
        assert plugin["variant"] == plugins.definition(kind, plugin["name"])["variant"]
        lock = plugins.lock_path(kind, plugin["name"])
        assert lock.read_text(encoding="utf-8") == plugins.lock_text(kind, plugin["name"]), (
            f"{lock.relative_to(REPO)} is stale: run python -m pipeline.plugins"
        )
        assert json.loads(lock.read_text())["plugin_type"] == kind


def test_no_setting_uses_meltanos_decimal_kind() -> None:
    """Meltano 4.4 crashes writing the tap's config when a `decimal` setting comes from
    the environment; fractional settings are strings that the tap parses."""
    for kind, name in plugins.DEFINED:
        for setting in plugins.definition(kind, name)["settings"]:
            assert setting.get("kind") != "decimal", (name, setting["name"])


def test_deletes_reach_the_warehouse_and_decimals_stay_exact() -> None:
    """The shipped loader settings: ACTIVATE_VERSION sent by every API plugin and handled
    by target-postgres (soft delete by default), and no `use_copy`, whose 0.8.1 path
    rounds long decimals through floats."""
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    extractors = {p["name"]: p for p in project["plugins"]["extractors"]}
    assert extractors["tap-commerce"]["config"]["emit_activate_version_messages"] is True
    for name, plugin in extractors.items():  # no API plugin turns it off again
        if name != "tap-commerce":
            assert "emit_activate_version_messages" not in plugin.get("config", {}), name
    loaders = {p["name"]: p for p in project["plugins"]["loaders"]}
    postgres = {n: s.get("value") for n, s in _settings("loaders", "target-postgres").items()}
    assert postgres["add_record_metadata"] is True
    assert postgres["activate_version"] is True
    assert postgres["hard_delete"] is False
    assert not postgres.get("use_copy")
    # measured in benchmarks/ part (e): half the load time, every value still exact
    # (tests/test_e2e_postgres.py compares each one)
    assert postgres["validate_records"] is False
    assert loaders["target-postgres"]["pip_url"] == "meltanolabs-target-postgres~=0.8.1"


def test_plugins_are_installed_with_bytecode() -> None:
    """`make` installs the plugins with UV_COMPILE_BYTECODE=1: Meltano installs through uv,
    which otherwise writes no bytecode, and every tap, discovery and loader process would
    compile its libraries from source at start (target-postgres: 1.7 s instead of 0.6 s)."""
    plugins = REPO / ".meltano"
    for venv, package in (
        (plugins / "extractors" / "tap-commerce" / "venv", "singer_sdk"),
        (plugins / "loaders" / "target-postgres" / "venv", "target_postgres"),
        (plugins / "loaders" / "target-postgres" / "venv", "sqlalchemy"),
    ):
        (site,) = (venv / "lib").glob("python3.*/site-packages")
        sources = list((site / package).rglob("*.py"))
        compiled = {
            p.parent.parent / (p.name.split(".")[0] + ".py")
            for p in (site / package).rglob("__pycache__/*.pyc")
        }
        missing = [p for p in sources if p not in compiled]
        assert sources and not missing, (
            f"{venv.parent.name}: {len(missing)} of {len(sources)} {package} modules without bytecode"
        )


def test_capabilities_and_settings_are_exactly_what_the_tap_reports() -> None:
    about = json.loads(docs.about("json"))
    declared = plugins.definition("extractors", "tap-commerce")
    assert sorted(declared["capabilities"]) == sorted(about["capabilities"])
    names = {s["name"] for s in declared["settings"]}
    # every setting --about lists: the tap's own and singer-sdk's (stream maps, flattening)
    assert names == set(about["settings"]["properties"])
    assert all(s.get("kind") != "password" for s in declared["settings"])  # Meltano 4: sensitive
    assert {"name", "namespace", "pip_url", "executable", "settings"} <= set(declared)
    groups = declared["settings_group_validation"]
    assert ["definition"] in groups
    for required in (
        ["api_key"],
        ["api_key", "api_secret"],
        ["username", "password"],
        ["client_id", "client_secret"],
    ):
        assert ["api", *required] in groups
