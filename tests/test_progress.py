"""Progress lines (contract §1.2 "Progress"), against the paced sandbox.

The interval is shrunk to a tenth of a second (``TAP_COMMERCE_PROGRESS_INTERVAL``) and
the sandbox answers every request after a few milliseconds, so a stream of a few dozen
pages runs for several intervals; backoff waits are tiny (`tests.harness.FAST`, the
sandbox's ``time_scale``). Nothing here sleeps for seconds.
"""

from __future__ import annotations

import logging
import re

import pytest
from tap_commerce_sandbox import BASE_PATHS, TOKEN_PATH, Sandbox

from tap_commerce.progress import DEFAULT_INTERVAL, INTERVAL_ENV, Progress, interval
from tap_commerce.settings import API_IDS
from tap_commerce.tap import TapCommerce
from tests.harness import FAST, run, run_cli, run_until_failure

INTERVAL = 0.1
LATENCY = 0.02  # seconds per request: 30 pages take about 0.7 s, seven intervals
SLACK = 0.25  # what a loaded machine may add to a page (and so to a line's lateness)
ANCHOR = "2026-06-01"
SIZES = {
    "payments.order_payments": 300,
    "payments.products": 5,  # one page: shorter than an interval
    "orders.orders": 300,
    "shop.products": 30,
}

PROGRESS = re.compile(
    r"^stream '(?P<stream>[^']+)': (?P<records>[\d,]+) records?, (?P<requests>[\d,]+) requests?, "
    r"(?P<seconds>[\d.,]+) s(?:; (?P<share>\d+) % of (?P<total>[\d,]+)"
    r"(?:, about (?P<eta>[\d.,]+) s left)?)?$"
)
DONE = re.compile(
    r"^stream '(?P<stream>[^']+)': done, (?P<records>[\d,]+) records?, (?P<requests>[\d,]+) "
    r"requests?, (?P<seconds>[\d.,]+) s, (?P<limited>[\d,]+) 429s"
    r"(?:; (?P<read>[\d,]+) records read for (?P<parents>[\d,]+) products)?$"
)
STOPPED = re.compile(r"^stream '(?P<stream>[^']+)': stopped by an error after [\d,]+ records?, ")
CHILDREN = ("products_images", "products_reviews", "product_options", "products_variations")


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=11, scale=0.05, anchor=ANCHOR, time_scale=0.01, sizes=SIZES).start()
    yield sb
    sb.stop()


@pytest.fixture
def sb(sandbox, monkeypatch, caplog):
    monkeypatch.setenv(INTERVAL_ENV, str(INTERVAL))
    caplog.set_level(logging.INFO)
    sandbox.clear_faults()
    sandbox.reset_stats()
    sandbox.latency = LATENCY
    yield sandbox
    sandbox.clear_faults()
    sandbox.latency = 0


def number(text: str | None) -> int:
    return int((text or "0").replace(",", ""))


def matching(caplog, pattern: re.Pattern, stream: str | None = None) -> list:
    """(time, match) of every log line of the pattern, for one stream or all."""
    found = []
    for record in caplog.records:
        match = pattern.match(record.getMessage())
        if match and (stream is None or match["stream"] == stream):
            found.append((record.created, match))
    return found


def began(caplog, stream: str) -> float:
    opening = f"Beginning sync of '{stream}'"
    return next(r.created for r in caplog.records if r.getMessage().startswith(opening))


def requests_by_stream(sandbox: Sandbox, config: dict) -> dict[str, int]:
    """What the sandbox received, by the stream whose path it was (orders' token
    requests counted for its stream: it asks for them)."""
    tap = TapCommerce(config={**FAST, **config})
    prefix = BASE_PATHS[tap.api_id].rstrip("/")
    patterns = {
        name: re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\d+", re.escape(prefix + stream.path)) + "$")
        for name, stream in tap.streams.items()
    }
    counts = dict.fromkeys(patterns, 0)
    for request in sandbox.requests.snapshot():
        if request.path == TOKEN_PATH:
            counts["orders"] += 1
            continue
        (name,) = [n for n, p in patterns.items() if p.match(request.path)]
        counts[name] += 1
    return counts


def payments_config(sandbox: Sandbox) -> dict:
    return {**sandbox.config("payments"), "page_size": 10}


# -- when lines come -----------------------------------------------------------------------


