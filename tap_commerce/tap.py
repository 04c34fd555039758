"""`tap-commerce`: one executable for the family; the ``api`` setting picks the tap class.

`TapCommerce` is the shared base tap. It declares every setting, validates them into
`Settings` (one readable line per mistake, before any request), and builds what one run
shares across its streams and threads: the `Transport` (pacing, retries), the
authenticator, the fan-out pool and the redaction filter. Each API module subclasses it
with its contract table (`endpoints`) and its auth.
"""

from __future__ import annotations

import atexit
import copy
import functools
import gc
import logging
import os
import re
import sys
import threading
import typing as t
import warnings
from datetime import datetime, timezone
from http import HTTPStatus
from importlib import metadata

import click
import requests
from singer_sdk import Tap
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.plugin_base import JSONSchemaValidator, SingerCommand, _ConfigInput
from singer_sdk.tap_base import CliTestOptionValue

from tap_commerce import redact
from tap_commerce.client import ChildStream, CommerceStream, Endpoint
from tap_commerce.errors import InputError, TapCommerceError
from tap_commerce.fanout import FanOut
from tap_commerce.inputs import describe_file, read_catalog_file, read_state_file
from tap_commerce.output import BlockWriter
from tap_commerce.settings import (
    CONFIG_SCHEMA,
    OWN_SETTINGS,
    ApiProfile,
    ConfigError,
    Settings,
    check_api,
    resolve,
)
from tap_commerce.transport import Transport, describe_response, network_reason

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from types import TracebackType

    from requests.auth import AuthBase
    from singer_sdk.helpers.capabilities import CapabilitiesEnum
    from typing_extensions import Self

try:
    VERSION = metadata.version("tap-commerce")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    VERSION = "0.0.0"


def api_taps() -> dict[str, type[TapCommerce]]:
    """The tap class of each API id."""
    from tap_commerce.apis import API_TAPS  # noqa: PLC0415 - the API modules import this one

    return API_TAPS


