"""The Singer output of fixed scenarios against a fixed sandbox, for `test_golden.py`.

Each scenario is a full sync, an incremental one from its state after the sandbox
changed, and syncs with other settings and envelopes; the output is kept message by
message, with only the times of a run taken out (``time_extracted``, the run's
``version``, a bookmark's signpost). ``python -m tests.golden`` writes ``tests/golden/<api>.jsonl.gz``.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import simplejson
from tap_commerce_sandbox import Sandbox

from tests.harness import run

GOLDEN = Path(__file__).resolve().parent / "golden"
APIS = ("storefront", "payments", "shop", "digital", "orders")
ANCHOR = "2026-01-01"
#: the sandbox's "now" for its changes: a day after the anchor, fixed
CLOCK = 1767312000.0
ANCHOR_DAY_AFTER = "2026-01-02"


def _scrub(message: dict[str, Any]) -> dict[str, Any]:
    message = dict(message)
    message.pop("time_extracted", None)
    if "version" in message:
        message["version"] = "<run>"
    if message.get("type") == "STATE":
        message["value"] = _scrub_signposts(message["value"])
    return message


def _scrub_signposts(value: Any) -> Any:
    """A bookmark's signpost is the run's start: a time of the run."""
    if isinstance(value, dict):
        return {
            k: "<run>" if k == "replication_key_signpost" else _scrub_signposts(v)
            for k, v in value.items()
        }
    return value


def _lines(label: str, messages: list[dict[str, Any]]) -> list[str]:
    return [
        simplejson.dumps({"scenario": label, **_scrub(m)}, use_decimal=True, sort_keys=True)
        for m in messages
    ]


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T[0-9:.]+Z)?")


def _requests(label: str, sandbox: Sandbox) -> list[str]:
    """The requests of a scenario, sorted (child lists are fetched concurrently), with
    the run's own "now" (the upper bound of a window) taken out."""
    seen = []
    for request in sandbox.requests:
        query = "&".join(sorted(f"{k}={v}" for k, v in request.query_items))
        query = _DATE.sub(
            lambda m: "<now>" if m.group(0)[:10] > ANCHOR_DAY_AFTER else m.group(0), query
        )
        seen.append(f"{request.method} {request.path}?{query} {request.status}")
    sandbox.reset_stats()
    return [json.dumps({"scenario": label, "requests": sorted(seen)})]


def scenarios(api: str) -> list[str]:
    """Every scenario's output for one API, one JSON line per message."""
    lines: list[str] = []
    with Sandbox(seed=3, scale=0.2, anchor=ANCHOR, clock=lambda: CLOCK) as sandbox:
        config = {**sandbox.config(api), "emit_activate_version_messages": True}
        sandbox.reset_stats()
        full = run(config)
        lines += _lines("full", full.messages) + _requests("full", sandbox)
        sandbox.mutate(api, added=5, updated=5, deleted=2)
        incremental = run(config, state=full.final_state)
        lines += _lines("incremental", incremental.messages) + _requests("incremental", sandbox)
        window = {
            **config,
            "start_date": "2025-03-01T00:00:00Z",
            "end_date": "2025-09-01T00:00:00Z",
        }
        lines += _lines("window", run(window).messages) + _requests("window", sandbox)
        ended = {**config, "end_date": "2025-06-01T00:00:00Z", "lookback_window": 86400}
        lines += _lines("end-date-lookback", run(ended, state=full.final_state).messages)
        lines += _requests("end-date-lookback", sandbox)
        if api == "shop":
            changed = {**config, "child_sync": "changed"}
            lines += _lines("child-sync-changed", run(changed, state=full.final_state).messages)
            lines += _requests("child-sync-changed", sandbox)
        sandbox.set_extra_fields()
        keep = (
            {**config, "unknown_fields": "keep", "page_size": 7}
            if api != "storefront"
            else {
                **config,
                "unknown_fields": "keep",
            }
        )
        lines += _lines("drift-keep", run(keep).messages) + _requests("drift-keep", sandbox)
        drop = {**config, "emit_activate_version_messages": False}
        lines += _lines("drift-drop", run(drop).messages) + _requests("drift-drop", sandbox)
    variants = {
        "payments": {"payments_total": False},
        "shop": {"shop_envelope": "bare"},
        "digital": {"digital_envelope": "object"},
    }
    if api in variants:
        with Sandbox(seed=3, scale=0.2, anchor=ANCHOR, clock=lambda: CLOCK, **variants[api]) as sb:
            lines += _lines("variant", run(sb.config(api)).messages) + _requests("variant", sb)
    return lines


def path(api: str) -> Path:
    return GOLDEN / f"{api}.jsonl.gz"


def read(api: str) -> list[str]:
    with gzip.open(path(api), "rt", encoding="utf-8") as file:
        return file.read().splitlines()


def write(api: str, lines: list[str]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    with gzip.GzipFile(path(api), "wb", mtime=0) as file:
        file.write(("\n".join(lines) + "\n").encode())


if __name__ == "__main__":
    for name in APIS:
        produced = scenarios(name)
        write(name, produced)
        print(name, len(produced), path(name).stat().st_size)  # noqa: T201 - a command
