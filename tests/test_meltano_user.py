"""The path a user takes to add the tap to a Meltano project of their own: the README's
"Use it in your Meltano project" commands, run as written in an empty directory with no
copy of this repository's meltano.yml. The tap is installed from a wheel built from this
checkout (the plugin definition's ``pip_url`` pointed at it); the loader from its shipped
plugin definition; the sandbox listens where the README says, but on a free port; the
database is the session's embedded PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tap_commerce_sandbox import Sandbox

from pipeline.meltano import MELTANO, MeltanoError, installed
from tests import warehouse
from tests.harness import REPO, free_port
from tests.meltano_project import clean_environment

SECTION = "## Use it in your Meltano project"


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION) :]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)[:1]
    return block.strip().splitlines()


def checkout_refs(root: Path, wheel: Path) -> Path:
    """A copy of ``plugins/`` whose tap definition installs ``wheel``."""
    for path in (REPO / "plugins").rglob("*.yml"):
        target = root / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    ref = root / "plugins" / "extractors" / "tap-commerce.yml"
    definition = yaml.safe_load(ref.read_text(encoding="utf-8"))
    assert definition["pip_url"] == "tap-commerce"
    definition["pip_url"] = str(wheel)
    ref.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    return root


def test_the_readme_commands_add_the_tap_to_a_new_project_and_load_two_stores(
    tmp_path, fresh_database
):
    try:
        installed()
    except MeltanoError as exc:
        pytest.fail(str(exc))
    commands = readme_commands()
    assert commands[0] == "meltano init my-project && cd my-project"
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(REPO)],
        check=True,
    )
    wheel = next(dist.glob("tap_commerce-*.whl"))
    refs = checkout_refs(tmp_path / "tap-commerce", wheel)
    database = fresh_database("user_project")
    port = free_port()
    env = {
        **clean_environment(),
        "PATH": f"{MELTANO.parent}{':'}{clean_environment()['PATH']}",
        "TAP_COMMERCE": str(refs),
        "DATABASE_URL": database.sqlalchemy_url(),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    work = tmp_path / "home"
    work.mkdir()
    script = "set -euo pipefail\n" + "\n".join(c.replace("8765", str(port)) for c in commands)
    with Sandbox(seed=8, scale=0.05, anchor="2026-06-01", port=port) as sandbox:
        done = subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-c", script + "\n"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        project = work / "my-project"
        assert not (project / "meltano.yml").read_text().count("tap-commerce-payments")
        # `meltano config test` said so, and `meltano select --list` listed the streams
        assert "Plugin configuration is valid" in done.stdout + done.stderr
        assert "order_payments" in done.stdout
        with warehouse.connect(database.uri()) as conn:
            payments = warehouse.table_rows(conn, "tap_commerce", "order_payments")
            problems = warehouse.compare_records(
                "payments",
                "order_payments",
                sandbox.records("payments", "order_payments"),
                payments,
            )
            assert not problems, "\n".join(problems[:10])
            shop = warehouse.table_rows(conn, "shop", "products")
            assert sorted(r["id"] for r in shop) == sorted(
                r["id"] for r in sandbox.records("shop", "products")
            )
            assert "order_payments" not in warehouse.tables(conn, "shop")
