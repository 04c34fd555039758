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
import sys
import typing as t
import warnings
from datetime import datetime, timezone
from importlib import metadata

import click
from singer_sdk import Tap
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.plugin_base import JSONSchemaValidator, SingerCommand

from tap_commerce import redact
from tap_commerce.client import ChildStream, CommerceStream, Endpoint
from tap_commerce.errors import TapCommerceError
from tap_commerce.fanout import FanOut
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
from tap_commerce.transport import Transport, describe_response

if t.TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase

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

    def __new__(cls, *args: t.Any, **kwargs: t.Any) -> TapCommerce:  # noqa: ARG004
        """``TapCommerce(config=...)`` becomes the tap class of the configured API."""
        if cls is TapCommerce:
            config = kwargs.get("config")
            api = config.get("api") if isinstance(config, dict) else None
            if kwargs.get("parse_env_config"):
                api = os.environ.get(f"{cls._env_var_prefix}API", api)
            cls = api_taps().get(api, cls)  # noqa: PLW0642
        return super().__new__(cls)

    def __init__(self, **kwargs: t.Any) -> None:
        self.started_at = datetime.now(timezone.utc)
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

    def sync_all(self) -> None:
        """Sync every selected stream; what is written is flushed however the sync ends."""
        try:
            super().sync_all()
        finally:
            writer = self.message_writer
            if isinstance(writer, BlockWriter):
                writer.flush()

    @property
    def api_id(self) -> str:
        """The id of this tap's API."""
        return t.cast("ApiProfile", self.profile).api_id

    # -- settings ----------------------------------------------------------------------

    @classproperty
    def _env_var_config(cls) -> dict[str, t.Any]:  # noqa: N805
        # singer-sdk rejects a fractional number from the environment and int()s integers
        # with a traceback on bad input; our own settings arrive as strings and
        # `settings.resolve` parses them with a proper message.
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        for name in OWN_SETTINGS:
            schema["properties"][name] = {"type": ["string", "null"]}
        return parse_environment_config(schema, cls._env_var_prefix)

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

    def discover_streams(self) -> list[CommerceStream]:  # noqa: D102
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
    def get_singer_command(cls) -> click.Command:
        """singer-sdk's command, with failures reported as one line (no traceback)."""
        command = super().get_singer_command()
        command.__class__ = _Command
        return command


@functools.cache
def _freeze_at_exit() -> None:
    """The interpreter's last garbage collections at exit walk every object left by
    singer-sdk's imports, about 0.1 s of a run; frozen, they are left to the operating
    system (objects are still finalised as their references go)."""
    atexit.register(gc.freeze)


class _Command(SingerCommand):
    """singer-sdk's command; a config error is its one line, any failure one line."""

    def invoke(self, ctx: click.Context) -> t.Any:  # noqa: ANN401, D102
        _freeze_at_exit()
        logging.captureWarnings(capture=True)
        warnings.filterwarnings("once", category=DeprecationWarning)
        sys.excepthook = self.excepthook
        try:
            return click.Command.invoke(self, ctx)
        except ConfigValidationError as exc:
            self.logger.error("%s", exc.errors[0] if exc.errors else exc)  # noqa: TRY400
            ctx.exit(1)

    def excepthook(self, exc_type, exc_value, exc_traceback) -> None:  # noqa: ANN001, D102
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

