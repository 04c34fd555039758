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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .drift import DEFAULT_EXTRA_FIELDS, DEFAULT_FOREIGN_ORIGIN
from .jsonenc import loads
from .wire import Response, json_response

if TYPE_CHECKING:
    from .sandbox import Sandbox

Query = list[tuple[str, str]]


class Admin:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"^/_admin/health$"), self.health),
            ("GET", re.compile(r"^/_admin/configs$"), lambda q, b: self.sandbox.configs()),
            ("GET", re.compile(r"^/_admin/streams$"), lambda q, b: self.sandbox.streams()),
            ("GET", re.compile(r"^/_admin/data/([a-z]+)/([a-z_]+)$"), self.data),
            ("POST", re.compile(r"^/_admin/mutate$"), self.mutate),
            ("POST", re.compile(r"^/_admin/faults$"), self.set_faults),
            ("POST", re.compile(r"^/_admin/faults/next$"), self.fail_next),
            ("DELETE", re.compile(r"^/_admin/faults$"), self.clear_faults),
            ("GET", re.compile(r"^/_admin/stats$"), lambda q, b: self.sandbox.stats()),
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
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                try:
                    payload = loads(body) if body.strip() else {}
                    if not isinstance(payload, dict):
                        raise TypeError("the request body must be a JSON object")
                    return json_response(200, handler(dict(query), payload, *match.groups()))
                except (ValueError, TypeError, KeyError) as exc:
                    return json_response(400, {"error": str(exc)})
        return json_response(404, {"error": f"no admin endpoint {method} {path}"})

    def health(self, query: dict, body: dict) -> dict:
        return {"status": "ok", "url": self.sandbox.url}

    def data(self, query: dict, body: dict, api: str, stream: str) -> dict:
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

    def mutate(self, query: dict, body: dict) -> dict:
        allowed = {"api", "streams", "added", "updated", "deleted"}
        _check_keys(body, allowed)
        return self.sandbox.mutate(**body)

    def set_faults(self, query: dict, body: dict) -> dict:
        _check_keys(body, {"rate", "kinds", "seed", "apis", "path", "schedule", "slow_seconds"})
        if "schedule" in body:
            body["schedule"] = {int(k): v for k, v in body["schedule"].items()}
        self.sandbox.set_faults(**body)
        return {"faults": "set"}

    def fail_next(self, query: dict, body: dict) -> dict:
        _check_keys(body, {"n", "kind", "apis", "path", "slow_seconds"})
        self.sandbox.fail_next(**body)
        return {"faults": "queued"}

    def clear_faults(self, query: dict, body: dict) -> dict:
        self.sandbox.clear_faults()
        return {"faults": "cleared"}

    def requests(self, query: dict, body: dict) -> dict:
        entries = _last(self.sandbox.requests.snapshot(), query)
        return {"requests": [entry.to_json() for entry in entries]}

    def reset(self, query: dict, body: dict) -> dict:
        self.sandbox.reset_stats()
        return {"reset": True}

    def expire_tokens(self, query: dict, body: dict) -> dict:
        self.sandbox.expire_tokens()
        return {"expired": True}

    def settings(self, query: dict, body: dict) -> dict:
        _check_keys(body, {"latency", "token_ttl"})
        if "latency" in body:
            self.sandbox.latency = float(body["latency"])
        if "token_ttl" in body:
            self.sandbox.token_ttl = float(body["token_ttl"])
        return {"latency": self.sandbox.latency, "token_ttl": self.sandbox.token_ttl}

    def drift(self, query: dict, body: dict) -> dict:
        extra, foreign = self.sandbox.extra_fields, self.sandbox.foreign_next_url
        return {
            "extra_fields": extra.to_json() if extra else None,
            "foreign_next_url": foreign.to_json() if foreign else None,
        }

    def set_extra_fields(self, query: dict, body: dict) -> dict:
        _check_keys(body, {"fields", "apis", "streams", "start", "changed", "change_at"})
        if "fields" not in body:
            body["fields"] = DEFAULT_EXTRA_FIELDS
        self.sandbox.set_extra_fields(**body)
        return self.drift(query, {})

    def clear_extra_fields(self, query: dict, body: dict) -> dict:
        self.sandbox.set_extra_fields(None)
        return self.drift(query, {})

    def set_foreign_next_url(self, query: dict, body: dict) -> dict:
        _check_keys(body, {"url", "path"})
        if "url" not in body:
            body["url"] = DEFAULT_FOREIGN_ORIGIN
        self.sandbox.set_foreign_next_url(**body)
        return self.drift(query, {})

    def clear_foreign_next_url(self, query: dict, body: dict) -> dict:
        self.sandbox.set_foreign_next_url(None)
        return self.drift(query, {})

    def foreign_requests(self, query: dict, body: dict) -> dict:
        entries = self.sandbox.foreign_requests()
        return {"count": len(entries), "requests": [e.to_json() for e in _last(entries, query)]}


def _last(entries: list, query: dict) -> list:
    """The last ``?limit=N`` entries (all without a limit)."""
    if "limit" not in query:
        return entries
    limit = int(query["limit"])
    return entries[-limit:] if limit else []


def _check_keys(body: dict, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
