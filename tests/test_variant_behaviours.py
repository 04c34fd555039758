"""The shared behaviours of contract §1.2 on the sandbox's variant services, read by the
user definitions of ``tests/definitions/`` alone (no Python): retries, pacing and
``Retry-After``, state and the server-side filter in each definition's format,
resumption, ACTIVATE_VERSION, OAuth2 (the grant, the client in Basic or in the form,
renewal, redaction), what ends a list, keys, exact values, and next links (relative,
root-relative, and refused on another origin).

`tests/test_variants.py` shows each service read completely and exactly on a clean full
run; here the same definitions meet faults, limits, state and bad answers. What a run
must emit comes from `tests.variants.expected` (the records as served, worked out
without the tap's code). Waits are tiny (`tests.harness.FAST`; the sandbox's
``time_scale``): no test sleeps for seconds.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import math
import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import yaml
from tap_commerce_sandbox import Sandbox
from tap_commerce_sandbox.apis.variants import SERVICES
from werkzeug import Request, Response

from tap_commerce.errors import ApiError, BadResponseError
from tap_commerce.tap import TapCommerce
from tests.harness import FAST, Output, run, run_cli, run_until_failure, write_json
from tests.test_deletes import activations, assert_activated_after_records
from tests.variants import DEFINITIONS, FILES, by_key, canonical, config, expected

ANCHOR = "2026-06-01"
SCALE = 0.05
UTC = timezone.utc
#: storefront-like inventory (and stock, from the same source) spans three pages of 50
SIZES = {"storefront.inventory": 120}
#: "now" for the sandbox's mutations: after every generated record, before any run starts
CHANGED_AT = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
SERVICE_NAMES = sorted(FILES)
OAUTH = ("orders-like", "orders-like-refresh-form", "orders-like-cc-basic", "orders-like-cc-form")
#: service -> the API whose data it serves (what `Sandbox.mutate` changes)
SOURCE = {
    "orders-like": "orders",
    "storefront-like": "storefront",
    "payments-like": "payments",
    "shop-like": "shop",
    "digital-like": "digital",
}
DEBUG = {"TAP_COMMERCE_LOGLEVEL": "DEBUG"}


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with Sandbox(scale=SCALE, anchor=ANCHOR, sizes=SIZES) as sb:
        yield sb


@pytest.fixture
def sb(sandbox: Sandbox) -> Any:
    sandbox.clear_faults()
    sandbox.reset_stats()
    yield sandbox
    sandbox.clear_faults()
    sandbox.token_ttl = 3600
    sandbox.latency = 0


def changing_sandbox(now: list[datetime] | None = None) -> Sandbox:
    """A sandbox of its own (a test that mutates its data), its mutations dated
    `CHANGED_AT`, or ``now[0]`` as the test moves it."""
    moment = now if now is not None else [CHANGED_AT]

    def clock() -> float:
        return moment[0].timestamp()

    return Sandbox(scale=SCALE, anchor=ANCHOR, clock=clock).start()


def discover(cfg: dict[str, Any]) -> dict[str, Any]:
    """The catalog ``--discover`` would write (schemas inferred from a sample), so that a
    run with it reads no sample and its requests can be counted exactly."""
    return TapCommerce(config={**FAST, **cfg}).catalog_dict


def path_of(service: str, resource: str) -> str:
    """The full path the sandbox serves ``resource`` of ``service`` at."""
    return f"/variants/{service}{SERVICES[service].endpoint(resource).path}"


def sent_to(sb: Sandbox, service: str, resource: str) -> list[Any]:
    """The logged requests of one resource's list, oldest first."""
    path = path_of(service, resource)
    return [r for r in sb.requests.snapshot() if r.path == path]


def token_requests(sb: Sandbox, service: str) -> list[Any]:
    return [r for r in sb.requests.snapshot() if r.path == f"/variants/{service}/oauth/token"]


def raw_definition(service: str) -> dict[str, Any]:
    """The definition file of ``service`` as a dict to edit (in the ``definition`` setting)."""
    return yaml.safe_load((DEFINITIONS / FILES[service]).read_text(encoding="utf-8"))


def resource_of(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in raw["resources"] if r["name"] == name)


def assert_exact(sb: Sandbox, service: str, out: Output) -> None:
    """Every list of the service emitted completely and exactly, as a clean full read."""
    resources = {e.name for e in SERVICES[service].endpoints}
    assert set(out.records) == resources
    for resource in resources:
        assert by_key(out.records[resource]) == by_key(expected(sb, service, resource)), resource


