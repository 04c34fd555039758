"""`tap-commerce`: the entry module. Settings → a definition → a tap.

`TapCommerce` is the one tap every API runs on. ``TapCommerce(config=...)`` (and the
command) resolves the ``api`` setting (a built-in definition) or the ``definition``
setting (a user's, which may extend a built-in) to a subclass made from that definition
(`tap_class`), whose streams are made from its resources. The tap declares every setting,
validates them into `Settings` and the definition (one readable line per mistake, before
any request), and builds the `RunContext` its streams share: the transport (pacing,
retries), the authenticators, the fan-out pool, the writer and the redaction filter.
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
from http import HTTPStatus
from importlib import metadata
from pathlib import Path

import click
import requests
from singer_sdk import Tap
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.plugin_base import JSONSchemaValidator, SingerCommand, _ConfigInput
from singer_sdk.tap_base import CliTestOptionValue

from tap_commerce import infer, loader, redact
from tap_commerce.children import ChildStream
from tap_commerce.client import CommerceStream
from tap_commerce.definition import DefinitionError
from tap_commerce.errors import InputError, TapCommerceError
from tap_commerce.fanout import FanOut
from tap_commerce.inputs import describe_file, read_catalog_file, read_state_file
from tap_commerce.output import BlockWriter
from tap_commerce.run import RunContext
from tap_commerce.settings import (
    CONFIG_SCHEMA,
    OWN_SETTINGS,
    ConfigError,
    Settings,
    check_api,
    check_store,
    resolve,
)
from tap_commerce.store import add_to_catalog
from tap_commerce.transport import Transport, describe_response, network_reason

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from types import TracebackType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum
    from singer_sdk.singerlib import Catalog
    from typing_extensions import Self

    from tap_commerce.definition import Definition, Resource

try:
    VERSION = metadata.version("tap-commerce")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    VERSION = "0.0.0"


def load_definition(config: t.Mapping[str, t.Any]) -> Definition:
    """The definition a config names: ``definition`` (a path, YAML/JSON text or an
    object), else the built-in ``api``.

    Raises:
        ConfigError: ``api`` missing or unknown.
        DefinitionError: the definition is not valid.
    """
    api = check_api(config)
    given = config.get("definition")
    if given in (None, ""):
        return loader.builtin(t.cast("str", api))
    if isinstance(given, str) and given.lstrip().startswith("{"):
        given = loader.parse_text(given, "in setting 'definition'")
    if not isinstance(given, str | dict):
        msg = "setting 'definition' must be a path to a YAML or JSON file, or an object"
        raise ConfigError(msg)
    return loader.load(given, api=api)


@functools.cache
def _builtin_class(api: str) -> type[TapCommerce]:
    return _make_class(loader.builtin(api))


def _make_class(definition: Definition) -> type[TapCommerce]:
    """A tap class for a definition (``Payments`` for the built-in payments)."""
    title = "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", definition.name) if part)
    return type(title or "Api", (TapCommerce,), {"definition": definition, "__module__": __name__})


def tap_class(config: object, *, parse_env: bool = False) -> type[TapCommerce] | None:
    """The tap class of the API that ``config`` (and the environment) names, if it names
    a valid one: a built-in's (made once), or one made from the user's definition.
    """
    if not isinstance(config, dict):
        config = {}
    if parse_env:
        prefix = TapCommerce._env_var_prefix  # noqa: SLF001 - singer-sdk's prefix of setting variables
        config = {
            **config,
            **{
                name: os.environ[f"{prefix}{name.upper()}"]
                for name in ("api", "definition")
                if f"{prefix}{name.upper()}" in os.environ
            },
        }
    try:
        if config.get("definition") in (None, ""):
            api = check_api(config)
            return None if api is None else _builtin_class(api)
        return _make_class(load_definition(config))
    except (ConfigError, DefinitionError):
        return None  # the tap's settings validation says what is wrong, in one line


class TapCommerce(Tap):
    """Singer tap for commerce REST APIs described by definitions (five built in)."""

    name = "tap-commerce"
    package_name = "tap-commerce"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = BlockWriter
    #: singer-sdk's, less BATCH: `batch_config` is refused (see `settings.resolve`)
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        c for c in Tap.capabilities if c is not PluginCapabilities.BATCH
    ]

    #: the API this tap class reads (set on the class `tap_class` makes)
    definition: t.ClassVar[Definition | None] = None

    run: RunContext
    #: why the settings did not validate (discovery goes on without them)
    _settings_error = "the settings did not validate"

    def __new__(cls, *_args: t.Any, **kwargs: t.Any) -> Self:
        """``TapCommerce(config=...)`` becomes the tap class of the configured API."""
        if cls is TapCommerce:
            parse_env = bool(kwargs.get("parse_env_config"))
            api_class = tap_class(kwargs.get("config"), parse_env=parse_env)
            if api_class is not None:
                # cls is TapCommerce here, so Self is too: an API's tap class is one
                return t.cast("Self", super().__new__(api_class))
        return super().__new__(cls)

    def __init__(self, **kwargs: t.Any) -> None:
        """singer-sdk's `Tap` (the same arguments), and the run's shared context."""
        self.run = RunContext(self.definition, self.logger)
        super().__init__(**kwargs)  # validates the settings (see _validate_config)
        writer = self.message_writer
        self.run.writer = writer if isinstance(writer, BlockWriter) else None

    @property
    def settings(self) -> Settings:
        """The run's validated settings."""
        return self.run.settings

    @property
    def transport(self) -> Transport:
        """The run's one request path."""
        return self.run.transport

    @property
    def fanout(self) -> FanOut:
        """The run's fan-out pool."""
        return self.run.fanout

    @property
    def api_id(self) -> str:
        """The name of this tap's API."""
        return self.run.api

    def flush_output(self) -> None:
        """Write out what the run's writer holds."""
        self.run.flush_output()

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
        """Validate the settings and the definition of the chosen API (others' settings
        are ignored), and get the run ready.

        Discovery of a definition whose schemas are given does not need credentials
        (``raise_errors`` is False there), but it does need a valid ``api`` or
        ``definition``.
        """
        try:
            # the store shapes every schema and key, discovery included: checked first
            self.run.store = check_store(self._config)
        except ConfigError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
        try:
            chosen = self.definition or load_definition(self._config)
            self.run.definition = chosen
            settings, bound = resolve(self._config, chosen, VERSION)
        except DefinitionError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
        except ConfigError as exc:
            if raise_errors or self.definition is None:
                raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
            self.logger.warning("%s", exc)
            self._settings_error = str(exc)
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
        self._start_run(settings, bound)
        return errors

    @property
    @override
    def input_catalog(self) -> Catalog | None:
        """singer-sdk's, with the store in every stream's schema and key when the
        ``store`` setting is set (`tap_commerce.store.add_to_catalog`).
        """
        catalog = super().input_catalog
        if catalog is not None and self.run.store is not None and not self._store_added:
            add_to_catalog(catalog, self.run.store)
            self._store_added = True
        return catalog

    _store_added = False

    def _start_run(self, settings: Settings, bound: Definition) -> None:
        run = self.run
        run.redactor.add(*settings.secrets)
        children = {r.name for r in bound.resources if r.parent}
        quiet = redact.PerParentFilter(children, self.logger.name) if children else None
        redact.install(run.redactor, quiet)
        wait_429 = bound.wait_after_429
        transport = Transport(settings, run.redactor, wait_for_429_without_retry_after=wait_429)
        run.start(settings, bound, transport, FanOut(settings.max_concurrency))

    # -- streams -----------------------------------------------------------------------

    @classmethod
    @functools.cache
    def stream_types(cls) -> list[type[CommerceStream]]:
        """One stream class per resource of the definition, children linked to parents."""
        definition = t.cast("Definition", cls.definition)
        made: dict[str, type[CommerceStream]] = {}
        for resource in definition.resources:
            if resource.parent is None:
                made[resource.name] = _stream_class(resource, None, cls.__name__)
        for resource in definition.resources:
            if resource.parent is not None:
                parent = made[resource.parent.resource]
                made[resource.name] = _stream_class(resource, parent, cls.__name__)
        return [made[r.name] for r in definition.resources]

    @override
    def discover_streams(self) -> list[CommerceStream]:
        """One stream per resource, each with its schema: the definition's file, else the
        input catalog's, else inferred from the first records (`tap_commerce.infer`).
        """
        streams: dict[str, CommerceStream] = {}
        for stream_type in self.stream_types():
            resource = stream_type.resource
            schema, inferred = self._schema_of(resource, streams)
            streams[resource.name] = stream_type(
                self, run=self.run, schema=schema, inferred=inferred
            )
        for stream in streams.values():
            parent = stream.resource.parent
            if parent is not None:
                streams[parent.resource].child_context.update(parent.context)
        return list(streams.values())

    def _schema_of(
        self, resource: Resource, made: dict[str, CommerceStream]
    ) -> tuple[dict[str, t.Any], bool]:
        """A resource's schema, and whether it was inferred."""
        if isinstance(resource.schema, Path):
            return _schema_file(resource.schema, self.run.definition.source, resource.where), False
        catalog = self.input_catalog
        entry = catalog.get_stream(resource.name) if catalog is not None else None
        if entry is not None and entry.schema.properties:
            return entry.schema.to_dict(), True
        if not self.run.ready:
            msg = (
                f"stream '{resource.name}' has no schema in its definition, and inferring one "
                f"reads the API: {self._settings_error}"
            )
            raise ConfigValidationError(msg, errors=[msg])
        parent = made.get(resource.parent.resource) if resource.parent else None
        records = infer.sample(self, resource, parent, self.run, self.settings.schema_sample_size)
        return infer.schema(records, resource), True

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
        api_class = tap_class(config.config, parse_env=config.parse_env)
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
        definition = t.cast("Definition", cls.definition)
        known = definition.stream_names
        ids = [entry["tap_stream_id"] for entry in catalog["streams"]]
        unknown = [stream for stream in ids if stream not in known]
        if unknown:
            names = ", ".join(f"'{name}'" for name in dict.fromkeys(unknown))
            which = "stream" if len(set(unknown)) == 1 else "streams"
            api = definition.name
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
        token_urls = [
            self.settings.token_url or auth.value("access_token_url")
            for auth in self.run.definition.auths()
            if auth.type == "oauth2_client_credentials"
        ]
        probe = _Probe(self.transport, skip=token_urls[0] if token_urls else None)
        try:
            self.run_connection_test()
        except Exception as exc:  # noqa: BLE001 - any failure is the test's verdict
            return False, self._connection_failure(exc, probe)
        finally:
            self.flush_output()
        url = (probe.answered or self.settings.base_url).split("?", 1)[0]
        url = self.run.redactor(url)
        return True, f"connection test passed: the {self.api_id} API answered at {url}"

    def _connection_failure(self, exc: Exception, probe: _Probe) -> str:
        """``connection test failed: the <api> API at <url> <what happened>``, masked."""
        url, outcome = probe.last or (self.settings.base_url, None)
        gave_up = re.search(r"\(gave up after \d+ attempts\)$", str(exc))
        tries = f" {gave_up.group(0)}" if gave_up else ""
        if isinstance(outcome, requests.Response) and outcome.status_code in {401, 403}:
            failure = (
                f"refused the credentials ({describe_response(outcome)}); "
                f"check setting {self.run.credential_hint()}"
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
        return self.run.redactor(" ".join(line.split()))


def _stream_class(
    resource: Resource, parent: type[CommerceStream] | None, prefix: str
) -> type[CommerceStream]:
    """The stream class of a resource (a `ChildStream` when it has a parent)."""
    title = "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", resource.name) if part)
    attrs: dict[str, t.Any] = {"resource": resource, "__module__": __name__}
    base: type[CommerceStream] = CommerceStream
    if parent is not None:
        attrs["parent_stream_type"] = parent
        base = ChildStream
    return type(f"{prefix}{title}Stream", (base,), attrs)


def _schema_file(path: Path, source: str, where: str) -> dict[str, t.Any]:
    """A schema file's content, read once a process (each stream gets its own copy: a
    kept field is added to it).
    """
    return copy.deepcopy(_read_schema_file(path, source, where))


@functools.cache
def _read_schema_file(path: Path, source: str, where: str) -> dict[str, t.Any]:
    return loader.load_schema_file(path, source, where)


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
