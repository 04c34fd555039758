"""The settings of contract §1.1: their declaration, and their validation into `Settings`.

Validation is ours rather than jsonschema's because every failure must be one readable
line naming the setting and what is allowed, must never echo a secret, and must see the
chosen API's definition (a credential is required only where the definition uses it as
``{settings.NAME}``, ``page_size`` has the definition's maximum). Values may arrive as
strings (``--config=ENV``); numbers are parsed here, so ``TAP_COMMERCE_BACKOFF_FACTOR=0.05``
works.
"""

from __future__ import annotations

import dataclasses
import math
import typing as t
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_commerce.definition import BUILTINS
from tap_commerce.normalize import parse_datetime

if t.TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from tap_commerce.definition import Definition

API_IDS = BUILTINS
SECRET_SETTINGS = ("api_key", "api_secret", "password", "client_secret", "refresh_token")
CHILD_SYNC_MODES = ("all", "changed")
UNKNOWN_FIELDS_MODES = ("drop", "keep")
DEFAULT_MAX_CONCURRENCY = 16
DEFAULT_SCHEMA_SAMPLE_SIZE = 100
#: the field the ``store`` setting adds to every record, first in every key
STORE_FIELD = "store"
STORE_MAX_LENGTH = 200


class ConfigError(ValueError):
    """A setting is wrong; the message is one line naming it and what is allowed."""


#: the JSON value of a setting (singer-sdk's bound for a property's type)
_V = t.TypeVar("_V", bound="str | int | float | bool | list[t.Any] | dict[str, t.Any] | None")


def _property(
    name: str,
    kind: th.JSONTypeHelper[_V] | type[th.JSONTypeHelper[_V]],
    description: str,
    **kwargs: t.Any,
) -> th.Property[_V]:
    return th.Property(name, kind, description=description, **kwargs)