def assert_one_line_failure(result: Output, *needles: str) -> str:
    """A run that stopped with a non-zero exit and its error in one line (the last line,
    no traceback); returns that line."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "| ERROR" in last, result.stderr[-2000:]
    for needle in needles:
        assert needle in last, last
    return last


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- 1. retries ----------------------------------------------------------------------------

FAULTS = ("500", "502", "503", "429", "drop")


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_failed_variant_pages_are_retried_and_the_output_is_exact(sb, service):
    cfg = config(sb, service, page_size=5, max_retries=2)
    catalog = discover(cfg)
    sb.reset_stats()
    clean = run(cfg, catalog=catalog)
    assert_exact(sb, service, clean)
    pages = len(sb.requests.snapshot())
    # the last fault hits request 2 × len(FAULTS), counting the retries before it
    assert pages > len(FAULTS), "too few requests for every fault to hit a page"
    sb.reset_stats()
    # every other page request fails once, each time another way; the token request too
    not_token = r"^(?!.*/oauth/token$)"
    sb.set_faults(
        schedule={2 * n + 2: kind for n, kind in enumerate(FAULTS)}, apis="variants", path=not_token
    )
    token_faults = ("503", "drop") if service in OAUTH else ()
    for kind in token_faults:
        sb.fail_next(1, kind, apis="variants", path="/oauth/token$")
    retried = run(cfg, catalog=catalog)
    assert_exact(sb, service, retried)
    assert sb.stats()["faults"] == dict.fromkeys(FAULTS + token_faults, 1) | (
        {"503": 2, "drop": 2} if token_faults else {}
    )
    assert len(sb.requests.snapshot()) == pages + len(FAULTS) + len(token_faults)
    if token_faults:
        statuses = [r.status for r in token_requests(sb, service)]
        assert statuses == [503, None, 200]  # None: dropped without an answer


def test_a_4xx_stops_the_stream_with_one_line_naming_it_and_the_url(sb, tmp_path):
    """shop-like answers 400 to a page size over 100: not retried, not ignored."""
    cfg = config(sb, "shop-like")
    catalog = write_json(tmp_path / "catalog.json", discover(cfg))
    sb.reset_stats()
    result = run_cli(
        ["--catalog", str(catalog)], config={**cfg, "page_size": 150}, tmp_path=tmp_path
    )
    line = assert_one_line_failure(result, "answered 400 Bad Request", "count must be")
    sent = sb.requests.snapshot()
    assert len(sent) == 1 and sent[0].status == 400  # a 4xx is not retried
    stream = sent[0].path.rsplit("/", 1)[1]
    assert f"stream '{stream}': GET {sb.url}{sent[0].path}?" in line
    assert "count=150" in line


# -- 2. pacing -----------------------------------------------------------------------------

#: 4 requests per 50 ms at most (a window of 1 s, time shrunk 20-fold)
LIMIT, WINDOW, TIME_SCALE = 4, 1.0, 0.05
PACE = 0.5 * LIMIT / (WINDOW * TIME_SCALE)  # half the limit: 40 requests a second


def limited_sandbox() -> Sandbox:
    return Sandbox(
        scale=SCALE,
        anchor=ANCHOR,
        sizes=SIZES,
        rate_limits={"variants": {"limit": LIMIT, "window": WINDOW}},
        time_scale=TIME_SCALE,
    ).start()


@pytest.mark.parametrize(
    ("service", "page_size"),
    [("orders-like", 15), ("storefront-like", None), ("shop-like", 20), ("digital-like", 10)],
)
def test_requests_per_second_paces_the_variants_under_their_limit(sandbox, service, page_size):
    # the catalog from the unlimited sandbox (the same data): the limited one sees only
    # the paced run
    catalog = discover(config(sandbox, service))
    sb = limited_sandbox()
    try:
        cfg = config(sb, service, requests_per_second=PACE)
        if page_size:
            cfg["page_size"] = page_size
        out = run(cfg, catalog=catalog)
        assert_exact(sb, service, out)
        sent = sb.requests.snapshot()
        assert len(sent) > 2 * LIMIT, "too few requests to meet the limit"
        assert sb.count_429 == 0, sb.stats()
        times = sorted(r.time for r in sent)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.4 / PACE, gaps  # evenly spaced: no burst
    finally:
        sb.stop()


def test_unpaced_the_same_runs_meet_the_limit_and_are_still_exact(sandbox):
    """The control of the test above: the limit is real, and its 429s are retried."""
    catalog = discover(config(sandbox, "shop-like"))
    sb = limited_sandbox()
    try:
        cfg = config(sb, "shop-like", page_size=20, max_retries=8)
        out = run(cfg, catalog=catalog)  # requests_per_second 0: unpaced
        assert_exact(sb, "shop-like", out)
        assert sb.stats()["rate_limited"].get("variants", 0) > 0, sb.stats()
    finally:
        sb.stop()


@pytest.mark.parametrize("kind", ["429", "429-no-retry-after"])
def test_a_429_with_retry_after_is_waited_out(kind):
    """A 429's ``Retry-After`` (0.2 s here) is waited before the retry; without one the
    wait is the backoff (about a millisecond with these settings)."""
    sb = Sandbox(scale=SCALE, anchor=ANCHOR, time_scale=0.2).start()
    try:
        cfg = config(sb, "payments-like", max_retry_wait=5)
        catalog = discover(cfg)
        sb.reset_stats()
        sb.fail_next(1, kind, apis="variants", path="/v2/payments$")
        out = run(cfg, catalog=catalog)
        assert_exact(sb, "payments-like", out)
        sent = sent_to(sb, "payments-like", "payments")
        assert sent[0].status == 429 and sent[1].status == 200
        assert sent[0].query_items == sent[1].query_items  # the same page, again
        waited = sent[1].time - sent[0].time
        if kind == "429":
            assert waited >= 0.2 * 0.95, waited
        else:
            assert waited < 0.15, waited
    finally:
        sb.stop()


# -- 3. state and the server-side filter ---------------------------------------------------


def ms_z(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


#: service -> [(resource, replication key, filter parameter, the value for a lower bound)]
FILTERS: dict[str, list[tuple[str, str, str, Any]]] = {
    "orders-like": [
        ("orders", "lastModifiedDate", "filter", lambda m: f"lastmodifieddate:[{ms_z(m)}..]")
    ],
    "storefront-like": [
        ("orders", "modifiedOn", "modifiedAfter", lambda m: canonical(m.isoformat()))
    ],
    "payments-like": [
        ("payments", "updated_at", "updated_since", lambda m: m.date().isoformat()),
        ("products", "updated_at", "updated_at", lambda m: f"gt:{canonical(m.isoformat())}"),
    ],
    "shop-like": [
        ("products", "updatedAtUtc", "from", lambda m: str(int(m.timestamp()))),
        ("orders", "createdAtUtc", "from", lambda m: str(int(m.timestamp()))),
    ],
    "digital-like": [("orders", "updated_at", "from", lambda m: m.date().isoformat())],
}
#: the field that tells records apart, as served and in the source (default: id)
SERVED_KEY = {("orders-like", "orders"): "orderId", ("payments-like", "products"): "product_id"}
SOURCE_KEY = {"orders": "order_id"}


def source_ids(sb: Sandbox, service: str, resource: str) -> dict[Any, Any]:
    """{served key: the source's id} of a list: the variant serves the source's records
    in the source's order, one for one."""
    api, stream = SERVICES[service].endpoint(resource).source
    served = sb.variant_records(service, resource)
    source = sb.records(api, stream)
    assert len(served) == len(source)
    key = SERVED_KEY.get((service, resource), "id")
    return {r[key]: s[SOURCE_KEY.get(api, "id")] for r, s in zip(served, source, strict=True)}


@pytest.mark.parametrize("service", sorted(FILTERS))
def test_a_second_run_from_the_state_reads_only_what_changed(service):
    sb = changing_sandbox()
    try:
        cfg = config(sb, service)
        catalog = discover(cfg)
        first = run(cfg, catalog=catalog)
        changes = sb.mutate(SOURCE[service], added=3, updated=4)["streams"]
        for lookback in (0, 7200):
            sb.reset_stats()
            settings = {"lookback_window": lookback} if lookback else {}
            second = run({**cfg, **settings}, state=first.final_state, catalog=catalog)
            for resource, key, param, written in FILTERS[service]:
                bookmark = instant(
                    first.final_state["bookmarks"][resource]["replication_key_value"]
                )
                lower = bookmark - timedelta(seconds=lookback)
                sent = sent_to(sb, service, resource)
                assert sent, resource
                assert {r.query.get(param) for r in sent} == {written(lower)}, resource
                everything = expected(sb, service, resource)
                want = [r for r in everything if instant(r[key]) >= lower]
                assert 0 < len(want) < len(everything), resource
                assert by_key(second.records[resource]) == by_key(want), resource
                if lookback:
                    continue
                # only what changed since the bookmark, and the bookmark's own records
                change = changes[".".join(SERVICES[service].endpoint(resource).source)]
                of = source_ids(sb, service, resource)
                served_key = SERVED_KEY.get((service, resource), "id")
                ids = {of[r[served_key]] for r in second.records[resource]}
                boundary = {of[r[served_key]] for r in everything if instant(r[key]) == bookmark}
                added, changed = set(change["added"]), {*change["added"], *change["updated"]}
                assert added <= ids <= changed | boundary, resource
                assert len(boundary) <= 2, resource
                assert second.final_state["bookmarks"][resource]["replication_key_value"] == (
                    canonical(CHANGED_AT.isoformat())
                )
            # the full-table lists are read whole again
            for resource, bookmark in first.final_state["bookmarks"].items():
                if "replication_key" not in bookmark:
                    assert by_key(second.records[resource]) == by_key(
                        expected(sb, service, resource)
                    ), resource
    finally:
        sb.stop()


def test_an_end_date_is_sent_as_to_in_unix_seconds():
    sb = changing_sandbox()
    try:
        cfg = config(sb, "shop-like")
        catalog = discover(cfg)
        first = run(cfg, catalog=catalog)
        sb.mutate("shop", added=3, updated=4)
        end = CHANGED_AT - timedelta(hours=1)  # before the changes: none of them is read
        sb.reset_stats()
        ended = {**cfg, "end_date": end.isoformat()}
        second = run(ended, state=first.final_state, catalog=catalog)
        bookmark = instant(first.final_state["bookmarks"]["products"]["replication_key_value"])
        sent = sent_to(sb, "shop-like", "products")
        assert {(r.query["from"], r.query["to"]) for r in sent} == {
            (str(int(bookmark.timestamp())), str(int(end.timestamp())))
        }
        products = expected(sb, "shop-like", "products")
        want = [r for r in products if bookmark <= instant(r["updatedAtUtc"]) <= end]
        assert by_key(second.records.get("products", [])) == by_key(want)
        assert len(want) < len(products)
        # orders have no end_param: from alone; the window still ends at end_date
        assert {tuple(sorted(r.query)) for r in sent_to(sb, "shop-like", "orders")} == {
            ("count", "from", "offset")
        }
        assert all(instant(r["createdAtUtc"]) <= end for r in second.records.get("orders", []))
    finally:
        sb.stop()


@pytest.mark.parametrize(
    ("service", "resource", "key", "param", "auth"),
    [
        ("payments-like", "payments", "updated_at", "updated_since", "header"),
        ("digital-like", "orders", "updated_at", "from", "basic"),
    ],
)
def test_a_date_only_filter_lets_older_records_through_and_the_window_drops_them(  # noqa: PLR0917 - the parameters of one case
    sb, service, resource, key, param, auth
):
    everything = expected(sb, service, resource)
    # a bookmark one second after a record, on the same UTC day: the API's day filter
    # serves that record, the window must not emit it
    older = next(
        r
        for r in sorted(everything, key=lambda r: instant(r[key]), reverse=True)[3:]
        if (instant(r[key]) + timedelta(seconds=1)).date() == instant(r[key]).date()
    )
    bookmark = instant(older[key]) + timedelta(seconds=1)
    state = {
        "bookmarks": {
            resource: {"replication_key": key, "replication_key_value": bookmark.isoformat()}
        }
    }
    cfg = config(sb, service)
    catalog = discover(cfg)
    sb.reset_stats()
    out = run(cfg, state=state, catalog=catalog)
    (first_page, *_) = sent_to(sb, service, resource)
    assert first_page.query[param] == bookmark.date().isoformat()
    # what the API serves for that request
    creds = sb.variant_config(service)
    if auth == "header":
        answered = requests.get(
            sb.url + first_page.path,
            params=first_page.query_items,
            headers={"X-Payments-Auth-Token": creds["api_key"]},
            timeout=10,
        )
    else:
        answered = requests.get(
            sb.url + first_page.path,
            params=first_page.query_items,
            auth=(creds["username"], creds["password"]),
            timeout=10,
        )
    assert answered.status_code == 200
    body = answered.json()
    served = body[resource] if resource in body else body["data"]["items"]
    older_id = older["id"]
    assert older_id in {r["id"] for r in served}  # let through by the day filter
    emitted = out.records[resource]
    assert older_id not in {r["id"] for r in emitted}  # dropped by the window
    assert by_key(emitted) == by_key([r for r in everything if instant(r[key]) >= bookmark])


# -- 4. resumption -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "after_changes"),
    [
        ("orders-like", True),
        ("shop-like", True),
        ("digital-like", True),
        ("storefront-like", False),
    ],
)
def test_a_run_stopped_mid_list_resumes_from_its_last_state_and_loses_nothing(
    service, after_changes
):
    """As `tests/test_resume.py`: the list of orders fails for good from its second page
    on; the next run starts from the last STATE the failed run emitted. The changes: new
    orders, then older orders changed an hour later, so the list's first page (in
    creation order) holds later cursor values than the pages after it."""
    now = [CHANGED_AT]
    sb = changing_sandbox(now)
    try:
        cfg = config(sb, service, max_retries=1)
        catalog = discover(cfg)
        if service != "storefront-like":  # json_link: the API's page size (50) applies
            cfg["page_size"] = 2
        state = None
        if after_changes:
            state = run(cfg, catalog=catalog).final_state
            sb.mutate(SOURCE[service], added=3, updated=0)
            now[0] += timedelta(hours=1)
            sb.mutate(SOURCE[service], added=0, updated=4)
        clean = run(cfg, state=state, catalog=catalog)
        path = path_of(service, "orders")
        sb.set_faults(
            schedule=dict.fromkeys(range(2, 50), "500"), apis="variants", path=re.escape(path) + "$"
        )
        cut, error = run_until_failure(cfg, state=state, catalog=catalog)
        sb.clear_faults()
        assert isinstance(error, ApiError)
        assert str(error).startswith("stream 'orders': GET ") and "gave up after 2" in str(error)
        cut_orders = cut.records.get("orders", [])
        assert 0 < len(cut_orders) < len(clean.records["orders"])  # stopped mid-list
        last_state = cut.final_state
        # the interrupted stream's bookmark did not move
        before = (state or {}).get("bookmarks", {}).get("orders", {})
        assert last_state["bookmarks"].get("orders", {}).get("replication_key_value") == (
            before.get("replication_key_value")
        )
        resumed = run(cfg, state=last_state, catalog=catalog)
        assert resumed.final_state["bookmarks"] == clean.final_state["bookmarks"]
        for stream, records in clean.records.items():
            got = {
                json.dumps(r, sort_keys=True, default=str)
                for r in cut.records.get(stream, []) + resumed.records.get(stream, [])
            }
            want = {json.dumps(r, sort_keys=True, default=str) for r in records}
            assert want <= got, stream
        if not after_changes:
            assert by_key(resumed.records["orders"]) == by_key(expected(sb, service, "orders"))
    finally:
        sb.stop()


