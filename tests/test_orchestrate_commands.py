"""The commands of docs/many-stores.md: the stores file check, and Dagster's own loader on
`orchestrate.definitions` (what ``dagster dev -m orchestrate.definitions`` and a
deployment's code location load), with no store's secrets in the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tap_commerce_sandbox import Stores as SandboxStores

from tests.harness import REPO
from tests.test_doc_commands import block

EXAMPLE = REPO / "orchestrate" / "stores.example.yml"
DAGSTER = Path(sys.executable).parent / "dagster"


def environment(**extra: str) -> dict[str, str]:
    """This environment without any store's variable or a shell's TAP_COMMERCE_*."""
    names = ("SHOP_", "PAYMENTS_", "TAP_COMMERCE_", "DAGSTER_HOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    return {**env, **extra}


def test_the_stores_file_check_runs_as_documented():
    (command,) = block("docs/many-stores.md", "test_the_stores_file_check_runs_as_documented")
    assert command == "python -m orchestrate.stores orchestrate/stores.example.yml"
    argv = [sys.executable, *command.split()[1:]]
    missing = subprocess.run(
        argv, cwd=REPO, env=environment(), capture_output=True, text=True, check=False
    )
    assert missing.returncode == 1
    lines = missing.stderr.splitlines()
    assert len(lines) == 13  # 3 shop stores × 3 variables, 2 payments stores × 2
    assert lines[0] == (
        "stores file orchestrate/stores.example.yml: store 'north' (shop): env.base_url: "
        "environment variable SHOP_NORTH_BASE_URL is not set"
    )
    with SandboxStores.from_file(EXAMPLE, scale=0.01) as sandboxes:
        variables = sandboxes.env(EXAMPLE)
    done = subprocess.run(
        argv, cwd=REPO, env=environment(**variables), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "orchestrate/stores.example.yml: 5 stores of 2 APIs (shop, payments); "
        "every variable is set\n"
    )
    for value in variables.values():
        assert value not in done.stdout + done.stderr


def test_dagster_loads_the_definitions_without_the_stores_secrets(tmp_path):
    argv = [str(DAGSTER), "definitions", "validate", "-m", "orchestrate.definitions"]
    env = environment(TAP_COMMERCE_STORES=str(EXAMPLE), DAGSTER_HOME=str(tmp_path))
    loaded = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-2000:]
    assert "Validation successful" in loaded.stdout + loaded.stderr
    # a stores file with a mistake: the code location fails to load, saying which line
    bad = tmp_path / "stores.yml"
    bad.write_text(EXAMPLE.read_text().replace("api: payments", "api: paymnts", 1))
    env["TAP_COMMERCE_STORES"] = str(bad)
    failed = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert (
        f"stores file {bad}: store 'north' (paymnts): api: 'paymnts' is not a built-in API"
        in failed.stdout + failed.stderr
    )