CONFIG_SCHEMA: dict[str, t.Any] = th.PropertiesList(
    _property(
        "api",
        th.StringType(allowed_values=list(API_IDS)),
        "Which built-in API to read: storefront, payments, shop, digital or orders. "
        "Optional with `definition`.",
        title="API",
    ),
    _property(
        "definition",
        th.CustomType({"type": ["string", "object"]}),
        "An API definition (dlt's rest_api config in YAML or JSON, with x- extension keys): "
        "a path to the file, or the definition itself as an object. It describes a whole "
        "API, or names a built-in to start from (`x-extends`) and overrides parts of it.",
        title="API definition",
    ),
    _property(
        "schema_sample_size",
        th.IntegerType,
        "Records read to infer the schema of a stream whose definition gives none. "
        f"Default {DEFAULT_SCHEMA_SAMPLE_SIZE}.",
        title="Schema sample size",
    ),
    _property(
        "base_url",
        th.StringType,
        "Base URL of the API. Default per API; endpoint paths are joined onto its path.",
        title="Base URL",
    ),
    _property(
        "api_key",
        th.StringType,
        "storefront: bearer token; payments: the `api_key` query parameter; shop: basic-auth user.",
        secret=True,
        title="API key",
    ),
    _property(
        "api_secret", th.StringType, "shop: basic-auth password.", secret=True, title="API secret"
    ),
    _property("username", th.StringType, "digital: basic-auth user name.", title="Username"),
    _property(
        "password", th.StringType, "digital: basic-auth password.", secret=True, title="Password"
    ),
    _property("client_id", th.StringType, "orders: OAuth2 client id.", title="Client ID"),
    _property(
        "client_secret",
        th.StringType,
        "orders: OAuth2 client secret.",
        secret=True,
        title="Client secret",
    ),
    _property(
        "refresh_token",
        th.StringType,
        "A definition's OAuth2 refresh token ({settings.refresh_token} in "
        "access_token_request_data, for the refresh-token grant).",
        secret=True,
        title="Refresh token",
    ),
    _property(
        "token_url",
        th.StringType,
        "orders: OAuth2 token endpoint (client credentials).",
        title="Token URL",
    ),
    _property(
        "oauth_scopes",
        th.StringType,
        "orders: space-separated scopes, sent as `scope`.",
        title="OAuth scopes",
    ),
    _property(
        "start_date",
        th.DateTimeType,
        "Earliest replication-key value read when no bookmark exists (RFC 3339).",
        title="Start date",
    ),
    _property(
        "end_date",
        th.DateTimeType,
        "Upper bound for incremental reads (default: the moment the sync started).",
        title="End date",
    ),
    _property(
        "lookback_window",
        th.NumberType,
        "Seconds subtracted from a bookmark (not from start_date) for late-arriving updates. Default 0.",
        title="Lookback window",
    ),
    _property(
        "page_size",
        th.IntegerType,
        "Records per page (payments, shop, digital, orders). Default 100, 20, 50, 200; "
        "at most 100, 100, 50, 200.",
        title="Page size",
    ),
    _property(
        "max_retries",
        th.IntegerType,
        "Retries per request after the first try. Default 3.",
        title="Max retries",
    ),
    _property(
        "backoff_factor",
        th.NumberType,
        "Exponential backoff factor: waits are about factor × 2^n seconds, jittered. Default 2.",
        title="Backoff factor",
    ),
    _property(
        "max_retry_wait",
        th.NumberType,
        "Cap in seconds on any single wait, Retry-After included. Default 300.",
        title="Max retry wait",
    ),
    _property(
        "requests_per_second",
        th.NumberType,
        "Proactive pacing shared by all streams of a run; 0 = unpaced. Default per API: "
        "storefront 4.5, shop 2, digital 1, payments and orders 0.",
        title="Requests per second",
    ),
    _property(
        "max_concurrency",
        th.IntegerType,
        f"Parallel requests allowed for child streams. Default {DEFAULT_MAX_CONCURRENCY}.",
        title="Max concurrency",
    ),
    _property(
        "child_sync",
        th.StringType(allowed_values=list(CHILD_SYNC_MODES)),
        "shop: `all` (sub-resources of every product each run, default) or `changed` "
        "(only of products the run emits).",
        title="Child sync",
    ),
    _property(
        "request_timeout",
        th.NumberType,
        "Seconds before a request times out. Default 60.",
        title="Request timeout",
    ),
    _property(
        "emit_activate_version_messages",
        th.BooleanType,
        "Send ACTIVATE_VERSION after the last record of every complete read (full-table "
        "streams, shop's sub-resources under child_sync all, incremental streams on a full "
        "refresh), so a target retires the rows the source deleted. Default false.",
        title="Emit ACTIVATE_VERSION messages",
    ),
    _property(
        "unknown_fields",
        th.StringType(allowed_values=list(UNKNOWN_FIELDS_MODES)),
        "Top-level fields the schema does not know: `drop` them (logged once) or `keep` them "
        "exactly as sent, adding each to the stream's schema (a new SCHEMA). Default `drop`; "
        "`keep` for a stream whose schema was inferred.",
        title="Unknown fields",
    ),
    _property(
        "user_agent",
        th.StringType,
        "User-Agent header. Default tap-commerce/<version>.",
        title="User agent",
    ),
    _property(
        "store",
        th.StringType,
        "The store's name, for many stores of one API in the same tables: every record "
        "carries it in a `store` field, declared in every schema and first in every "
        "stream's key. Unset, records are as the API sent them. Needs "
        "emit_activate_version_messages false.",
        title="Store",
    ),
).to_dict()

