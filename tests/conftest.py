"""Shared fixtures: a loopback HTTP server per test (pytest-httpserver)."""

from __future__ import annotations

import pytest


@pytest.fixture
def server(httpserver):  # noqa: ANN001, ANN201
    """pytest-httpserver's server, with a scratch dict for stateful fakes."""
    httpserver.storefront_filter = {}
    return httpserver


@pytest.fixture
def base_url(server) -> str:  # noqa: ANN001
    return server.url_for("/").rstrip("/")
