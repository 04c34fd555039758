"""Shared fixtures: a threaded loopback HTTP server (pytest-httpserver)."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's session server, threaded so concurrent requests overlap."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def server(httpserver):
    """The per-test view of the server, with a scratch dict for stateful fakes."""
    httpserver.storefront_filter = {}
    return httpserver


@pytest.fixture
def base_url(server) -> str:
    return server.url_for("/").rstrip("/")


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the session: the one the environment names
    (``WAREHOUSE_URI``, ``TARGET_POSTGRES_*``), else a throwaway embedded server. Each
    test module that loads data takes a database of its own (``fresh_database``)."""
    from pipeline.postgres import throwaway_server  # noqa: PLC0415 - only for these tests

    with throwaway_server() as server:
        yield server


@pytest.fixture(scope="session")
def fresh_database(pg_server):
    """``fresh_database("name")``: a new, empty database on the session's server, dropped
    at the end of the session."""
    made = []

    def make(name: str):
        database = pg_server.with_database(f"tc_{name}_{len(made)}")
        database.drop_database()
        made.append(database.ensure_database())
        return database

    yield make
    for database in made:
        database.drop_database()