# -- 5. ACTIVATE_VERSION -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "full_table", "incremental"),
    [
        ("storefront-like", ("inventory", "stock", "profiles"), ("orders",)),
        ("shop-like", ("countries", "events"), ("products", "orders")),
    ],
)
def test_activate_version_after_every_complete_read_of_a_variant(
    sb, service, full_table, incremental
):
    cfg = config(sb, service, emit_activate_version_messages=True)
    first = run(cfg)
    for stream in full_table + incremental:  # a first run reads everything completely
        assert_activated_after_records(first, stream)
    assert len({v for vs in activations(first).values() for v in vs}) == 1
    again = run(cfg, state=first.final_state)  # bookmarked: the incremental reads are partial
    for stream in full_table:
        assert_activated_after_records(again, stream)
    for stream in incremental:
        assert stream not in activations(again), stream
    assert not activations(run({**cfg, "emit_activate_version_messages": False}))


# -- 6. OAuth2 -----------------------------------------------------------------------------


@pytest.fixture
def exchanges(sb, monkeypatch):
    """The token requests the variants' API answers (request, response), as it saw them."""
    seen: list[tuple[Any, Any]] = []
    handle = sb.variants.handle

    def spy(request: Any) -> Any:
        response = handle(request)
        if request.path.endswith("/oauth/token"):
            seen.append((request, response))
        return response

    monkeypatch.setattr(sb.variants, "handle", spy)
    return seen


