"""The one redaction path: every log line of a run passes through `SecretFilter`.

singer-sdk and the libraries under it log request URLs on connection failures, at DEBUG
on every request, and in tracebacks (see the README's Reliability section). Rather than
chase each emitter, one filter sits on every handler of the root logger and rewrites the
final text of each record: known secret values (settings and access tokens learned during
the run) and anything shaped like a credential in a URL or header become ``***``.

The same handlers carry the run's other log filter, `PerParentFilter`, which moves
singer-sdk's per-parent chatter of child streams to DEBUG; `install` puts both in place.
With DEBUG off that chatter is never built at all (`quiet_child_logger`,
`PerParentMetrics`): a store of 10,000 products would otherwise make, mask and drop a
quarter of a million log records.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import typing as t

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
    did as a whole is still logged at INFO, on the tap's logger. With DEBUG off the child
    streams' loggers stop at WARNING (`quiet_child_logger`), so the lines this filter
    would drop are never made; their METRIC lines go through `PerParentMetrics`.
    """

    def __init__(self, child_streams: set[str], logger_prefix: str) -> None:
        """Quiet the streams ``child_streams``, whose loggers are ``<logger_prefix>.<name>``."""
        super().__init__()
        self.loggers = {f"{logger_prefix}.{name}" for name in child_streams}

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Pass a child stream's INFO line as DEBUG, or drop it when DEBUG is off."""
        if record.levelno != logging.INFO or record.name not in self.loggers:
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_child_logger(logger: logging.Logger, parent: logging.Logger) -> None:
    """A child stream's ``logger`` (singer-sdk's per-parent lines, see `PerParentFilter`)
    stops at WARNING unless ``parent`` (the tap's logger) is at DEBUG.
    """
    logger.setLevel(logging.NOTSET if parent.isEnabledFor(logging.DEBUG) else logging.WARNING)


class PerParentMetrics(logging.Logger):
    """Where a child stream's METRIC lines go (one set per parent record): to singer-sdk's
    metrics logger as DEBUG lines, and nowhere, without being built, when DEBUG is off.

    singer-sdk's meters and `Stream._log_metric` log a point with ``logger.info``; this
    logger's ``info`` is its target's ``debug``.
    """

    def __init__(self, target: logging.Logger) -> None:
        """Log to ``target`` (singer-sdk's ``singer_sdk.metrics`` logger)."""
        super().__init__(target.name)
        self.target = target

    @override
    def info(self, msg: object, *args: object, **kwargs: t.Any) -> None:
        """``target.debug``: built only when the metrics logger is at DEBUG."""
        self.target.debug(msg, *args, **kwargs)


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