OWN_SETTINGS = frozenset(CONFIG_SCHEMA["properties"])


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated, typed settings of one run."""

    api: str
    base_url: str
    start_date: datetime | None
    end_date: datetime | None
    #: seconds; None when unset (a definition's incremental ``lag`` then applies)
    lookback_window: float | None
    page_size: int | None
    max_retries: int
    backoff_factor: float
    max_retry_wait: float
    requests_per_second: float
    max_concurrency: int
    child_sync: str
    request_timeout: float
    user_agent: str
    secrets: tuple[str, ...]
    emit_activate_version: bool = False
    #: None when unset: ``drop``, or ``keep`` for a stream whose schema was inferred
    unknown_fields: str | None = None
    #: whether ``page_size`` was set (else each paginator keeps its own ``limit``)
    page_size_given: bool = False
    token_url: str | None = None
    oauth_scopes: str | None = None
    schema_sample_size: int = DEFAULT_SCHEMA_SAMPLE_SIZE
    #: the `store` setting (None: unset)
    store: str | None = None


def check_api(config: Mapping[str, t.Any]) -> str | None:
    """The chosen built-in's id (None when a ``definition`` describes the API), or a
    ConfigError saying which ids exist.
    """
    api = config.get("api")
    allowed = ", ".join(API_IDS)
    if api in (None, ""):
        if config.get("definition") not in (None, ""):
            return None
        msg = f"setting 'api' is required: one of {allowed} (or give setting 'definition')"
        raise ConfigError(msg)
    if api not in API_IDS:
        msg = f"setting 'api' is {api!r}: must be one of {allowed}"
        raise ConfigError(msg)
    return t.cast("str", api)


def check_store(config: Mapping[str, t.Any]) -> str | None:
    """The ``store`` setting (None when unset), or a ConfigError.

    With a store, ``emit_activate_version_messages`` is refused: a loader's ACTIVATE_VERSION
    retires every row of the table that the run did not send, and with many stores in one
    table those are the other stores' rows.
    """
    store = config.get("store")
    if store is None or store == "":
        return None
    if not isinstance(store, str):
        msg = "setting 'store' must be a string: the store's name"
        raise ConfigError(msg)
    if not store.strip() or store != store.strip():
        msg = "setting 'store' must be a name without leading or trailing spaces"
        raise ConfigError(msg)
    if any(not c.isprintable() for c in store) or len(store) > STORE_MAX_LENGTH:
        msg = f"setting 'store' must be printable and at most {STORE_MAX_LENGTH} characters"
        raise ConfigError(msg)
    if _boolean(config, "emit_activate_version_messages"):
        msg = (
            "setting 'emit_activate_version_messages' must be false with setting 'store': a "
            "loader's ACTIVATE_VERSION retires every row its run did not send, and the other "
            "stores' rows share the table"
        )
        raise ConfigError(msg)
    return store


def resolve(
    config: Mapping[str, t.Any], definition: Definition, version: str
) -> tuple[Settings, Definition]:
    """Validate the config for one API and return typed settings, and the definition
    with every ``{settings.NAME}`` filled in.

    Raises:
        ConfigError: with one line naming the first wrong setting.
    """
    api = definition.name
    used = definition.settings_used()
    own = definition.source.startswith("built-in")

    def lookup(name: str, where: str) -> str:
        value = config.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            used_at = (
                f"the definition's {where}" if own else f"definition {definition.source}: {where}"
            )
            msg = f"setting '{name}' is required for api '{api}' ({used_at})"
            raise ConfigError(msg)
        if not isinstance(value, str):
            # never echo the value: it may be a secret
            msg = f"setting '{name}' must be a string"
            raise ConfigError(msg)
        return str(value)

    bound = definition.bind(lookup)
    for name, where in used.items():
        # a setting that is a whole URL of the definition is checked as one
        template = _template_at(definition, where)
        whole = template is not None and template.source == f"{{settings.{name}}}"
        if whole and where.endswith(("base_url", "access_token_url")):
            _url(config, name, None, api)
    base_url = _url(config, "base_url", bound.base_url.render({}), api)
    token_url = config.get("token_url")
    if token_url not in (None, "") and any(
        a.type == "oauth2_client_credentials" for a in bound.auths()
    ):
        token_url = _url(config, "token_url", None, api)
    else:
        token_url = None

    limits = [
        p for p in (r.paginator for r in bound.resources) if p is not None and p.limit is not None
    ]
    page_size = limits[0].limit if limits else None
    given = limits and config.get("page_size") not in (None, "")
    if given:
        page_size = _integer(config, "page_size", 1, page_size)
        maxima = [p.maximum_limit for p in limits if p.maximum_limit is not None]
        if maxima and page_size > min(maxima):
            msg = f"setting 'page_size' is {page_size}: the {api} API allows at most {min(maxima)}"
            raise ConfigError(msg)

    child_sync = config.get("child_sync") or "all"
    if child_sync not in CHILD_SYNC_MODES:
        msg = f"setting 'child_sync' is {child_sync!r}: must be 'all' or 'changed'"
        raise ConfigError(msg)

    if config.get("batch_config"):
        # singer-sdk's BATCH files hold bare records: a loader adds no record version
        # (_sdc_table_version) to their rows, so the ACTIVATE_VERSION after a complete
        # read marks every row of the table deleted (measured with target-postgres 0.8.1)
        msg = (
            "setting 'batch_config': BATCH messages are not supported (the tap sends RECORD "
            "messages; rows loaded from BATCH files carry no record version, and a loader's "
            "ACTIVATE_VERSION would mark every one deleted)"
        )
        raise ConfigError(msg)

    unknown_fields = config.get("unknown_fields") or None
    if unknown_fields is not None and unknown_fields not in UNKNOWN_FIELDS_MODES:
        msg = f"setting 'unknown_fields' is {unknown_fields!r}: must be 'drop' or 'keep'"
        raise ConfigError(msg)

    user_agent = config.get("user_agent") or f"tap-commerce/{version}"
    if not isinstance(user_agent, str):
        msg = "setting 'user_agent' must be a string"
        raise ConfigError(msg)

    scopes = config.get("oauth_scopes")
    scopes = scopes if isinstance(scopes, str) and scopes.strip() else None
    # a setting sent in an auth, a header or a param may be a credential: it is masked
    in_auth = {
        name
        for name, where in used.items()
        if any(part in where for part in (".auth.", ".headers.", ".params."))
        and not where.endswith(".access_token_url")  # a URL, shown so a failure names it
    }
    secrets = tuple(
        str(value)
        for name in (*SECRET_SETTINGS, "client_id", *sorted(in_auth))
        if isinstance(value := config.get(name), str | int)
        and not isinstance(value, bool)
        and value
    )
    store = check_store(config)
    replaced = [r.name for r in bound.resources if r.write_disposition == "replace"]
    if store is not None and replaced:
        msg = (
            f"setting 'store': stream '{replaced[0]}' has write_disposition 'replace', whose "
            "ACTIVATE_VERSION would retire the other stores' rows of its table; give it "
            "'merge' (a key) or 'append'"
        )
        raise ConfigError(msg)
    lookback = config.get("lookback_window")
    settings = Settings(
        api=api,
        base_url=base_url,
        start_date=_datetime(config, "start_date"),
        end_date=_datetime(config, "end_date"),
        lookback_window=None
        if lookback in (None, "")
        else _number(config, "lookback_window", 0, 0),
        page_size=page_size,
        max_retries=_integer(config, "max_retries", 0, 3),
        backoff_factor=_number(config, "backoff_factor", 0, 2),
        max_retry_wait=_number(config, "max_retry_wait", 0, 300),
        requests_per_second=_number(
            config, "requests_per_second", 0, definition.requests_per_second
        ),
        max_concurrency=_integer(config, "max_concurrency", 1, DEFAULT_MAX_CONCURRENCY),
        child_sync=child_sync,
        request_timeout=_number(config, "request_timeout", 0.001, 60),
        user_agent=user_agent,
        secrets=secrets,
        emit_activate_version=_boolean(config, "emit_activate_version_messages"),
        unknown_fields=unknown_fields,
        page_size_given=bool(given),
        token_url=token_url,
        oauth_scopes=scopes,
        schema_sample_size=_integer(config, "schema_sample_size", 1, DEFAULT_SCHEMA_SAMPLE_SIZE),
        store=store,
    )
    return settings, bound


def _template_at(definition: Definition, where: str) -> t.Any:
    """The template of ``client.base_url`` or of an auth's ``access_token_url``."""
    if where == "client.base_url":
        return definition.base_url
    for auth in definition.auths():
        if where == f"{auth.where}.access_token_url":
            return auth.values.get("access_token_url")
    return None


