"""A Meltano project for a test: the repository's meltano.yml in a directory of its own.

Its ``.meltano`` links to the plugins installed in the repository's (``make test``
installs them), so nothing is installed again; everything Meltano writes while running
(run files, logs) stays in the project's own directory. Its system database is named by
the run's environment (`pipeline.meltano.run_environment`), so two projects are two
workers with nothing shared on disk but the installed software.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from pipeline.meltano import (
    MELTANO,
    MeltanoError,
    installed,
    link_plugins,
    meltano,
    run_environment,
)
from pipeline.postgres import Server
from tests.harness import REPO

#: variables of the developer's shell that would leak into a test's runs
FOREIGN = ("TAP_COMMERCE_", "TARGET_", "MELTANO_", "WAREHOUSE_URI")


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}


class Project:
    """``Project(root, warehouse)``: a Meltano project at ``root`` loading into
    ``warehouse`` (and keeping its system database there, unless ``system_db``)."""

    def __init__(
        self,
        root: Path,
        warehouse: Server,
        *,
        system_db: Server | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        try:
            installed()
        except MeltanoError as exc:
            pytest.fail(str(exc))
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "meltano.yml", root / "meltano.yml")
        link_plugins(root)
        self.env = run_environment(
            warehouse, base=clean_environment(), system_db=system_db, extra=env
        )

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """``meltano ARGS`` in this project; a failure fails the test with Meltano's tail."""
        try:
            result = meltano(*args, cwd=self.root, env={**self.env, **(env or {})}, timeout=600)
        except MeltanoError as exc:
            tail = "\n".join(exc.output.splitlines()[-40:])
            pytest.fail(f"{exc}\n{tail}")
        return result.stdout

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """``meltano ARGS`` in the background (its output is discarded)."""
        return subprocess.Popen(
            [str(MELTANO), *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def run_failing(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """``meltano ARGS``, which must fail; returns its output."""
        result = subprocess.run(
            [str(MELTANO), *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode != 0, result.stdout[-2000:]
        return result.stdout + result.stderr