#: service -> (grant_type, the client in Basic rather than in the form)
GRANTS = {
    "orders-like": ("refresh_token", True),
    "orders-like-refresh-form": ("refresh_token", False),
    "orders-like-cc-basic": ("client_credentials", True),
    "orders-like-cc-form": ("client_credentials", False),
}


@pytest.mark.parametrize("service", OAUTH)
def test_the_token_request_uses_the_services_grant_and_client_placement(sb, exchanges, service):
    cfg = config(sb, service)
    out = run(cfg)
    assert_exact(sb, service, out)
    grant, in_basic = GRANTS[service]
    assert exchanges, "no token request"
    for request, response in exchanges:
        assert response.status == 200
        assert request.method == "POST"
        assert request.headers.get("Content-Type") == "application/x-www-form-urlencoded"
        form = dict(parse_qsl(request.body.decode()))
        names = {"grant_type"}
        if grant == "refresh_token":
            names.add("refresh_token")
            same_token = form.get("refresh_token") == cfg["refresh_token"]
            assert same_token, "the form does not carry the refresh_token setting"
        if not in_basic:
            names |= {"client_id", "client_secret"}
            same_client = (form.get("client_id"), form.get("client_secret")) == (
                cfg["client_id"],
                cfg["client_secret"],
            )
            assert same_client, "the form does not carry the client's settings"
        assert set(form) == names
        assert form["grant_type"] == grant
        header = request.headers.get("Authorization")
        if in_basic:
            assert header is not None and header.startswith("Basic ")
            pair = base64.b64decode(header.removeprefix("Basic ")).decode()
            same_client = pair == f"{cfg['client_id']}:{cfg['client_secret']}"
            assert same_client, "the Basic header does not carry the client's settings"
        else:
            assert header is None
    pages = [r for r in sb.requests.snapshot() if r.path.endswith("/v1/order")]
    assert pages and {r.headers["Authorization"].split()[0] for r in pages} == {"Bearer"}


