"""What one run shares across its streams and threads, in one object.

A stream gets the `RunContext` when it is made and takes from it what every stream of the
run uses: the definition, the settings, the transport (pacing, retries), the fan-out pool,
the authenticators, the writer, the run's version and start, the redactor and the tap's
logger. Nothing reaches into the tap.
"""

from __future__ import annotations

import threading
import typing as t
from datetime import datetime, timezone

from tap_commerce import auth, redact
from tap_commerce.transport import describe_response

if t.TYPE_CHECKING:
    import logging

    import requests
    from requests.auth import AuthBase

    from tap_commerce.definition import AuthSpec, Definition
    from tap_commerce.fanout import FanOut
    from tap_commerce.output import BlockWriter
    from tap_commerce.settings import Settings
    from tap_commerce.transport import Transport


class NotReadyError(RuntimeError):
    """Something a sync needs was asked for before the settings were valid."""


class RunContext:
    """The shared state of one run (see the module docstring)."""

    def __init__(self, definition: Definition | None, logger: logging.Logger) -> None:
        """A run of ``definition`` (None until the settings name one), logging on the
        tap's ``logger``; it is ready once `start` is called.
        """
        self._definition = definition
        self.logger = logger
        self.started_at = datetime.now(timezone.utc)
        self.redactor = redact.Redactor()
        #: the run's Singer writer (None if it is not ours)
        self.writer: BlockWriter | None = None
        self._settings: Settings | None = None
        self._transport: Transport | None = None
        self._fanout: FanOut | None = None
        #: the ``store`` setting, known before the rest validates (it shapes discovery)
        self.store: str | None = None
        self._auths: dict[int, AuthBase | None] = {}
        self._lock = threading.Lock()

    @property
    def definition(self) -> Definition:
        """The API's definition (its settings filled in once the run has started)."""
        return _ready(self._definition, "definition")

    @definition.setter
    def definition(self, value: Definition) -> None:
        self._definition = value

    @property
    def version(self) -> int:
        """The ``version`` of this run's complete reads (ACTIVATE_VERSION): its start in ms."""
        return int(self.started_at.timestamp() * 1000)

    @property
    def api(self) -> str:
        """The API's name, for messages."""
        return self._definition.name if self._definition else "unknown"

    def start(
        self, settings: Settings, definition: Definition, transport: Transport, fanout: FanOut
    ) -> None:
        """The run is ready: valid settings, the definition with them filled in, and the
        pieces made from them.
        """
        self._settings, self._definition = settings, definition
        self._transport, self._fanout = transport, fanout

    @property
    def ready(self) -> bool:
        """Whether the settings were valid (`start` was called)."""
        return self._settings is not None

    @property
    def settings(self) -> Settings:
        """The run's validated settings."""
        return _ready(self._settings, "settings")

    @property
    def transport(self) -> Transport:
        """The run's one request path."""
        return _ready(self._transport, "transport")

    @property
    def fanout(self) -> FanOut:
        """The run's pool for child lists."""
        return _ready(self._fanout, "fan-out pool")

    def flush_output(self) -> None:
        """Write out what the run's writer holds (streams call it when they end)."""
        if self.writer is not None:
            self.writer.flush()

    def authenticator(self, spec: AuthSpec | None) -> AuthBase | None:
        """The one authenticator of an auth of the definition, made once and shared by
        every stream and thread (None: no auth).
        """
        if spec is None:
            return None
        key = id(spec)
        with self._lock:
            if key not in self._auths:
                check = self.credential_hint("token_url")
                self._auths[key] = auth.make(
                    spec, self.settings, self.transport, self.redactor, check
                )
            return self._auths[key]

    def credential_hint(self, *more: str) -> str:
        """The settings a user should check after a 401/403 (and ``more``), quoted."""
        found = dict.fromkeys([*self.definition.credential_settings(), *more])
        names = [f"'{name}'" for name in found]
        if not names:
            return "the definition's client.auth"
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    def auth_failure(self, stream: str, response: requests.Response) -> str:
        """The one line for a 401/403: the API, what it said, and the setting to check."""
        return (
            f"the {self.api} API refused the credentials for stream '{stream}' "
            f"({describe_response(response)}); check setting {self.credential_hint()}"
        )


T = t.TypeVar("T")


def _ready(value: T | None, what: str) -> T:
    if value is None:
        msg = f"the run's {what} is not ready: the settings did not validate"
        raise NotReadyError(msg)
    return value
