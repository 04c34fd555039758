"""A throwaway PostgreSQL server for the end-to-end tests.

The server binaries come from the system (Debian's ``postgresql`` package; ``make test``
installs it when it is missing). The cluster lives in a fresh temporary directory, listens
on a free loopback port with trust authentication, runs without fsync, and is removed when
the server stops. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user that the package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: run `make test`, which "
    "installs them (Debian: apt-get install postgresql), or put them on PATH"
)


def server_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: the newest Debian install, else PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError(MISSING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """``with PostgresServer() as pg: pg.url`` — a server on 127.0.0.1, user ``warehouse``."""

    user = "warehouse"
    database = "postgres"
    host = "127.0.0.1"

    def __init__(self) -> None:
        self.bindir = server_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tap-commerce-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_other_user: list[str] = []
        if os.geteuid() == 0:
            self._as_other_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    def _run(self, *argv: str) -> None:
        result = subprocess.run(  # noqa: S603
            [*self._as_other_user, *argv], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            msg = f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr}{log}"
            raise RuntimeError(msg)

    def start(self) -> PostgresServer:
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={self.host} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.log), "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"