@pytest.mark.parametrize("service", OAUTH)
def test_tokens_are_renewed_before_they_expire(sb, service):
    ttl = 0.1
    catalog = discover(config(sb, service))
    sb.token_ttl = ttl
    sb.latency = 0.005
    try:
        sb.reset_stats()
        out = run(config(sb, service, page_size=2), catalog=catalog)
    finally:
        sb.latency = 0
    assert_exact(sb, service, out)
    pages = sent_to(sb, service, "orders")
    tokens = token_requests(sb, service)
    assert pages[-1].time - pages[0].time >= 3 * ttl, "too short a run to outlive tokens"
    assert {r.status for r in pages} <= {200, 401}
    assert all(r.status == 200 for r in tokens)
    # a 401 can slip through on a loaded machine (and is renewed once, see below); the
    # other renewals were the tap's own, before expiry
    refused = [r for r in pages if r.status == 401]
    assert len(tokens) - 1 - len(refused) >= 2, (len(tokens), len(refused))


def revoke_tokens_at(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, check: int) -> None:
    """Expire every token issued so far when the API checks a token for the ``check``-th
    time (the ``check``-th page of the run)."""
    valid = sb.variants.tokens.valid
    calls = itertools.count(1)

    def revoking(token: str) -> bool:
        if next(calls) == check:
            sb.expire_tokens()
        return valid(token)

    monkeypatch.setattr(sb.variants.tokens, "valid", revoking)


@pytest.mark.parametrize("service", OAUTH)
def test_a_token_revoked_mid_run_is_renewed_once_on_the_401(sb, monkeypatch, service):
    cfg = config(sb, service, page_size=20)
    catalog = discover(config(sb, service))
    sb.reset_stats()
    revoke_tokens_at(sb, monkeypatch, 3)
    out = run(cfg, catalog=catalog)
    assert_exact(sb, service, out)
    statuses = [r.status for r in sent_to(sb, service, "orders")]
    assert statuses.count(401) == 1 and statuses[2] == 401 and statuses[3] == 200
    assert len(token_requests(sb, service)) == 2


@pytest.mark.parametrize("service", ["orders-like", "orders-like-refresh-form"])
def test_a_wrong_refresh_token_stops_with_one_line(sb, service, tmp_path):
    wrong = "wrong-fake-refresh-token"
    result = run_cli([], config=config(sb, service, refresh_token=wrong), tmp_path=tmp_path)
    line = assert_one_line_failure(result, "token endpoint refused", "invalid_grant")
    assert wrong not in result.stdout + result.stderr
    assert not result.records
    assert [r.status for r in token_requests(sb, service)] == [400]  # not retried
    assert "bad refresh_token" in line  # the API's own words


def test_a_refused_refresh_token_names_the_refresh_token_setting(sb):
    error = None
    try:
        run(config(sb, "orders-like", refresh_token="wrong-fake-refresh-token"))
    except Exception as exc:  # noqa: BLE001 - the message is the subject
        error = exc
    assert error is not None
    assert "'refresh_token'" in str(error)


