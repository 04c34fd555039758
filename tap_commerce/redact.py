"""The one redaction path: every log line of a run passes through `SecretFilter`.

singer-sdk and the libraries under it log request URLs on connection failures, at DEBUG
on every request, and in tracebacks (see the README's Reliability section). Rather than
chase each emitter, one filter sits on every handler of the root logger and rewrites the
final text of each record: known secret values (settings and access tokens learned during
the run) and anything shaped like a credential in a URL or header become ``***``.

The same handlers carry the run's other log filter, `PerParentFilter`, which moves
singer-sdk's per-parent chatter of child streams to DEBUG; `install` puts both in place.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

MASK = "***"
#: shorter values are not masked: they would mask ordinary text
MIN_SECRET_LENGTH = 4

# Credentials that may appear in text even when their value is not known to the filter.
_PATTERNS = (
    re.compile(
        r"(?i)([?&](?:api_key|apikey|access_token|token|client_secret|password)=)[^&\s'\"]+"
    ),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+"),
)


class Redactor:
    """Knows the secrets of a run and removes them from text."""

    def __init__(self) -> None:
        """No secrets yet (see `add`)."""
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        """Learn more secrets (settings at start-up, access tokens as they are issued)."""
        with self._lock:
            known = set(self._secrets)
            known.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
            # longest first, so a secret that contains another is masked whole
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        """Return ``text`` with every known secret and credential-shaped value masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text


class SecretFilter(logging.Filter):
    """Rewrites a log record's message and traceback text through a `Redactor`."""

    def __init__(self, redactor: Redactor) -> None:
        """Mask with ``redactor``."""
        super().__init__()
        self.redactor = redactor

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message, traceback and stack text; the record always passes."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record must still be logged, masked
            message = str(record.msg)
        record.msg, record.args = self.redactor(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


class PerParentFilter(logging.Filter):
    """Moves singer-sdk's per-partition INFO lines of child streams down to DEBUG.

    For every parent record (every shop product) and every child stream, singer-sdk logs
    "Beginning sync", a bookmark line, a pagination line and METRIC lines tagged with the
    parent's context: half a dozen lines per product and sub-resource, a quarter of a
    million for a store of 10,000 products. They are kept at DEBUG; what each stream
    did as a whole is still logged at INFO.
    """

    def __init__(self, child_streams: set[str], logger_prefix: str) -> None:
        """Quiet the streams ``child_streams``, whose loggers are ``<logger_prefix>.<name>``."""
        super().__init__()
        self.loggers = {f"{logger_prefix}.{name}" for name in child_streams}
        self.children = child_streams

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Pass a per-parent INFO line as DEBUG, or drop it when DEBUG is off."""
        if record.levelno != logging.INFO:
            return True
        if record.name in self.loggers:
            per_parent = True
        elif record.name == "singer_sdk.metrics":
            message = record.getMessage()
            per_parent = '"context":{"prd_id"' in message or "'context': {'prd_id'" in message
        else:
            return True
        if not per_parent:
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def install(redactor: Redactor, quiet: PerParentFilter | None = None) -> None:
    """Make ``redactor`` the one that filters every handler of the root logger, and
    ``quiet`` (if given) the one filter of per-parent chatter.

    A handler that already has a `SecretFilter` (an earlier run in this process) gets the
    new redactor, so the secrets and tokens of the current run are the ones masked.
    """
    for handler in logging.getLogger().handlers:
        existing = next((f for f in handler.filters if isinstance(f, SecretFilter)), None)
        if existing is None:
            handler.addFilter(SecretFilter(redactor))
        else:
            existing.redactor = redactor
        for old in [f for f in handler.filters if isinstance(f, PerParentFilter)]:
            handler.removeFilter(old)
        if quiet is not None:
            handler.addFilter(quiet)
