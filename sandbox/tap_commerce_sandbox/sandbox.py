"""The :class:`Sandbox`: the Python face of the emulator, used by tests, benchmarks, the
CLI and the admin endpoints alike.
"""

from __future__ import annotations

import json
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .admin import Admin
from .apis import Api, DigitalApi, OrdersApi, PaymentsApi, ShopApi, StorefrontApi, VariantApi
from .data import APIS, ChildTable, Dataset, Table
from .drift import DEFAULT_EXTRA_FIELDS, DEFAULT_FOREIGN_ORIGIN, Drift, ExtraFields, ForeignNextUrl
from .faults import SLOW_SECONDS, FaultInjector, FaultPlan, Target
from .jsonenc import dumps, dumps_each, loads
from .ratelimit import build_limiters
from .requestlog import LoggedRequest, RequestLog
from .server import App, SandboxServer
from .timefmt import to_millis, today_midnight_ms

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterable, Mapping
    from datetime import date, datetime

    from typing_extensions import Self

#: Fixed, obviously fake credentials; each can be overridden per API in the constructor.
DEFAULT_CREDENTIALS: dict[str, dict[str, str]] = {
    "storefront": {"api_key": "sandbox-storefront-token"},
    "payments": {"api_key": "sandbox-payments-key"},
    "shop": {"api_key": "sandbox-shop-key", "api_secret": "sandbox-shop-secret"},
    "digital": {"username": "sandbox-user", "password": "sandbox-password"},
    "orders": {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"},
}
#: Where each API lives on the sandbox server (these are the configs' base URL paths).
BASE_PATHS = {
    "storefront": "/storefront/1.0/",
    "payments": "/payments/",
    "shop": "/shop/",
    "digital": "/digital/v1/",
    "orders": "/orders/",
}
TOKEN_PATH = "/orders/oauth/token"
ORDERS_SCOPE = "orders.read"
#: The contract's default requests_per_second; configs use it only when limits are on.
CONTRACT_PACING = {"storefront": 4.5, "payments": 0, "shop": 2, "digital": 1, "orders": 0}


class Sandbox:
    """A local emulator of the five commerce APIs on one loopback port.

    Args:
        seed, scale: generated data is a pure function of these (and ``sizes``, ``anchor``);
            scale 1.0 gives a few hundred to a few thousand records per stream.
        sizes: exact record counts by ``"api.stream"``, e.g. ``{"payments.order_payments": 10**5}``.
        anchor: the "present" of the generated history (default: today 00:00 UTC); records
            span three years up to it.
        host, port: where to listen; port 0 picks a free port.
        credentials: per-API overrides of :data:`DEFAULT_CREDENTIALS`.
        rate_limits: ``True`` for every API's limit, or ``{"api": {option: value}}`` for some.
        time_scale: multiplies every rate-limit window, cool-down and ``Retry-After``.
        latency: seconds added to every API request.
        token_ttl: lifetime (seconds, not scaled) of orders access tokens.
        shop_envelope: ``"object"`` (``{"data": [...]}``) or ``"bare"`` (``[...]``).
        digital_envelope: ``"array"`` (``[{"product": {...}}, ...]``) or ``"object"``
            (``{"product": [...]}``).
        payments_total: whether payments pages carry ``total``.
        clock: epoch seconds (default ``time.time``): "now" for mutations and the orders
            API's 90-day default.
        extra_fields: schema-drift drill on every stream from the start: ``True`` for
            :data:`~.drift.DEFAULT_EXTRA_FIELDS`, or the fields to add (see
            :meth:`set_extra_fields`, which can also narrow it to some APIs/streams).
        foreign_next_url: foreign-next-URL drill from the start: ``True`` for
            :data:`~.drift.DEFAULT_FOREIGN_ORIGIN`, or the origin (see
            :meth:`set_foreign_next_url`).
    """

    def __init__(
        self,
        seed: int = 1,
        scale: float = 1.0,
        *,
        sizes: Mapping[str, int] | None = None,
        anchor: date | datetime | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Mapping[str, Mapping[str, str]] | None = None,
        rate_limits: bool | Mapping[str, Mapping[str, Any]] = False,
        time_scale: float = 1.0,
        latency: float = 0.0,
        token_ttl: float = 3600,
        shop_envelope: str = "object",
        digital_envelope: str = "array",
        payments_total: bool = True,
        clock: Callable[[], float] | None = None,
        extra_fields: bool | Mapping[str, Any] | None = None,
        foreign_next_url: bool | str | None = None,
    ) -> None:
        """A sandbox that is not listening yet (see `start`); the arguments are above."""
        if scale < 0:
            msg = "scale must not be negative"
            raise ValueError(msg)
        if time_scale <= 0:
            msg = "time_scale must be positive"
            raise ValueError(msg)
        self.seed, self.scale = seed, scale
        self.host, self._port = host, port
        self.time_scale = time_scale
        self.credentials = {api: dict(creds) for api, creds in DEFAULT_CREDENTIALS.items()}
        for api, overrides in (credentials or {}).items():
            if api not in self.credentials:
                msg = f"credentials: unknown api {api!r}; one of {', '.join(APIS)}"
                raise ValueError(msg)
            self.credentials[api].update(overrides)
        anchor_ms = today_midnight_ms() if anchor is None else to_millis(anchor)
        self.dataset = Dataset(seed, scale, anchor_ms, sizes, clock or time.time)
        self._limiters = build_limiters(rate_limits, time_scale)
        self.orders_api = OrdersApi(self.dataset, self.credentials["orders"], token_ttl=token_ttl)
        self.variants = VariantApi(self.dataset, token_ttl=token_ttl)
        apis: list[Api] = [
            StorefrontApi(self.dataset, self.credentials["storefront"]),
            PaymentsApi(self.dataset, self.credentials["payments"], include_total=payments_total),
            ShopApi(self.dataset, self.credentials["shop"], envelope=shop_envelope),
            DigitalApi(self.dataset, self.credentials["digital"], envelope=digital_envelope),
            self.orders_api,
            self.variants,
        ]
        self._drift = Drift()
        for emulated in apis:
            emulated.drift = self._drift
        if extra_fields:
            self.set_extra_fields(DEFAULT_EXTRA_FIELDS if extra_fields is True else extra_fields)
        if foreign_next_url:
            self.set_foreign_next_url(
                DEFAULT_FOREIGN_ORIGIN if foreign_next_url is True else foreign_next_url
            )
        self._faults = FaultInjector()
        self._log = RequestLog()
        self._stopping = threading.Event()
        self._app = App(
            apis,
            Admin(self).handle,
            faults=self._faults,
            limiters=self._limiters,
            requests=self._log,
            stopping=self._stopping,
            latency=latency,
            time_scale=time_scale,
        )
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen and serve in a background thread; returns ``self``."""
        if self._server is not None:
            msg = "the sandbox is already running"
            raise RuntimeError(msg)
        self._stopping.clear()
        self._server = SandboxServer((self.host, self._port), self._app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping on latency or a slow fault
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        """`start`."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """`stop`."""
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on (the one asked for, until it listens)."""
        if self._server is None:
            return self._port
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (a wildcard listen address is reached via loopback)."""
        if self._server is None:
            msg = "the sandbox is not running; call start() first"
            raise RuntimeError(msg)
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104 - compared, not bound
        return f"http://{host}:{self.port}"

    # Tap configs -------------------------------------------------------------------------

    def config(self, api: str) -> dict[str, Any]:
        """A ready tap config for ``api``: base URL, credentials and pacing to match."""
        if api not in BASE_PATHS:
            msg = f"unknown api {api!r}; one of {', '.join(APIS)}"
            raise ValueError(msg)
        # Unlimited sandbox: no reason to pace. Limited: the contract's pacing, scaled.
        limited = api in self._limiters
        pacing = CONTRACT_PACING[api] / self.time_scale if limited else 0
        return tap_config(api, self.url, self.credentials[api], pacing)

    def variant_config(self, service: str) -> dict[str, Any]:
        """Settings for a definition of a variant service (see :mod:`.apis.variants`): its
        ``base_url`` (``…/variants/<service>/``), its credentials by the settings' usual
        names (``api_key``; ``username``/``password``; ``client_id``/``client_secret``,
        ``refresh_token`` and ``token_url``), and no pacing unless it is rate limited.
        """
        if service not in self.variants.services:
            msg = f"unknown variant service {service!r}; one of {', '.join(self.variants.services)}"
            raise ValueError(msg)
        base = f"{self.url}/variants/{service}/"
        config: dict[str, Any] = {"base_url": base, **self.variants.services[service].credentials()}
        if "client_id" in config:
            config["token_url"] = base + "oauth/token"
        limited = "variants" in self._limiters
        config["requests_per_second"] = 8 / self.time_scale if limited else 0
        return config

    def variant_records(self, service: str, endpoint: str) -> list[dict[str, Any]]:
        """Every record a variant endpoint lists now, exactly as it serves them (decimals
        as ``Decimal``; a wrapped record without its wrapper).
        """
        return self.variants.records(service, endpoint)

    def configs(self) -> dict[str, dict[str, Any]]:
        """`config` of every API."""
        return {api: self.config(api) for api in APIS}

    def write_configs(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``<api>.json`` for all five APIs into ``directory``; returns the paths."""
        return write_config_files(self.configs(), directory)

    def meltano_env(self) -> dict[str, str]:
        """The same configs as Meltano environment variables of the inherited plugins
        (``TAP_COMMERCE_SHOP_API_KEY`` …); the ``api`` setting is in ``meltano.yml``.
        """
        return meltano_env(self.configs())

    # Data --------------------------------------------------------------------------------

    def streams(self, api: str | None = None) -> dict[str, dict[str, int]]:
        """``{api: {stream: record count}}``."""
        apis = [api] if api else list(APIS)
        return {a: {s: self.count(a, s) for s in self.dataset.tables[a]} for a in apis}

    def count(self, api: str, stream: str) -> int:
        """How many records ``api.stream`` has now."""
        table = self.dataset.table(api, stream)
        if isinstance(table, ChildTable):
            return sum(len(rows) for rows in table.all_rows().values())
        return len(table.live())

    def records(
        self,
        api: str,
        stream: str,
        offset: int = 0,
        limit: int | None = None,
        *,
        extra_fields: bool = False,
    ) -> list[dict[str, Any]]:
        """The records the API currently serves, oldest first, as fresh JSON-ready objects
        (decoded from the exact text the API sends, so decimals are ``Decimal``). Child
        streams: every row of every live product, each with ``prd_id`` added as the tap does.

        Without the fields of a schema-drift drill (:meth:`set_extra_fields`) unless
        ``extra_fields``: these are the records a correct tap emits, since it drops fields
        its schema does not list. With ``extra_fields`` (see
        :meth:`records_with_extra_fields`): exactly as served, drift fields included.
        """
        table = self.dataset.table(api, stream)
        if isinstance(table, ChildTable):
            rows = [
                {**row, "prd_id": pid}
                for pid, rs in self.child_records(api, stream, extra_fields=extra_fields).items()
                for row in rs
            ]
            return rows[offset : None if limit is None else offset + limit]
        live = table.live()
        fragments = table.fragments(live[offset : None if limit is None else offset + limit])
        extra = self._drift.extra_fields if extra_fields else None
        if extra is not None and extra.selects(api, stream):
            # Positions in the unfiltered creation-order list: offset, offset + 1, ...
            fragments = extra.add_to(fragments, range(offset, offset + len(fragments)))
        served: list[dict[str, Any]] = loads("[" + ",".join(fragments) + "]")
        return served

    def records_with_extra_fields(
        self, api: str, stream: str, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """:meth:`records` as the APIs serve them under the schema-drift drill in force:
        the drift fields appended (same values and types, decimals as ``Decimal``), absent
        before the drill's ``start``, the ``changed`` values from ``change_at`` on. Equal to
        :meth:`records` when no drill selects the stream. Whatever a query selects, each
        served record equals its entry here (matched by key).
        """
        return self.records(api, stream, offset, limit, extra_fields=True)

    def child_records(
        self, api: str, stream: str, *, extra_fields: bool = False
    ) -> dict[Any, list[dict[str, Any]]]:
        """``{product id: rows}`` of a child stream, rows exactly as the API serves them
        (without the fields of a schema-drift drill unless ``extra_fields``, as
        :meth:`records`; a row's position is its place among its product's rows).
        """
        table = self.dataset.table(api, stream)
        if not isinstance(table, ChildTable):
            msg = f"{api}.{stream} is not a child stream"
            raise ValueError(msg)  # noqa: TRY004 - a wrong stream name, as for an unknown one
        extra = self._drift.extra_fields if extra_fields else None
        if extra is None or not extra.selects(api, stream):
            return {pid: loads(dumps(rows)) for pid, rows in table.all_rows().items()}
        out = {}
        for pid, rows in table.all_rows().items():
            fragments = extra.add_to(dumps_each(rows), range(len(rows)))
            out[pid] = loads("[" + ",".join(fragments) + "]")
        return out

    def warm(self, api: str | None = None, streams: Iterable[str] | None = None) -> None:
        """Generate and encode every base record now rather than on first read (about
        25 µs a record), so a benchmark's first pass measures the client, not generation.
        Encoded records are cached up to ~160 MB per stream.
        """
        for name in [api] if api else APIS:
            for stream, table in self.dataset.tables[name].items():
                if isinstance(table, Table) and (streams is None or stream in streams):
                    table.warm(range(table.size), 0, table.size)

    def mutate(
        self,
        api: str | None = None,
        added: int = 5,
        updated: int = 5,
        deleted: int = 0,
        streams: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Add ``added`` records to, update ``updated`` and delete ``deleted`` records of
        every mutable stream of ``api`` (all APIs if ``None``), or only of ``streams``.

        New records are created (and modified) "now"; updated ones get their modification
        field (e.g. ``modifiedOn``, shop products' ``updated_at_utc``) set to "now" plus a
        change of content. Deterministic given the number of earlier mutations. Returns
        ``{"mutation": n, "now_ms": ..., "streams": {"api.stream": {"added": [ids],
        "updated": [ids], "deleted": [ids]}}}``.
        """
        return self.dataset.mutate(api, list(streams) if streams else None, added, updated, deleted)

    # Traffic, faults and knobs -------------------------------------------------------------

    @property
    def requests(self) -> RequestLog:
        """Every API request received (admin requests excluded), oldest first."""
        return self._log

    def stats(self) -> dict[str, Any]:
        """Request, status, 429 and fault counters."""
        return self._log.stats()

    @property
    def count_429(self) -> int:
        """429 responses sent so far (rate limits and injected faults)."""
        return self._log.count_429

    def reset_stats(self) -> None:
        """Clear the request log and every counter."""
        self._log.clear()

    def set_faults(
        self,
        rate: float = 0.0,
        kinds: Iterable[str] = ("500",),
        seed: int = 0,
        *,
        apis: Iterable[str] | str | None = None,
        path: str | None = None,
        schedule: Mapping[int, str] | None = None,
        slow_seconds: float = SLOW_SECONDS,
    ) -> None:
        """Fail matching API requests at ``rate`` with kinds drawn from ``kinds``, and/or the
        n-th matching request (1-based) with ``schedule[n]``; see :mod:`.faults`.
        """
        self._faults.set(
            FaultPlan(
                rate, tuple(kinds), seed, Target.of(apis, path), dict(schedule or {}), slow_seconds
            )
        )

    def fail_next(
        self,
        n: int = 1,
        kind: str = "500",
        *,
        apis: Iterable[str] | str | None = None,
        path: str | None = None,
        slow_seconds: float = SLOW_SECONDS,
    ) -> None:
        """Fail the next ``n`` matching API requests with ``kind``."""
        self._faults.fail_next(n, kind, Target.of(apis, path), slow_seconds)

    def clear_faults(self) -> None:
        """No more faults (queued ones included)."""
        self._faults.clear()

    @property
    def latency(self) -> float:
        """Seconds added to every API request (settable while running)."""
        return self._app.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._app.latency = max(0.0, float(seconds))

    @property
    def token_ttl(self) -> float:
        """Lifetime of orders access tokens issued from now on (settable)."""
        return self.orders_api.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.orders_api.tokens.ttl = seconds
        self.variants.tokens.ttl = seconds

    def expire_tokens(self) -> None:
        """Expire every access token issued so far (orders and the variants)."""
        self.orders_api.tokens.expire_all()
        self.variants.tokens.expire_all()

    # Contract-drift drills (see :mod:`.drift`) ---------------------------------------------

    def set_extra_fields(
        self,
        fields: Mapping[str, Any] | None = DEFAULT_EXTRA_FIELDS,
        *,
        apis: Iterable[str] | str | None = None,
        streams: Iterable[str] | str | None = None,
        start: int = 0,
        changed: Mapping[str, Any] | None = None,
        change_at: int | None = None,
    ) -> None:
        """Schema drift: append ``fields`` (top-level, any JSON values; default
        :data:`~.drift.DEFAULT_EXTRA_FIELDS`) to every record the APIs serve from now on, in
        the streams of ``apis`` (all APIs if ``None``), narrowed to ``streams`` if given
        (names such as ``"products_images"``, or ``"api.stream"``); child streams included.
        ``None`` turns the drill off. Replaces any earlier setting. Deterministic and cheap:
        the fields are spliced into the cached record text per page, never into the cache.

        Mid-list drift, by record position (see :mod:`.drift`: the position in the
        stream's unfiltered creation-order list, whatever the query; child rows: within
        their product's rows): records before ``start`` lack the fields altogether; from
        ``change_at`` (with ``changed``, ``>= start``) on, the fields named in ``changed``
        carry those values instead — a field whose type changes.

        The names must be new to the records (a field of the contract would be sent twice);
        :meth:`records` never includes them, :meth:`records_with_extra_fields` shows them as
        served. Example::

            sb.set_extra_fields({"x_new": {"a": 1}, "x_note": "hi", "x_n": 3}, apis="shop")
            sb.set_extra_fields(
                {"x_n": 42}, apis="payments", start=150, changed={"x_n": "forty-two"},
                change_at=300,
            )  # records 0-149: no x_n; 150-299: 42; from 300: "forty-two"
        """
        if fields is None:
            self._drift.extra_fields = None
            return
        catalog = {api: list(tables) for api, tables in self.dataset.tables.items()}
        extra = ExtraFields.of(
            fields, apis, streams, catalog, start=start, changed=changed, change_at=change_at
        )
        for api, names in catalog.items():
            for stream in filter(partial(extra.selects, api), names):
                clash = sorted(set(extra.fields) & _sample_keys(self.dataset.table(api, stream)))
                if clash:
                    msg = f"extra fields: {api}.{stream} records already have {', '.join(clash)}"
                    raise ValueError(msg)
        self._drift.extra_fields = extra

    @property
    def extra_fields(self) -> ExtraFields | None:
        """The schema-drift drill in force, if any."""
        return self._drift.extra_fields

    def set_foreign_next_url(
        self, url: str | None = DEFAULT_FOREIGN_ORIGIN, *, path: str | None = None
    ) -> None:
        """Foreign next-page URL (storefront): from now on ``pagination.nextPageUrl`` points
        at ``url`` — an origin such as ``http://evil.invalid`` or ``http://127.0.0.2:{port}``
        (``{port}``: the port the client addressed), optionally with a path prefix — instead
        of the sandbox, keeping the API path and cursor. ``path`` (a regular expression
        searched in the request's full path, e.g. ``"commerce/orders"``) limits it to some
        endpoints. ``None`` turns the drill off. The cursor stays valid: the same path and
        query sent to the sandbox itself return the next page.

        Example::

            sb.set_foreign_next_url("http://127.0.0.2:{port}", path="/commerce/orders$")
        """
        self._drift.foreign_next_url = None if url is None else ForeignNextUrl(url, path)

    @property
    def foreign_next_url(self) -> ForeignNextUrl | None:
        """The foreign-next-URL drill in force, if any."""
        return self._drift.foreign_next_url

    def foreign_requests(self) -> list[LoggedRequest]:
        """Logged API requests addressed (``Host`` header) to another origin than
        :attr:`url`: a client that followed a foreign ``nextPageUrl`` which reaches this
        server under another name (``http://localhost:{port}``, or any name when listening
        on ``0.0.0.0``).
        """
        own = urlsplit(self.url).netloc.lower()
        return [
            entry
            for entry in self._log.snapshot()
            if entry.headers.get("Host", own).strip().lower() != own
        ]


def _sample_keys(table: Table | ChildTable) -> set[str]:
    """Field names seen in the first records of ``table`` (cheap: one generated block)."""
    if isinstance(table, ChildTable):
        return {name for p in table.parent.live()[:16] for row in table.rows(p) for name in row}
    live = table.live()
    return set(table.record(live[0])) if len(live) else set()


def tap_config(
    api: str, url: str, credentials: Mapping[str, str], requests_per_second: float = 0
) -> dict[str, Any]:
    """The tap config that points ``api`` at a sandbox served at ``url``."""
    url = url.rstrip("/")
    config: dict[str, Any] = {"api": api, "base_url": url + BASE_PATHS[api], **credentials}
    if api == "orders":
        config["token_url"] = url + TOKEN_PATH
        config["oauth_scopes"] = ORDERS_SCOPE
    config["requests_per_second"] = requests_per_second
    return config


def meltano_env(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{TAP_COMMERCE_<API>_<SETTING>: value}`` for every setting of every config but ``api``."""
    return {
        f"TAP_COMMERCE_{api}_{name}".upper(): str(value)
        for api, config in configs.items()
        for name, value in config.items()
        if name != "api"
    }


def write_env_file(variables: Mapping[str, str], path: str | os.PathLike[str]) -> Path:
    """Merge ``variables`` into a dotenv file (Meltano reads ``.env`` in the project):
    lines setting the same names are replaced, every other line is kept.
    """
    target = Path(path)
    kept = []
    if target.exists():
        for line in target.read_text(encoding="utf-8").splitlines():
            name = line.split("=", 1)[0].strip().removeprefix("export ").strip()
            if name not in variables:
                kept.append(line)
    lines = kept + [f"{name}={json.dumps(value)}" for name, value in variables.items()]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def write_config_files(
    configs: Mapping[str, Mapping[str, Any]], directory: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write each config as ``<directory>/<api>.json``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for api, config in configs.items():
        path = folder / f"{api}.json"
        path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        paths[api] = path
    return paths