def secrets_of(sb: Sandbox, service: str, tokens: list[str]) -> list[str]:
    """Every secret of a service, and the encodings a request carries them in."""
    creds = sb.variants.services[service].credentials()
    values = [v for k, v in creds.items() if k in {"api_key", "password", "client_secret"}]
    values += [creds[k] for k in ("refresh_token",) if k in creds]
    for user, password in (("username", "password"), ("client_id", "client_secret")):
        if user in creds:
            values.append(base64.b64encode(f"{creds[user]}:{creds[password]}".encode()).decode())
    return values + tokens


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_secret_reaches_the_output_at_debug(sb, exchanges, monkeypatch, service, tmp_path):
    """A 500, a dropped connection, a 429 and (OAuth) a revoked token, all logged at
    DEBUG: no secret, nor its Basic encoding, nor an access token, in stdout or stderr."""
    cfg = config(sb, service, page_size=20)
    sb.set_faults(schedule={2: "500", 3: "drop", 5: "429"}, apis="variants")
    if service in OAUTH:
        revoke_tokens_at(sb, monkeypatch, 2)
    result = run_cli([], config=cfg, tmp_path=tmp_path, env=DEBUG)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| DEBUG" in result.stderr  # the level really was DEBUG
    assert_exact(sb, service, result)
    tokens = [json.loads(response.body)["access_token"] for _, response in exchanges]
    if service in OAUTH:
        assert len(tokens) >= 2
        assert 401 in {r.status for r in sent_to(sb, service, "orders")}
    text = result.stdout + result.stderr
    if service == "payments-like-query":
        assert "&key=***" in result.stderr  # the URLs are logged, the key masked
    for secret in secrets_of(sb, service, tokens):
        leaked = secret in text
        assert not leaked, f"{service}: a secret ({secret[:8]}…) was printed"


# -- 7. what ends a list -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "resource", "page_size", "size", "start", "total", "extra"),
    [
        # page_number, the definition reading no total: the 404 past the last page
        ("payments-like", "payments", None, "count", 1, None, 404),
        # offset without a total: an empty page
        ("shop-like", "events", None, "count", 0, None, "empty"),
        ("shop-like", "events", 40, "count", 0, None, "empty"),
        ("shop-like", "countries", 15, "count", 0, None, "empty"),
        # offset with a total of records: the total, after a short last page
        ("orders-like", "orders", 40, "limit", 0, "total", None),
        ("shop-like", "orders", 30, "count", 0, "meta.total", None),
        ("shop-like", "products", 3, "count", 0, "meta.total", None),
        # page_number with a total of pages (dlt's meaning of its total_path): the total
        ("payments-like", "products", 7, "size", 0, "pagination.total_pages", None),
        ("digital-like", "orders", 50, "per_page", 1, "data.total_pages", None),
    ],
)
def test_a_list_ends_where_its_paginator_says_and_nowhere_else(  # noqa: PLR0917 - the parameters of one case
    sb, caplog, service, resource, page_size, size, start, total, extra
):
    cfg = config(sb, service)
    catalog = discover(cfg)
    if page_size:
        cfg["page_size"] = page_size
    sb.reset_stats()
    caplog.set_level(logging.INFO)
    out = run(cfg, catalog=catalog)
    records = expected(sb, service, resource)
    assert by_key(out.records[resource]) == by_key(records)
    sent = sent_to(sb, service, resource)
    limit = int(sent[0].query[size])
    assert limit == (page_size or limit)
    pages = math.ceil(len(records) / limit)
    assert len(records) % limit, "the last page must be short"
    assert len(sent) == pages + (1 if extra else 0)
    paging = SERVICES[service].endpoint(resource).paging
    if paging.kind == "offset":
        firsts = [int(r.query["offset"]) for r in sent]
    else:
        firsts = [(int(r.query["page"]) - start) * limit for r in sent]
    assert firsts == [limit * n for n in range(len(sent))]  # every page once, in turn
    statuses = [r.status for r in sent]
    assert statuses == [200] * pages + ([404] if extra == 404 else [200] if extra else [])
    if extra == 404:
        (warning,) = [
            r.getMessage() for r in caplog.records if "ignored (response_actions)" in r.getMessage()
        ]
        assert warning.startswith(f"stream '{resource}': GET {sb.url}{sent[-1].path}?")
        assert f"page={start + pages}" in warning
        assert warning.endswith(
            "answered 404 Not Found; ignored (response_actions), the list ends here"
        )
    if extra == "empty":
        assert firsts[-1] >= len(records)  # the page past the last record: empty
    # the case's premise: the total the definition reads, if any
    raw = raw_definition(service)
    paginator = resource_of(raw, resource).get("endpoint", {}).get("paginator")
    assert (paginator or raw["client"]["paginator"]).get("total_path") == total


def test_a_short_page_in_the_middle_of_a_list_with_a_total_does_not_end_it(server, base_url):
    """An API that answers fewer records than asked (a page of 2 for a limit of 3) while
    its total says more are to come: the tap asks for the next offset all the same."""
    rows = [
        {
            "id": n,
            "updatedAtUtc": format_datetime(datetime(2024, 6, n, tzinfo=UTC)),
            "name": f"p{n}",
        }
        for n in range(1, 8)
    ]
    pages = {0: rows[0:2], 3: rows[3:6], 6: rows[6:7]}  # row 3 is never served

    def handler(request: Request) -> Response:
        offset = int(request.args["offset"])
        body = {"data": pages.get(offset, []), "meta": {"total": len(rows)}}
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request("/v2/products").respond_with_handler(handler)
    raw = raw_definition("shop-like")
    raw["resources"] = [resource_of(raw, "products")]
    out = run(
        {"definition": raw, "base_url": base_url + "/", "api_key": "fake-key", "page_size": 3}
    )
    offsets = [int(request.args["offset"]) for request, _ in server.log]
    assert offsets == [0, 3, 6] * 2  # the sample read, then the sync: three pages, no fourth
    assert [r["id"] for r in out.records["products"]] == [1, 2, 4, 5, 6, 7]