def test_progress_lines_come_every_interval_while_a_stream_runs_and_not_for_a_short_one(sb, caplog):
    out = run(payments_config(sb))
    lines = matching(caplog, PROGRESS, "order_payments")
    ((done_at, _),) = matching(caplog, DONE, "order_payments")
    start = began(caplog, "order_payments")
    assert len(lines) >= 3, [m.string for _, m in lines]
    times = [at for at, _ in lines]
    assert times[0] - start >= INTERVAL  # not before the first interval has passed
    gaps = [b - a for a, b in zip([start, *times], [*times, done_at], strict=True)]
    assert max(gaps) <= INTERVAL + SLACK, gaps  # and then at least once an interval
    # each line says how far the stream has come, and it keeps coming
    records = [number(m["records"]) for _, m in lines]
    requests = [number(m["requests"]) for _, m in lines]
    assert records == sorted(records) and requests == sorted(requests)
    assert records[0] > 0 and records[-1] <= len(out.records["order_payments"])
    assert all(
        r == c // 10 for r, c in zip(requests, records, strict=True)
    )  # a page of 10 per request
    # the one-page stream ran for less than an interval: its summary only
    assert matching(caplog, PROGRESS, "products") == []
    assert len(matching(caplog, DONE, "products")) == 1


def test_a_page_slower_than_the_interval_gives_one_late_line_and_the_schedule_goes_on():
    clock = [100.0]
    lines: list[str] = []

    class Log:
        def info(self, msg, *args):
            lines.append(msg % args)

    progress = Progress("s", Log(), every=30, clock=lambda: clock[0])  # type: ignore[arg-type]
    for now in (110, 129.9, 131, 159, 160.4, 265, 270, 296):  # a page of 10 at each
        clock[0] = now
        progress.sent()
        progress.written(10)
    # due at 130, 160, 190 (the page that came at 265 gives one line), then 295
    assert [line.split(", ")[-1] for line in lines] == ["31 s", "60 s", "165 s", "196 s"]
    assert lines[0] == "stream 's': 30 records, 3 requests, 31 s"
    clock[0] = 300.04
    progress.met_429()
    progress.finish()
    progress.finish()  # once only
    assert lines[-1] == "stream 's': done, 80 records, 8 requests, 200.0 s, 1 429s"
    assert len(lines) == 5


def test_the_interval_is_30_s_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert interval() == DEFAULT_INTERVAL == 30
    monkeypatch.setenv(INTERVAL_ENV, "0.25")
    assert interval() == 0.25
    for wrong in ("0", "-1", "soon", "inf"):
        monkeypatch.setenv(INTERVAL_ENV, wrong)
        assert interval() == 30


# -- what they say -------------------------------------------------------------------------


@pytest.mark.parametrize("api", API_IDS)
def test_each_summary_counts_the_records_emitted_and_the_requests_made(sb, caplog, api):
    sb.latency = 0.002
    config = {**sb.config(api), **({"page_size": 10} if api in ("payments", "orders") else {})}
    out = run(config)
    sent = requests_by_stream(sb, config)
    summaries = {m["stream"]: m for _, m in matching(caplog, DONE)}
    assert set(summaries) == set(sent)  # one for every stream
    for stream, match in summaries.items():
        assert number(match["records"]) == len(out.records.get(stream, [])), stream
        assert number(match["requests"]) == sent[stream], stream
        assert number(match["limited"]) == 0
    assert len(matching(caplog, DONE)) == len(summaries)  # once each


@pytest.mark.parametrize("api", ["payments", "orders"])
def test_the_share_done_and_the_time_left_come_where_the_api_reports_a_total(sb, caplog, api):
    stream = {"payments": "order_payments", "orders": "orders"}[api]
    out = run({**sb.config(api), "page_size": 10})
    lines = [m for _, m in matching(caplog, PROGRESS, stream)]
    assert len(lines) >= 3
    total = sb.count(api, stream)
    assert len(out.records[stream]) == total  # a first run: every record read is emitted
    for match in lines:
        assert number(match["total"]) == total  # orders: though each keyset page counts anew
        assert number(match["share"]) == 100 * number(match["records"]) // total
        assert match["eta"] is not None
    etas = [float(m["eta"].replace(",", "")) for m in lines]
    assert etas[-1] < etas[0]
    # the estimate is the rate so far applied to what is left (both shown to a tenth)
    for match in lines:
        done, seconds = number(match["records"]), float(match["seconds"])
        factor = (total - done) / done
        assert float(match["eta"]) == pytest.approx(seconds * factor, abs=0.05 * factor + 0.06)


def test_no_share_where_the_payments_api_leaves_the_total_out(monkeypatch, caplog):
    monkeypatch.setenv(INTERVAL_ENV, str(INTERVAL))
    caplog.set_level(logging.INFO)
    sb = Sandbox(
        seed=11, scale=0.05, anchor=ANCHOR, sizes=SIZES, latency=LATENCY, payments_total=False
    ).start()
    try:
        run(payments_config(sb))
        lines = [m for _, m in matching(caplog, PROGRESS, "order_payments")]
        assert len(lines) >= 3
        assert all(m["share"] is None and "%" not in m.string for m in lines)
        assert len(matching(caplog, DONE, "order_payments")) == 1
    finally:
        sb.stop()


