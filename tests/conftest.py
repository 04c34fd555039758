"""Shared fixtures: a threaded loopback HTTP server (pytest-httpserver)."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture(scope="session")
def make_httpserver():  # noqa: ANN201
    """pytest-httpserver's session server, threaded so concurrent requests overlap."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def server(httpserver):  # noqa: ANN001, ANN201
    """The per-test view of the server, with a scratch dict for stateful fakes."""
    httpserver.storefront_filter = {}
    return httpserver


@pytest.fixture
def base_url(server) -> str:  # noqa: ANN001
    return server.url_for("/").rstrip("/")