@pytest.mark.parametrize("case", ["no response_actions", "a wrong path"])
def test_a_404_without_the_response_action_stops_the_stream(sb, case):
    raw = raw_definition("payments-like")
    payments = resource_of(raw, "payments")
    if case == "no response_actions":
        del payments["endpoint"]["response_actions"]
        url = f"{sb.url}{path_of('payments-like', 'payments')}?"
    else:
        products = resource_of(raw, "products")
        products["endpoint"]["path"] = "v2/product"  # a typo: every page is 404
        raw["resources"] = [products]
        url = f"{sb.url}/variants/payments-like/v2/product?"
    cfg = {**config(sb, "payments-like"), "definition": raw}
    with pytest.raises(ApiError) as caught:
        run(cfg)  # while the schema is inferred: the sample reads the whole list
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(("stream 'payments': GET " + url, "stream 'products': GET " + url))
    assert "answered 404 Not Found" in message
    assert [r.status for r in sb.requests.snapshot()][-1] == 404
    assert [r.status for r in sb.requests.snapshot()].count(404) == 1  # not retried


# -- 8. keys -------------------------------------------------------------------------------


def test_a_key_some_records_lack_stops_the_stream_naming_the_key(sb):
    inventory = sb.variant_records("storefront-like", "inventory")
    lacking = [n for n, r in enumerate(inventory) if r.get("sku") is None]
    assert lacking, "the list must have a record without sku"
    raw = raw_definition("storefront-like")
    resource_of(raw, "inventory")["primary_key"] = "sku"
    cfg = config(sb, "storefront-like", definition=raw)
    with pytest.raises(BadResponseError) as caught:
        run(cfg)  # while the schema is inferred: the sample's page holds the record
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"stream 'inventory': GET {sb.url}{path_of('storefront-like', 'inventory')}"
    )
    assert " returned a record without its key 'sku': {" in message
    assert "'sku': None" in message


def test_a_nested_key_some_records_lack_is_named_as_written(sb, tmp_path):
    stock = sb.variant_records("storefront-like", "stock")
    assert any(r["variant"]["sku"] is None for r in stock)
    raw = raw_definition("storefront-like")
    resource_of(raw, "stock")["primary_key"] = "variant.sku"
    result = run_cli([], config=config(sb, "storefront-like", definition=raw), tmp_path=tmp_path)
    line = assert_one_line_failure(result, "stream 'stock': GET ")
    assert " returned a record without its key 'variant.sku': {" in line
    assert "variant__sku" not in line


def test_composite_nested_and_no_keys_become_the_streams_key_properties(sb):
    storefront = run(config(sb, "storefront-like"))
    (stock,) = storefront.schemas("stock")
    assert stock["key_properties"] == ["variant__id"]
    assert stock["schema"]["properties"]["variant__id"]["type"] in ("string", ["string"])
    assert all(r["variant__id"] == r["variant"]["id"] for r in storefront.records["stock"])
    (inventory,) = storefront.schemas("inventory")
    assert inventory["key_properties"] == ["variantId"]
    payments = run(config(sb, "payments-like"))
    (products,) = payments.schemas("products")
    assert products["key_properties"] == ["product_id", "name"]
    shop = run(config(sb, "shop-like"))
    (events,) = shop.schemas("events")
    assert events["key_properties"] == []
    (countries,) = shop.schemas("countries")
    assert countries["key_properties"] == ["iso"]


@pytest.mark.parametrize("seed", [1, 2])
def test_storefront_like_inventory_is_keyed_by_a_unique_variant_id(seed):
    sb = Sandbox(seed=seed, scale=SCALE, anchor=ANCHOR)
    for resource, key in (("inventory", ("variantId",)), ("stock", ("variant", "id"))):
        keys = []
        for record in sb.variants.records("storefront-like", resource):
            value: Any = record
            for name in key:
                value = value[name]
            keys.append(value)
        assert None not in keys, resource
        assert len(set(keys)) == len(keys), resource


# -- 9. values exactly as served -----------------------------------------------------------


def test_flags_padded_ids_money_and_unset_date_times_leave_as_they_must(sb):
    payments = run(config(sb, "payments-like"))
    emitted = payments.records["payments"]
    served = {r["id"]: r for r in sb.variant_records("payments-like", "payments")}
    assert {type(r["is_approved"]) for r in emitted} == {int}
    assert {r["is_approved"] for r in emitted} == {0, 1}
    assert all(r["is_approved"] == served[r["id"]]["is_approved"] for r in emitted)
    blank = {i for i, r in served.items() if r["paid_at"] == ""}
    assert blank, "no payment with an unset paid_at"
    assert all(r["paid_at"] is None for r in emitted if r["id"] in blank)
    assert all(isinstance(r["paid_at"], str) for r in emitted if r["id"] not in blank)
    (schema,) = payments.schemas("payments")
    props = schema["schema"]["properties"]
    assert "integer" in props["is_approved"]["type"]
    assert "boolean" not in props["is_approved"]["type"]
    assert props["paid_at"]["format"] == "date-time" and "null" in props["paid_at"]["type"]

    digital = run(config(sb, "digital-like"))
    products = {r["name"]: r for r in digital.records["products"]}
    first = sb.variant_records("digital-like", "products")[0]
    assert (first["id"], first["price"]) == ("0000000100", "£39.98")  # as served
    assert products[first["name"]]["id"] == "0000000100"
    assert products[first["name"]]["price"] == "£39.98"
    assert all(isinstance(r["id"], str) and len(r["id"]) == 10 for r in products.values())
    orders = digital.records["orders"]
    assert all(r["price_at_checkout"].startswith("£") for r in orders)
    for stream, money in (("products", "price"), ("orders", "price_at_checkout")):
        (schema,) = digital.schemas(stream)
        props = schema["schema"]["properties"]
        assert props["id"]["type"] in ("string", ["string"]), stream
        assert "string" in props[money]["type"] and "number" not in props[money]["type"]
    # date-times in UNIX seconds leave as date-times
    assert products[first["name"]]["created_at"] == canonical(first["created_at"])


