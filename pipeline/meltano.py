"""Running the project's Meltano: where it is installed, and the environment of a run.

Meltano itself lives in ``.venv-meltano`` and the plugins of ``meltano.yml`` in
``.meltano`` (``make`` installs both). A run loads into the warehouse through
target-postgres's ``sqlalchemy_url`` and keeps Meltano's system database (its state above
all) in PostgreSQL too, in a schema of its own, so many workers can share one state.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrate.meltano_log import reason
from orchestrate.system_dir import own_system_dir

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pipeline.postgres import Server

REPO = Path(__file__).resolve().parent.parent
MELTANO = REPO / ".venv-meltano" / "bin" / "meltano"
PLUGINS = REPO / ".meltano"
SYSTEM_SCHEMA = "meltano"
API_IDS = ("storefront", "payments", "shop", "digital", "orders")


class MeltanoError(RuntimeError):
    """A Meltano command failed; the message is one line, the output is kept."""

    def __init__(self, message: str, output: str) -> None:
        """``message``: the one line; ``output``: what Meltano wrote."""
        super().__init__(message)
        self.output = output


def installed() -> None:
    """Raise a one-line error unless Meltano and the plugins are installed."""
    for path in (MELTANO, PLUGINS / "loaders" / "target-postgres"):
        if not path.exists():
            msg = f"{path} is missing: run `make demo` or `make test`, which install Meltano and its plugins"
            raise MeltanoError(msg, "")


def run_environment(
    warehouse: Server,
    *,
    base: Mapping[str, str] | None = None,
    system_db: Server | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a Meltano run: target-postgres loads into ``warehouse``, and
    Meltano's system database is the schema ``meltano`` of ``system_db`` (default: the
    warehouse's own database). ``extra`` (e.g. a sandbox's settings) comes last.
    """
    env = dict(os.environ if base is None else base)
    system = system_db or warehouse
    system.ensure_schema(SYSTEM_SCHEMA)
    env.update(
        TARGET_POSTGRES_SQLALCHEMY_URL=warehouse.sqlalchemy_url(),
        MELTANO_DATABASE_URI=system.sqlalchemy_url(search_path=SYSTEM_SCHEMA),
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    env.update(extra or {})
    return env


def meltano(
    *args: str, cwd: Path = REPO, env: Mapping[str, str], timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """Run ``meltano ARGS`` in the project ``cwd``; a failure raises `MeltanoError` whose
    message names the command and quotes the line that says why (a plugin's error or
    exception, else Meltano's; `orchestrate.meltano_log.reason`).
    """
    result = subprocess.run(  # noqa: S603 - the project's own Meltano, with the caller's arguments
        [str(MELTANO), *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        why = reason(output.splitlines()) or (lines[-1] if lines else "no output")
        msg = f"`meltano {' '.join(args)}` exited {result.returncode}: {why}"
        raise MeltanoError(msg, output)
    return result


def system_dir(path: Path) -> Path:
    """``path`` made a Meltano system directory (``MELTANO_SYS_DIR_ROOT``) of its own,
    with links to the plugins installed in this repository's ``.meltano``
    (`orchestrate.system_dir`): two demos at once never share a catalog.
    """
    return own_system_dir(path, PLUGINS)


def link_plugins(root: Path) -> None:
    """Give the Meltano project at ``root`` the plugins installed in this repository's
    ``.meltano`` (links, nothing installed again) and their lock files (``plugins/``, where
    Meltano reads their definitions); what Meltano writes while running stays in ``root``.
    """
    for lock in (REPO / "plugins").glob("*/*.lock"):
        target = root / lock.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lock, target)
    for kind in ("extractors", "loaders"):
        (root / ".meltano" / kind).mkdir(parents=True, exist_ok=True)
        for plugin in (PLUGINS / kind).iterdir():
            link = root / ".meltano" / kind / plugin.name
            if not link.exists():
                link.symlink_to(plugin, target_is_directory=True)
