"""Fault drills against the sandbox (contract §1.2): every API, every injected failure.

Each drill compares what the tap emitted with what the sandbox serves, record by record
(`tests/warehouse.py`): nothing lost, nothing repeated, every value as the API had it.
Backoff waits are tiny (`tests.harness.FAST`, the sandbox's `time_scale`), so no drill
sleeps for seconds.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import pytest
import simplejson
from tap_commerce_sandbox import Sandbox
from tap_commerce_sandbox.faults import KINDS

from tap_commerce.settings import API_IDS
from tests import warehouse
from tests.harness import FAST, Output, parse_lines, run

SCALE = 0.05
ANCHOR = "2026-06-01"
# A retry budget that a 20 % failure rate cannot exhaust, and waits of milliseconds.
DRILL = {"max_retries": 8, "request_timeout": 0.25}
# Small pages, so that every API makes a few dozen requests for the faults to hit.
PAGES = {"payments": 8, "shop": 5, "digital": 5, "orders": 8}
SIZES = {"storefront.orders": 400, "storefront.transactions": 400}


def drill_config(sandbox: Sandbox, api: str) -> dict:
    config = {**sandbox.config(api), **DRILL}
    if api in PAGES:
        config["page_size"] = PAGES[api]
    return config


def expected_records(sandbox: Sandbox, api: str) -> dict[str, list[dict]]:
    return {stream: sandbox.records(api, stream) for stream in sandbox.streams(api)[api]}


def assert_exactly_served(sandbox: Sandbox, api: str, records: dict[str, list[dict]]) -> None:
    problems: list[str] = []
    for stream, expected in expected_records(sandbox, api).items():
        problems += warehouse.compare_records(api, stream, expected, records.get(stream, []))
    assert not problems, "\n".join(problems[:10])


@pytest.fixture(scope="module")
def sandbox():
    # time_scale shrinks Retry-After values and rate-limit windows a hundredfold
    sb = Sandbox(seed=5, scale=SCALE, anchor=ANCHOR, time_scale=0.01, sizes=SIZES).start()
    yield sb
    sb.stop()


@pytest.fixture
def drill_sandbox(sandbox):
    sandbox.clear_faults()
    sandbox.reset_stats()
    yield sandbox
    sandbox.clear_faults()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", API_IDS)
def test_a_fifth_of_requests_failing_loses_and_repeats_nothing(drill_sandbox, api, kind):
    sb = drill_sandbox
    seed = zlib.crc32(f"{api}/{kind}".encode())
    # the 2nd request always fails; after it, one in five at random
    sb.set_faults(
        rate=0.2, kinds=[kind], seed=seed, apis=api, schedule={2: kind}, slow_seconds=0.75
    )
    out = run(drill_config(sb, api))
    assert_exactly_served(sb, api, out.records)
    stats = sb.stats()
    assert stats["requests"]["by_api"][api] >= 18, stats
    assert stats["faults"][kind] >= 2, stats


def test_every_fault_kind_at_once_on_every_api(drill_sandbox):
    sb = drill_sandbox
    sb.set_faults(rate=0.25, kinds=KINDS, seed=99, slow_seconds=0.75)
    for api in API_IDS:
        out = run(drill_config(sb, api))
        assert_exactly_served(sb, api, out.records)
    assert set(sb.stats()["faults"]) == set(KINDS)


def test_under_the_real_rate_limits_the_pacing_meets_no_429():
    """Every API limited as published (windows shrunk 50×, counts as published) and the
    tap paced as configured by default (rates scaled the same way): zero 429s. Storefront
    makes over 300 requests, so its 300-per-window limit is really exercised."""
    time_scale = 0.02
    sb = Sandbox(
        seed=6,
        scale=SCALE,
        anchor=ANCHOR,
        rate_limits=True,
        time_scale=time_scale,
        sizes={"storefront.inventory": 16_000},
    ).start()
    try:
        for api in API_IDS:
            config = sb.config(api)
            assert config["requests_per_second"] == pytest.approx(
                {"storefront": 4.5, "payments": 0, "shop": 2, "digital": 1, "orders": 0}[api]
                / time_scale
            )
            out = run(config)  # paced as the sandbox's config says
            assert_exactly_served(sb, api, out.records)
        stats = sb.stats()
        assert sb.count_429 == 0, stats
        assert stats["requests"]["by_api"]["storefront"] > 300
        assert stats["requests"]["by_api"]["shop"] > 40  # the leaky bucket's capacity
        assert stats["requests"]["by_api"]["digital"] > 5  # the token bucket's burst
    finally:
        sb.stop()


def test_a_long_orders_sync_outlives_many_short_tokens():
    """Tokens live 0.2 s; the sync takes several times that. The tap renews before
    expiry (and once on a 401 if one slips through), and loses nothing."""
    sb = Sandbox(seed=7, scale=SCALE, anchor=ANCHOR, token_ttl=0.2, latency=0.03).start()
    try:
        out = run({**sb.config("orders"), "page_size": 10})
        assert_exactly_served(sb, "orders", out.records)
        sent = sb.requests.snapshot()
        tokens = [r for r in sent if r.path.endswith("/oauth/token")]
        pages = [r for r in sent if r.path.endswith("/v1/orders")]
        assert len(pages) >= 15
        assert len(tokens) >= 3, f"{len(tokens)} token requests for {len(pages)} pages"
    finally:
        sb.stop()


def test_tokens_expired_by_the_server_mid_sync_are_renewed_once():
    sb = Sandbox(seed=7, scale=SCALE, anchor=ANCHOR).start()
    try:
        # the 3rd page request finds every token revoked
        original = sb.orders_api.tokens.valid
        calls = {"n": 0}

        def valid(token: str) -> bool:
            calls["n"] += 1
            if calls["n"] == 3:
                sb.expire_tokens()
            return original(token)

        sb.orders_api.tokens.valid = valid  # type: ignore[method-assign]
        out = run({**sb.config("orders"), "page_size": 20})
        assert_exactly_served(sb, "orders", out.records)
        sent = sb.requests.snapshot()
        assert [r.status for r in sent if r.path.endswith("/v1/orders")].count(401) == 1
        assert len([r for r in sent if r.path.endswith("/oauth/token")]) == 2
    finally:
        sb.stop()


# -- kill and resume -------------------------------------------------------------------


def _cli(config_path: Path, state_path: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "tap_commerce", "--config", str(config_path)]
    if state_path is not None:
        argv += ["--state", str(state_path)]
    return argv


def run_and_kill(argv: list[str], kill_after: int | None, log: Path) -> tuple[list[dict], int]:
    """Run the command, read its Singer lines; SIGKILL it after ``kill_after`` lines.
    Returns the messages read (what a target would have received) and the exit code."""
    messages: list[dict] = []
    with log.open("ab") as err, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            messages.append(simplejson.loads(line, use_decimal=True))
            if kill_after is not None and len(messages) >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
        proc.stdout.close()
        code = proc.wait(timeout=60)
    return messages, code


@pytest.mark.parametrize("api", API_IDS)
def test_killed_at_any_moment_and_resumed_from_the_last_state_loses_nothing(sandbox, api, tmp_path):
    """SIGKILL twice mid-sync (a third and two thirds into the output of a clean run),
    each time restarting from the last STATE the killed run emitted, as a scheduler
    would: the records received across the three runs include every record served,
    and the last run ends with the same bookmarks as an uninterrupted one."""
    sandbox.clear_faults()
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({**sandbox.config(api), **FAST}))
    clean = run(sandbox.config(api))
    total = len(clean.messages)
    received: dict[str, list[dict]] = defaultdict(list)
    state_path: Path | None = None
    codes = []
    for n, kill_after in enumerate([total // 3, 2 * total // 3, None]):
        messages, code = run_and_kill(
            _cli(config_path, state_path), kill_after, tmp_path / "tap.log"
        )
        codes.append(code)
        out = Output(messages)
        for stream, records in out.records.items():
            received[stream] += records
        if out.states:
            state_path = tmp_path / f"state-{n}.json"
            state_path.write_text(json.dumps(out.final_state))
    assert codes[:2] == [-signal.SIGKILL, -signal.SIGKILL] and codes[2] == 0, codes
    assert out.final_state["bookmarks"] == clean.final_state["bookmarks"]
    # At least once: repeats across runs are allowed, a missing key is not.
    for stream, expected in expected_records(sandbox, api).items():
        key = warehouse.primary_key(api, stream)
        got = {r[key] for r in received[stream]}
        missing = {r[key] for r in expected} - got
        assert not missing, f"{api}.{stream}: lost {sorted(missing, key=str)[:5]}"


# -- secrets ---------------------------------------------------------------------------


SECRET_SETTINGS = {
    "storefront": ["api_key"],
    "payments": ["api_key"],
    "shop": ["api_key", "api_secret"],
    "digital": ["password"],
    "orders": ["client_secret"],
}


def secrets_of(config: dict, api: str) -> list[str]:
    values = [str(config[name]) for name in SECRET_SETTINGS[api]]
    if api == "shop":
        pair = f"{config['api_key']}:{config['api_secret']}"
        values.append(base64.b64encode(pair.encode()).decode())
    if api == "digital":
        pair = f"{config['username']}:{config['password']}"
        values.append(base64.b64encode(pair.encode()).decode())
    if api == "orders":
        pair = f"{config['client_id']}:{config['client_secret']}"
        values.append(base64.b64encode(pair.encode()).decode())
        values.append("sandbox-orders-")  # every access token the sandbox issues
    return values


@pytest.mark.parametrize("api", API_IDS)
def test_no_secret_in_any_output_at_debug_level(drill_sandbox, api, tmp_path):
    """A sync with every kind of failure injected, a sync that gives up, and a sync with
    wrong credentials, all at DEBUG: no secret, encoded or not, in stdout or stderr."""
    sb = drill_sandbox
    config = {**drill_config(sb, api), **FAST}
    env = {**os.environ, "TAP_COMMERCE_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}
    outputs = []

    def cli(cfg: dict) -> subprocess.CompletedProcess:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(cfg))
        result = subprocess.run(
            [sys.executable, "-m", "tap_commerce", "--config", str(path)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        outputs.append(result.stdout + result.stderr)
        return result

    sb.set_faults(rate=0.3, kinds=[k for k in KINDS if k != "slow"], seed=3, apis=api)
    assert cli(config).returncode == 0
    sb.set_faults(rate=1.0, kinds=["500"], seed=3, apis=api)
    gave_up = cli({**config, "max_retries": 1})
    assert gave_up.returncode != 0
    sb.clear_faults()
    wrong = {name: f"wrong-{name}" for name in SECRET_SETTINGS[api]}
    refused = cli({**config, **wrong})
    assert refused.returncode != 0

    text = "\n".join(outputs)
    assert "DEBUG" in text  # the level really was DEBUG
    for secret in secrets_of(config, api) + [f"wrong-{n}" for n in SECRET_SETTINGS[api]]:
        assert secret not in text, f"{api}: a secret ({secret[:6]}…) was printed"
    if api == "payments":
        assert "api_key=***" in text  # URLs are logged, masked


# -- hostile or drifting answers -------------------------------------------------------


def test_a_next_page_url_on_another_origin_stops_the_sync_and_is_never_requested(tmp_path):
    """The foreign URL is the sandbox itself under another host name, so a request that
    followed it would arrive and be seen (with or without the token)."""
    sb = Sandbox(seed=8, scale=SCALE, anchor=ANCHOR, sizes=SIZES).start()
    try:
        sb.set_foreign_next_url("http://localhost:{port}", path="/commerce/orders$")
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps({**sb.config("storefront"), **FAST}))
        result = subprocess.run(
            [sys.executable, "-m", "tap_commerce", "--config", str(config_path)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode != 0
        errors = [line for line in result.stderr.splitlines() if "localhost" in line]
        assert errors and "stream 'orders'" in errors[-1], result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        assert sb.foreign_requests() == []
        assert sb.credentials["storefront"]["api_key"] not in result.stdout + result.stderr
        # the page that carried the foreign link was read: its records came out first
        orders = [
            m
            for m in parse_lines(result.stdout)
            if m.get("type") == "RECORD" and m["stream"] == "orders"
        ]
        assert len(orders) == 50  # storefront's page size
    finally:
        sb.stop()


def test_unknown_fields_on_every_api_are_dropped_with_one_warning_each(drill_sandbox, caplog):
    sb = drill_sandbox
    sb.set_extra_fields()
    try:
        for api in API_IDS:
            caplog.clear()
            out = run(drill_config(sb, api))
            assert_exactly_served(sb, api, out.records)  # the schema's columns only
            for stream in out.records:
                warned = [
                    r for r in caplog.records
                    if "x_extra_field" in r.getMessage() and f"'{stream}'" in r.getMessage()
                ]  # fmt: skip
                assert len(warned) == 1, (api, stream, [r.getMessage() for r in warned])
    finally:
        sb.set_extra_fields(None)