# -- 10. next links, and the same-origin guard ---------------------------------------------


def test_relative_root_relative_and_header_links_are_followed(sb):
    # the links as the API writes them
    token = {"Authorization": f"Bearer {sb.variant_config('storefront-like')['api_key']}"}
    for resource, start in (
        ("inventory", "inventory?"),
        ("orders", path_of("storefront-like", "orders") + "?"),
    ):
        page = requests.get(
            sb.url + path_of("storefront-like", resource), headers=token, timeout=10
        )
        assert page.json()["pagination"]["nextPageUrl"].startswith(start), resource
    (stock,) = [
        requests.get(sb.url + path_of("storefront-like", "stock"), headers=token, timeout=10)
    ]
    assert stock.links["next"]["url"].startswith(sb.url + "/")
    cfg = config(sb, "storefront-like")
    catalog = discover(cfg)
    sb.reset_stats()
    out = run(cfg, catalog=catalog)
    assert_exact(sb, "storefront-like", out)
    # inventory: "inventory?offset=50&limit=50", resolved against the page's own URL
    inventory = sent_to(sb, "storefront-like", "inventory")
    assert [r.query_items for r in inventory] == [
        (),
        (("offset", "50"), ("limit", "50")),
        (("offset", "100"), ("limit", "50")),
    ]
    # orders: "/variants/…/orders?…" from the root, the filter kept
    orders = sent_to(sb, "storefront-like", "orders")
    assert len(orders) == 2
    assert orders[1].query["offset"] == "50"
    assert orders[1].query["modifiedAfter"] == orders[0].query["modifiedAfter"]
    # stock: the Link header (absolute)
    assert len(sent_to(sb, "storefront-like", "stock")) == math.ceil(len(out.records["stock"]) / 25)
    assert all(r.status == 200 for r in sb.requests.snapshot())


@pytest.mark.parametrize("foreign", ["http://evil.invalid", "http://localhost:{port}"])
def test_a_next_link_to_another_origin_is_refused_and_never_requested(
    server, base_url, foreign, tmp_path
):
    port = base_url.rsplit(":", 1)[1]
    origin = foreign.format(port=port)
    page = {
        "inventory": [{"variantId": f"v{n}", "sku": f"S{n}", "quantity": n} for n in range(3)],
        "pagination": {"nextPageUrl": f"{origin}/1.0/commerce/inventory?offset=3&limit=3"},
    }
    server.expect_request("/1.0/commerce/inventory").respond_with_json(page)
    raw = raw_definition("storefront-like")
    raw["resources"] = [resource_of(raw, "inventory")]
    secret = "fake-storefront-token-0123"
    cfg = {"definition": raw, "base_url": base_url + "/", "api_key": secret}
    # a sample of the first page's records: the schema is inferred without a next page
    result = run_cli([], config={**cfg, "schema_sample_size": 3}, tmp_path=tmp_path)
    scheme, host = origin.split("://")
    host = host if ":" in host else f"{host}:80"
    line = assert_one_line_failure(
        result,
        "stream 'inventory': the API's next-page URL points to "
        f"{scheme}://{host}, not to base_url's origin",
        "stopped without following it",
    )
    assert secret not in result.stdout + result.stderr
    assert [r["variantId"] for r in result.records["inventory"]] == ["v0", "v1", "v2"]
    # both requests (the sample, the sync) went to the page itself; none followed the link
    assert [request.url for request, _ in server.log] == [base_url + "/1.0/commerce/inventory"] * 2
    assert line.endswith(f"base_url's origin http://127.0.0.1:{port}; stopped without following it")


def test_the_foreign_origin_guard_holds_in_process_too(server, base_url):
    page = {
        "inventory": [{"variantId": "v0", "sku": "S0", "quantity": 1}],
        "pagination": {"nextPageUrl": "http://evil.invalid/1.0/commerce/inventory?offset=1"},
    }
    server.expect_request("/1.0/commerce/inventory").respond_with_json(page)
    raw = raw_definition("storefront-like")
    raw["resources"] = [resource_of(raw, "inventory")]
    cfg = {"definition": raw, "base_url": base_url + "/", "api_key": "fake-token"}
    out, error = run_until_failure({**cfg, "schema_sample_size": 1})
    assert isinstance(error, BadResponseError)
    assert str(error) == (
        "stream 'inventory': the API's next-page URL points to http://evil.invalid:80, not to "
        f"base_url's origin http://127.0.0.1:{base_url.rsplit(':', 1)[1]}; stopped without "
        "following it"
    )
    assert out.records["inventory"] == [{"variantId": "v0", "sku": "S0", "quantity": 1}]
