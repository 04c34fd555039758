"""meltano.yml mirrors the tap's settings: every setting, secrets sensitive, one plugin per API."""

from __future__ import annotations

import yaml

from tap_commerce.settings import API_IDS, CONFIG_SCHEMA, SECRET_SETTINGS
from tests.harness import REPO


def test_meltano_yml_declares_every_setting_and_marks_secrets_sensitive() -> None:
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    extractors = {p["name"]: p for p in project["plugins"]["extractors"]}
    settings = {s["name"]: s for s in extractors["tap-commerce"]["settings"]}
    assert set(settings) == set(CONFIG_SCHEMA["properties"])
    for name, setting in settings.items():
        assert setting.get("sensitive", False) == (name in SECRET_SETTINGS), name
        assert setting["description"], name
    for api in API_IDS:
        plugin = extractors[f"tap-commerce-{api}"]
        assert plugin["inherit_from"] == "tap-commerce" and plugin["config"]["api"] == api
