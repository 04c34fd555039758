"""``/_admin/`` endpoints: let another process drive a running sandbox. No auth, never
faulted, never rate limited, not in the request log.

==========================================  ===============================================
``GET  /_admin/health``                     ``{"status": "ok", "url": ...}``
``GET  /_admin/configs``                    ``{api: tap config}``
``GET  /_admin/streams``                    ``{api: {stream: record count}}``
``GET  /_admin/data/<api>/<stream>``        ``{"count": n, "records": [...]}``; ``?offset=&limit=``
                                            (``&extra_fields=true``: as served, drift included)
``POST /_admin/mutate``                     body: ``api streams added updated deleted``
``POST /_admin/faults``                     body: ``rate kinds seed apis path schedule slow_seconds``
``POST /_admin/faults/next``                body: ``n kind apis path slow_seconds``
``DELETE /_admin/faults``                   remove every fault
``GET  /_admin/stats``                      request, status, 429 and fault counters
``GET  /_admin/requests``                   the request log; ``?limit=N`` for the last N
``POST /_admin/reset``                      clear the request log and counters
``POST /_admin/tokens/expire``              expire every orders access token
``POST /_admin/settings``                   body: ``latency token_ttl`` (seconds)
``GET  /_admin/drift``                      both contract-drift drills (``null``: off)
``POST /_admin/extra-fields``               body: ``fields apis streams start changed
                                            change_at`` (no ``fields``: the default ones;
                                            ``null``: off)
``DELETE /_admin/extra-fields``             turn the schema-drift drill off
``POST /_admin/foreign-next-url``           body: ``url path`` (no ``url``: the default
                                            ``http://127.0.0.2:{port}``; ``null``: off)
``DELETE /_admin/foreign-next-url``         turn the foreign-next-URL drill off
``GET  /_admin/foreign-requests``           requests addressed to another origin; ``?limit=N``
==========================================  ===============================================
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

from .drift import DEFAULT_EXTRA_FIELDS, DEFAULT_FOREIGN_ORIGIN
from .jsonenc import loads
from .wire import Response, json_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from .sandbox import Sandbox

Query = list[tuple[str, str]]
#: a JSON object (a request body, or the answer)
Json = dict[str, Any]
_Entry = TypeVar("_Entry")


class Admin:
    """The ``/_admin/`` endpoints of one sandbox (see the module docstring)."""

    def __init__(self, sandbox: Sandbox) -> None:
        """The endpoints of ``sandbox``."""
        self.sandbox = sandbox
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"^/_admin/health$"), self.health),
            ("GET", re.compile(r"^/_admin/configs$"), lambda _q, _b: self.sandbox.configs()),
            ("GET", re.compile(r"^/_admin/streams$"), lambda _q, _b: self.sandbox.streams()),
            ("GET", re.compile(r"^/_admin/data/([a-z]+)/([a-z_]+)$"), self.data),
            ("POST", re.compile(r"^/_admin/mutate$"), self.mutate),
            ("POST", re.compile(r"^/_admin/faults$"), self.set_faults),
            ("POST", re.compile(r"^/_admin/faults/next$"), self.fail_next),
            ("DELETE", re.compile(r"^/_admin/faults$"), self.clear_faults),
            ("GET", re.compile(r"^/_admin/stats$"), lambda _q, _b: self.sandbox.stats()),
            ("GET", re.compile(r"^/_admin/requests$"), self.requests),
            ("POST", re.compile(r"^/_admin/reset$"), self.reset),
            ("POST", re.compile(r"^/_admin/tokens/expire$"), self.expire_tokens),
            ("POST", re.compile(r"^/_admin/settings$"), self.settings),
            ("GET", re.compile(r"^/_admin/drift$"), self.drift),
            ("POST", re.compile(r"^/_admin/extra-fields$"), self.set_extra_fields),
            ("DELETE", re.compile(r"^/_admin/extra-fields$"), self.clear_extra_fields),
            ("POST", re.compile(r"^/_admin/foreign-next-url$"), self.set_foreign_next_url),
            ("DELETE", re.compile(r"^/_admin/foreign-next-url$"), self.clear_foreign_next_url),
            ("GET", re.compile(r"^/_admin/foreign-requests$"), self.foreign_requests),
        ]

    def handle(self, method: str, path: str, query: Query, body: bytes) -> Response:
        """Answer one admin request: 200 with the endpoint's answer, 400 with why not."""
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                try:
                    payload = _payload(body)
                    return json_response(200, handler(dict(query), payload, *match.groups()))
                except (ValueError, TypeError, KeyError) as exc:
                    return json_response(400, {"error": str(exc)})
        return json_response(404, {"error": f"no admin endpoint {method} {path}"})

    def health(self, _query: dict[str, str], _body: Json) -> Json:
        """``GET health``: the sandbox is up, at its URL."""
        return {"status": "ok", "url": self.sandbox.url}

    def data(self, query: dict[str, str], _body: Json, api: str, stream: str) -> Json:
        """``GET data/<api>/<stream>``: the stream's records, ``?offset=&limit=``."""
        offset = int(query.get("offset", 0))
        limit = int(query["limit"]) if "limit" in query else None
        extra = query.get("extra_fields", "false").lower() in ("1", "true", "yes")
        records = self.sandbox.records(api, stream, offset, limit, extra_fields=extra)
        return {
            "api": api,
            "stream": stream,
            "count": self.sandbox.count(api, stream),
            "offset": offset,
            "records": records,
        }

    def mutate(self, _query: dict[str, str], body: Json) -> Json:
        """``POST mutate``: add, update and delete records."""
        allowed = {"api", "streams", "added", "updated", "deleted"}
        _check_keys(body, allowed)
        return self.sandbox.mutate(**body)

    def set_faults(self, _query: dict[str, str], body: Json) -> Json:
        """``POST faults``: inject faults at a rate or on a schedule."""
        _check_keys(body, {"rate", "kinds", "seed", "apis", "path", "schedule", "slow_seconds"})
        if "schedule" in body:
            body["schedule"] = {int(k): v for k, v in body["schedule"].items()}
        self.sandbox.set_faults(**body)
        return {"faults": "set"}

    def fail_next(self, _query: dict[str, str], body: Json) -> Json:
        """``POST faults/next``: fail the next ``n`` requests."""
        _check_keys(body, {"n", "kind", "apis", "path", "slow_seconds"})
        self.sandbox.fail_next(**body)
        return {"faults": "queued"}

    def clear_faults(self, _query: dict[str, str], _body: Json) -> Json:
        """``DELETE faults``: no more faults."""
        self.sandbox.clear_faults()
        return {"faults": "cleared"}

    def requests(self, query: dict[str, str], _body: Json) -> Json:
        """``GET requests``: the request log (``?limit=N``: its last N)."""
        entries = _last(self.sandbox.requests.snapshot(), query)
        return {"requests": [entry.to_json() for entry in entries]}

    def reset(self, _query: dict[str, str], _body: Json) -> Json:
        """``POST reset``: clear the request log and counters."""
        self.sandbox.reset_stats()
        return {"reset": True}

    def expire_tokens(self, _query: dict[str, str], _body: Json) -> Json:
        """``POST tokens/expire``: expire every orders access token."""
        self.sandbox.expire_tokens()
        return {"expired": True}

    def settings(self, _query: dict[str, str], body: Json) -> Json:
        """``POST settings``: the latency and the token lifetime."""
        _check_keys(body, {"latency", "token_ttl"})
        if "latency" in body:
            self.sandbox.latency = float(body["latency"])
        if "token_ttl" in body:
            self.sandbox.token_ttl = float(body["token_ttl"])
        return {"latency": self.sandbox.latency, "token_ttl": self.sandbox.token_ttl}

    def drift(self, _query: dict[str, str], _body: Json) -> Json:
        """``GET drift``: both contract-drift drills (``null``: off)."""
        extra, foreign = self.sandbox.extra_fields, self.sandbox.foreign_next_url
        return {
            "extra_fields": extra.to_json() if extra else None,
            "foreign_next_url": foreign.to_json() if foreign else None,
        }

    def set_extra_fields(self, query: dict[str, str], body: Json) -> Json:
        """``POST extra-fields``: turn the schema-drift drill on."""
        _check_keys(body, {"fields", "apis", "streams", "start", "changed", "change_at"})
        if "fields" not in body:
            body["fields"] = DEFAULT_EXTRA_FIELDS
        self.sandbox.set_extra_fields(**body)
        return self.drift(query, {})

    def clear_extra_fields(self, query: dict[str, str], _body: Json) -> Json:
        """``DELETE extra-fields``: turn the schema-drift drill off."""
        self.sandbox.set_extra_fields(None)
        return self.drift(query, {})

    def set_foreign_next_url(self, query: dict[str, str], body: Json) -> Json:
        """``POST foreign-next-url``: turn the foreign-next-URL drill on."""
        _check_keys(body, {"url", "path"})
        if "url" not in body:
            body["url"] = DEFAULT_FOREIGN_ORIGIN
        self.sandbox.set_foreign_next_url(**body)
        return self.drift(query, {})

    def clear_foreign_next_url(self, query: dict[str, str], _body: Json) -> Json:
        """``DELETE foreign-next-url``: turn the foreign-next-URL drill off."""
        self.sandbox.set_foreign_next_url(None)
        return self.drift(query, {})

    def foreign_requests(self, query: dict[str, str], _body: Json) -> Json:
        """``GET foreign-requests``: requests addressed to another origin."""
        entries = self.sandbox.foreign_requests()
        return {"count": len(entries), "requests": [e.to_json() for e in _last(entries, query)]}


def _last(entries: list[_Entry], query: dict[str, str]) -> list[_Entry]:
    """The last ``?limit=N`` entries (all without a limit)."""
    if "limit" not in query:
        return entries
    limit = int(query["limit"])
    return entries[-limit:] if limit else []


def _payload(body: bytes) -> Json:
    """The request body: a JSON object, or none (TypeError for any other JSON value)."""
    payload = loads(body) if body.strip() else {}
    if not isinstance(payload, dict):
        msg = "the request body must be a JSON object"
        raise TypeError(msg)
    return payload


def _check_keys(body: Json, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        msg = f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        raise ValueError(msg)