class TapCommerce(Tap):
    """Singer tap for five commerce REST APIs (storefront, payments, shop, digital, orders)."""

    name = "tap-commerce"
    package_name = "tap-commerce"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = BlockWriter
    #: singer-sdk's, less BATCH: `batch_config` is refused (see `settings.resolve`)
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        c for c in Tap.capabilities if c is not PluginCapabilities.BATCH
    ]

    #: set by each API's tap class
    profile: t.ClassVar[ApiProfile | None] = None
    endpoints: t.ClassVar[tuple[Endpoint, ...]] = ()
    stream_base: t.ClassVar[type[CommerceStream]] = CommerceStream
    child_base: t.ClassVar[type[ChildStream]] = ChildStream
    #: which settings hold the credentials, for the message of a 401/403
    credential_settings: t.ClassVar[str] = ""
    #: wait after a 429 that carries no Retry-After (None: exponential backoff)
    wait_for_429_without_retry_after: t.ClassVar[float | None] = None

    settings: Settings
    transport: Transport
    fanout: FanOut

    def __new__(cls, *_args: t.Any, **kwargs: t.Any) -> Self:
        """``TapCommerce(config=...)`` becomes the tap class of the configured API."""
        if cls is TapCommerce:
            parse_env = bool(kwargs.get("parse_env_config"))
            api_class = cls.api_class(kwargs.get("config"), parse_env=parse_env)
            if api_class is not None:
                # cls is TapCommerce here, so Self is too: an API's tap class is one
                return t.cast("Self", super().__new__(api_class))
        return super().__new__(cls)

    @classmethod
    def api_class(cls, config: object, *, parse_env: bool = False) -> type[TapCommerce] | None:
        """The tap class of the API that ``config`` (and the environment) names, if any."""
        if cls is not TapCommerce:
            return cls
        api = config.get("api") if isinstance(config, dict) else None
        if parse_env:
            api = os.environ.get(f"{cls._env_var_prefix}API", api)
        return api_taps().get(api) if isinstance(api, str) else None

    def __init__(self, **kwargs: t.Any) -> None:
        """singer-sdk's `Tap` (the same arguments), and the run's transport and pools."""
        self.started_at = datetime.now(timezone.utc)
        #: the ``version`` of this run's complete reads (ACTIVATE_VERSION): its start in ms
        self.run_version = int(self.started_at.timestamp() * 1000)
        self.redactor = redact.Redactor()
        super().__init__(**kwargs)  # validates the settings (see _validate_config)
        if hasattr(self, "settings"):  # absent only for discovery with wrong settings
            self.redactor.add(*self.settings.secrets)
            children = {e.name for e in self.endpoints if e.parent}
            quiet = redact.PerParentFilter(children, self.logger.name) if children else None
            redact.install(self.redactor, quiet)
            self.transport = Transport(
                self.settings,
                self.redactor,
                wait_for_429_without_retry_after=self.wait_for_429_without_retry_after,
            )
            self.fanout = FanOut(self.settings.max_concurrency)

    def flush_output(self) -> None:
        """Write out what the run's `BlockWriter` holds (streams call it when they end)."""
        writer = self.message_writer
        if isinstance(writer, BlockWriter):
            writer.flush()

    @property
    def api_id(self) -> str:
        """The id of this tap's API."""
        return t.cast("ApiProfile", self.profile).api_id

    # -- settings ----------------------------------------------------------------------

    @classproperty
    @override
    def _env_var_config(cls) -> dict[str, t.Any]:  # noqa: N805 - a classproperty: called with the class
        # singer-sdk rejects a fractional number from the environment and int()s integers
        # with a traceback on bad input; our own settings arrive as strings and
        # `settings.resolve` parses them with a proper message.
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        for name in OWN_SETTINGS:
            schema["properties"][name] = {"type": ["string", "null"]}
        return parse_environment_config(schema, cls._env_var_prefix)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate the settings of the chosen API; others are ignored.

        Discovery does not need credentials (``raise_errors`` is False there), but it
        does need a valid ``api``.
        """
        try:
            check_api(self._config)
            self.settings = resolve(self._config, t.cast("ApiProfile", self.profile), VERSION)
        except ConfigError as exc:
            if raise_errors or "'api'" in str(exc):
                raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
            self.logger.warning("%s", exc)
            return [str(exc)]
        builtin = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(builtin)
        builtin["properties"] = {
            k: v for k, v in builtin["properties"].items() if k not in OWN_SETTINGS
        }
        builtin.pop("required", None)
        errors = [
            f"setting '{'.'.join(map(str, e.path)) or e.validator}': {e.message}"
            for e in JSONSchemaValidator(builtin).iter_errors(self._config)
        ]
        if errors and raise_errors:
            raise ConfigValidationError(errors[0], errors=errors[:1])
        return errors

    # -- streams -----------------------------------------------------------------------

    @classmethod
    @functools.cache
    def stream_types(cls) -> list[type[CommerceStream]]:
        """One stream class per row of the API's table, children linked to parents."""
        by_name: dict[str, type[CommerceStream]] = {}
        for endpoint in cls.endpoints:
            base = cls.child_base if endpoint.parent else cls.stream_base
            attrs: dict[str, t.Any] = {"endpoint": endpoint, "__module__": cls.__module__}
            if endpoint.parent:
                attrs["parent_stream_type"] = by_name[endpoint.parent]
            title = "".join(part.title() for part in endpoint.name.split("_"))
            by_name[endpoint.name] = type(f"{cls.__name__}{title}Stream", (base,), attrs)
        return list(by_name.values())

    @override
    def discover_streams(self) -> list[CommerceStream]:
        """One stream per row of the API's table (`stream_types`)."""
        return [stream_type(self) for stream_type in self.stream_types()]

    # -- auth --------------------------------------------------------------------------

    @functools.cached_property
    def authenticator(self) -> AuthBase:
        """The run's one authenticator, shared by every stream and thread."""
        return self.make_authenticator()

    def make_authenticator(self) -> AuthBase:
        """The API's auth; every API tap class defines it."""
        raise NotImplementedError

    def auth_failure(self, stream: str, response: requests.Response) -> str:
        """The one line for a 401/403: the API, what it said, and the setting to check."""
        return (
            f"the {self.api_id} API refused the credentials for stream '{stream}' "
            f"({describe_response(response)}); check setting {self.credential_settings}"
        )

    # -- command line ------------------------------------------------------------------

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """singer-sdk's command, with failures reported as one line (no traceback).

        ``--state`` and ``--catalog`` take a path rather than an open file, so that a
        missing file is one line too (see `invoke`), not click's usage text.
        """
        command = super().get_singer_command()
        command.__class__ = _Command
        for param in command.params:
            if param.name in {"state", "catalog"}:
                param.type = click.Path(allow_dash=True)
        return command

    @classmethod
    @override
    def invoke(  # type: ignore[override]  # singer-sdk 0.54.9 takes open files; get_singer_command makes them paths
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        state: str | None = None,
        catalog: str | None = None,
    ) -> None:
        """singer-sdk's `Tap.invoke`, with the state and catalog files checked first.

        A file that is missing, not JSON or not the right shape, and a catalog stream the
        API does not have, stop the run with one line (`InputError`) before any request.
        """
        super(Tap, cls).invoke(about=about, about_format=about_format)
        config = config or _ConfigInput()
        state_dict = None if state is None else read_state_file(state)
        catalog_dict = None if catalog is None else read_catalog_file(catalog)
        api_class = cls.api_class(config.config, parse_env=config.parse_env)
        if catalog_dict is not None and api_class is not None:
            api_class.check_catalog_streams(catalog_dict, t.cast("str", catalog))
        cls.print_version(print_fn=cls.logger.info)
        tap = cls(
            config=config.config,
            state=state_dict,
            catalog=catalog_dict,
            parse_env_config=config.parse_env,
            validate_config=True,
        )
        tap.sync_all()

    @classmethod
    def check_catalog_streams(cls, catalog: dict[str, t.Any], source: str) -> None:
        """Every stream the catalog names is one of this API's.

        Raises:
            InputError: naming the unknown streams and the API's streams.
        """
        known = [endpoint.name for endpoint in cls.endpoints]
        ids = [entry["tap_stream_id"] for entry in catalog["streams"]]
        unknown = [stream for stream in ids if stream not in known]
        if unknown:
            names = ", ".join(f"'{name}'" for name in dict.fromkeys(unknown))
            which = "stream" if len(set(unknown)) == 1 else "streams"
            api = t.cast("ApiProfile", cls.profile).api_id
            msg = (
                f"{describe_file('catalog', source)} names {which} {names}, which the {api} API "
                f"does not have; its streams: {', '.join(known)}"
            )
            raise InputError(msg)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: singer-sdk's dry run (SCHEMA, one RECORD per stream and STATE on
        stdout), judged in one line on stderr: which URL answered, or which URL failed
        and how (exit 1). Other log lines are held back unless the log level is DEBUG.
        ``--test=schema`` is singer-sdk's own.
        """
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config: _ConfigInput = ctx.params.get("config", _ConfigInput())
        quiet = not cls.logger.isEnabledFor(logging.DEBUG)
        if quiet:
            logging.disable(logging.CRITICAL)
        try:
            tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True)
            passed, line = tap.test_connection()
        finally:
            if quiet:
                logging.disable(logging.NOTSET)
        if passed:
            cls.logger.info("%s", line)
            ctx.exit(0)
        cls.logger.error("%s", line)
        ctx.exit(1)

    def test_connection(self) -> tuple[bool, str]:
        """Run singer-sdk's connection test; whether it passed, and the line that says so."""
        probe = _Probe(self.transport, skip=self.config.get("token_url"))
        try:
            self.run_connection_test()
        except Exception as exc:  # noqa: BLE001 - any failure is the test's verdict
            return False, self._connection_failure(exc, probe)
        finally:
            self.flush_output()
        url = (probe.answered or self.settings.base_url).split("?", 1)[0]
        url = self.redactor(url)
        return True, f"connection test passed: the {self.api_id} API answered at {url}"

    def _connection_failure(self, exc: Exception, probe: _Probe) -> str:
        """``connection test failed: the <api> API at <url> <what happened>``, masked."""
        url, outcome = probe.last or (self.settings.base_url, None)
        gave_up = re.search(r"\(gave up after \d+ attempts\)$", str(exc))
        tries = f" {gave_up.group(0)}" if gave_up else ""
        if isinstance(outcome, requests.Response) and outcome.status_code in {401, 403}:
            failure = (
                f"refused the credentials ({describe_response(outcome)}); "
                f"check setting {self.credential_settings}"
            )
        elif (
            isinstance(outcome, requests.Response)
            and outcome.status_code >= HTTPStatus.MULTIPLE_CHOICES
        ):
            failure = f"answered {describe_response(outcome)}{tries}"
        elif isinstance(outcome, requests.RequestException | OSError):
            failure = f"did not answer: {network_reason(outcome)}{tries}"
        elif isinstance(exc, TapCommerceError):
            failure = f"answered, but {exc}"
        else:
            failure = f"answered, but {type(exc).__name__}: {exc}"
        line = f"connection test failed: the {self.api_id} API at {url} {failure}"
        return self.redactor(" ".join(line.split()))