# -- child streams -------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 4])
def test_each_child_stream_ends_with_one_summary_after_its_parents(sb, caplog, workers):
    sb.latency = 0.01 if workers > 1 else 0.002
    config = {**sb.config("shop"), "max_concurrency": workers}
    out = run(config)
    sent = requests_by_stream(sb, config)
    done = matching(caplog, DONE)
    order = [m["stream"] for _, m in done]
    assert order.count("products") == 1
    parent_at = order.index("products")
    assert order[parent_at : parent_at + 5] == ["products", *CHILDREN]
    products = sb.count("shop", "products")
    for _, match in done[parent_at + 1 : parent_at + 5]:
        stream = match["stream"]
        assert order.count(stream) == 1
        assert number(match["records"]) == len(out.records[stream]) == number(match["read"])
        assert number(match["requests"]) == sent[stream] == products
        assert number(match["parents"]) == products
    if workers > 1:  # the parent logs progress while its children are fetched
        assert matching(caplog, PROGRESS, "products")
    # and nothing per product at INFO
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [message for message in info if "prd_id" in message]


# -- 429s and failures ---------------------------------------------------------------------


def test_429s_are_counted_for_the_stream_that_met_them(sb, caplog):
    sb.fail_next(2, "429", apis="payments", path="order_payments$")
    config = payments_config(sb)
    out = run(config)
    sent = requests_by_stream(sb, config)
    summaries = {m["stream"]: m for _, m in matching(caplog, DONE)}
    assert number(summaries["order_payments"]["limited"]) == 2
    assert number(summaries["order_payments"]["requests"]) == sent["order_payments"] == 30 + 2
    assert number(summaries["order_payments"]["records"]) == len(out.records["order_payments"])
    assert number(summaries["products"]["limited"]) == 0
    assert sb.count_429 == 2


def test_429s_met_by_fan_out_workers_count_for_their_child_stream(sb, caplog):
    sb.latency = 0.002
    sb.fail_next(3, "429", apis="shop", path="/reviews$")
    config = {**sb.config("shop"), "max_concurrency": 4}
    run(config)
    sent = requests_by_stream(sb, config)
    summaries = {m["stream"]: m for _, m in matching(caplog, DONE)}
    assert number(summaries["products_reviews"]["limited"]) == 3
    assert number(summaries["products_reviews"]["requests"]) == sent["products_reviews"]
    assert sent["products_reviews"] == sb.count("shop", "products") + 3
    others = [s for s in summaries if s != "products_reviews"]
    assert all(number(summaries[s]["limited"]) == 0 for s in others)


def test_a_stream_that_fails_logs_no_done_line(sb, caplog):
    sb.set_faults(rate=1.0, kinds=["500"], apis="payments", path="order_payments$")
    _, error = run_until_failure({**payments_config(sb), "max_retries": 1})
    assert error is not None
    assert matching(caplog, DONE, "order_payments") == []
    assert len(matching(caplog, STOPPED, "order_payments")) == 1


def test_a_failing_child_stops_its_parent_and_siblings_without_a_done_line(sb, caplog):
    sb.latency = 0.002
    sb.fail_next(100, "500", apis="shop", path="/variations$")
    _, error = run_until_failure({**sb.config("shop"), "max_retries": 1})
    assert error is not None and "products_variations" in str(error)
    for stream in ("products", *CHILDREN):
        assert matching(caplog, DONE, stream) == [], stream
        assert len(matching(caplog, STOPPED, stream)) == 1, stream


# -- where they go -------------------------------------------------------------------------


def test_progress_goes_to_stderr_at_info_and_stdout_is_unchanged(sb, tmp_path, monkeypatch):
    config = payments_config(sb)
    in_process = run(config)
    out = run_cli([], config=config, tmp_path=tmp_path, env={INTERVAL_ENV: str(INTERVAL / 2)})
    assert out.returncode == 0, out.stderr[-2000:]
    progress = [line for line in out.stderr.splitlines() if "stream 'order_payments': " in line]
    shown = [line.split(" | ")[-1] for line in progress]
    assert sum(bool(PROGRESS.match(s)) for s in shown) >= 3
    assert sum(bool(DONE.match(s)) for s in shown) == 1
    assert all("| INFO" in line for line in progress if PROGRESS.match(line.split(" | ")[-1]))
    assert config["api_key"] not in out.stderr

    def bare(messages: list[dict]) -> list[dict]:
        return [{k: v for k, v in m.items() if k != "time_extracted"} for m in messages]

    assert bare(out.messages) == bare(in_process.messages)
    assert all(line.startswith("{") for line in out.stdout.splitlines())