def _boolean(config: Mapping[str, t.Any], name: str) -> bool:
    value = config.get(name)
    if value is None or value == "" or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    msg = f"setting '{name}' must be true or false"
    raise ConfigError(msg)


def _integer(config: Mapping[str, t.Any], name: str, minimum: int, default: int | None) -> int:
    value = config.get(name)
    if value is None or value == "":
        return t.cast("int", default)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"setting '{name}' must be a whole number ≥ {minimum}"
        raise ConfigError(msg)
    return value


def _number(config: Mapping[str, t.Any], name: str, minimum: float, default: float) -> float:
    value = config.get(name)
    if value is None or value == "":
        return float(default)
    number: float | None
    try:
        number = float(Decimal(str(value).strip())) if not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or math.isnan(number) or number < minimum or number == float("inf"):
        msg = f"setting '{name}' must be a number ≥ {minimum:g}"
        raise ConfigError(msg)
    return number


def _datetime(config: Mapping[str, t.Any], name: str) -> datetime | None:
    value = config.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        msg = (
            f"setting '{name}' is {value!r}: expected an RFC 3339 date-time such as "
            "2024-01-31T00:00:00Z"
        )
        raise ConfigError(msg) from None


def _url(config: Mapping[str, t.Any], name: str, default: str | None, api: str) -> str:
    value = config.get(name) or default
    if not value:
        msg = f"setting '{name}' is required for api '{api}'"
        raise ConfigError(msg)
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"setting '{name}' is {value!r}: expected an http(s) URL such as https://api.example.com/"
        raise ConfigError(msg)
    return t.cast("str", value)