class _Probe:
    """Wraps a run's `Transport.send` to remember, for the connection test, the first URL
    that answered (``skip``: an OAuth token URL) and the outcome of the last request (its
    response, or the exception it raised).
    """

    def __init__(self, transport: Transport, *, skip: str | None = None) -> None:
        self.answered: str | None = None
        self.last: tuple[str, requests.Response | BaseException] | None = None
        self._lock = threading.Lock()
        send = transport.send

        def probe_send(prepared: requests.PreparedRequest) -> requests.Response:
            url = prepared.url or ""
            try:
                response = send(prepared)
            except BaseException as exc:
                with self._lock:
                    self.last = (url, exc)
                raise
            with self._lock:
                self.last = (url, response)
                ok = response.status_code < HTTPStatus.MULTIPLE_CHOICES
                if self.answered is None and ok and url != skip:
                    self.answered = url
            return response

        transport.send = probe_send  # type: ignore[method-assign]  # this run's Transport, wrapped on purpose


@functools.cache
def _freeze_at_exit() -> None:
    """The interpreter's last garbage collections at exit walk every object left by
    singer-sdk's imports, about 0.1 s of a run; frozen, they are left to the operating
    system (objects are still finalised as their references go).
    """
    atexit.register(gc.freeze)


class _Command(SingerCommand):
    """singer-sdk's command; a config or input error is its one line, any failure one line.

    The hooks are set before the options are parsed, since ``--test`` and ``--discover``
    run as option callbacks, before `invoke`.
    """

    def _setup(self) -> None:
        _freeze_at_exit()
        logging.captureWarnings(capture=True)
        warnings.filterwarnings("once", category=DeprecationWarning)
        sys.excepthook = self.excepthook

    def _report(self, exc: ConfigValidationError | InputError) -> None:
        if isinstance(exc, ConfigValidationError):
            self.logger.error("%s", exc.errors[0] if exc.errors else exc)
        else:
            self.logger.error("%s", " ".join(str(exc).split()))

    @override
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        self._setup()
        try:
            return super().make_context(info_name, args, parent, **extra)
        except (ConfigValidationError, InputError) as exc:
            self._report(exc)
            raise click.exceptions.Exit(1) from None

    @override
    def invoke(self, ctx: click.Context) -> t.Any:
        self._setup()
        try:
            return click.Command.invoke(self, ctx)
        except (ConfigValidationError, InputError) as exc:
            self._report(exc)
            ctx.exit(1)

    @override
    def excepthook(
        self,
        exc_type: type[BaseException],
        exc_value: BaseException,
        exc_traceback: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc_value, exc_traceback)
            return
        if isinstance(exc_value, TapCommerceError):
            message = str(exc_value)
        else:
            message = f"{exc_type.__name__}: {exc_value}".strip()
        self.logger.error("%s", " ".join(message.split()))
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("traceback", exc_info=(exc_type, exc_value, exc_traceback))
