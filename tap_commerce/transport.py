"""The one request path of a run: pacing, sessions, retries, and what a failure says.

Every request of every stream and thread (the OAuth token request included) goes through
`Transport.call`, so there is one place where 429s, 5xx, dropped connections, timeouts and
unreadable bodies are retried, where ``Retry-After`` is honoured, and where the final
error line is written.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
import typing as t
from datetime import datetime, timezone
from decimal import Decimal
from http import HTTPStatus
from urllib.parse import urlsplit

import msgspec
import requests
from requests.utils import resolve_proxies
from singer_sdk.exceptions import RetriableAPIError

from tap_commerce.errors import ApiError
from tap_commerce.pacing import Pacer

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_commerce.progress import Progress
    from tap_commerce.redact import Redactor
    from tap_commerce.settings import Settings

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE_ERRORS = (
    RetriableAPIError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)

_decoder = msgspec.json.Decoder(float_hook=Decimal)

logger = logging.getLogger("tap-commerce")

T = t.TypeVar("T")


def decode_json(content: bytes) -> t.Any:
    """Decode a JSON body, keeping every decimal number exact (as `Decimal`).

    Raises:
        ValueError: if the body is not JSON.
    """
    try:
        return _decoder.decode(content)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


class InvalidBodyError(RetriableAPIError):
    """A 2xx whose body is not JSON (a proxy page, a cut-off body): worth another try."""


class Transport:
    """Pacing, per-thread sessions and retries shared by everything one run sends."""

    def __init__(
        self,
        settings: Settings,
        redactor: Redactor,
        *,
        wait_for_429_without_retry_after: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """The transport of a run with ``settings``; messages are masked by ``redactor``.

        ``wait_for_429_without_retry_after``: the wait after a 429 that gives no
        ``Retry-After`` (None: the exponential backoff); ``sleep`` waits (tests pass theirs).
        """
        self.settings = settings
        self.redact = redactor
        self.pacer = Pacer(settings.requests_per_second, sleep=sleep)
        self._sleep = sleep
        self._local = threading.local()
        self._wait_429 = wait_for_429_without_retry_after
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}

    # -- sessions ---------------------------------------------------------------------

    def session(self) -> requests.Session:
        """This thread's session (requests' sessions are not thread-safe)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send one request, paced; redirects are not followed (see README). The request
        (and a 429 answer) is counted for the stream this thread is calling for (`call`).
        """
        self.pacer.acquire()
        with self._count_lock:
            self.requests_sent += 1
        progress: Progress | None = getattr(self._local, "progress", None)
        if progress is not None:
            progress.sent()
        session = self.session()
        response = session.send(
            prepared,
            timeout=self.settings.request_timeout,
            allow_redirects=False,
            proxies=self._proxies_for(prepared, session),
        )
        if progress is not None and response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            progress.met_429()
        return response

    def _proxies_for(
        self, prepared: requests.PreparedRequest, session: requests.Session
    ) -> dict[str, str]:
        """The proxies for the request's origin (``HTTPS_PROXY``, ``NO_PROXY``…), looked up
        once per origin: requests would read the environment again for every request.
        """
        origin = urlsplit(prepared.url or "")[:2]
        proxies = self._proxies.get(origin)
        if proxies is None:
            proxies = self._proxies[origin] = resolve_proxies(
                prepared, dict(session.proxies), session.trust_env
            )
        return proxies

    # -- retries ----------------------------------------------------------------------

    def call(self, attempt: Callable[[], T], *, label: str, progress: Progress | None = None) -> T:
        """Run ``attempt`` until it succeeds, retrying what the contract says to retry.

        Every request sent meanwhile on this thread (every try, and a token request the
        authenticator makes on the way) is counted in ``progress``, the tracker of the
        stream it is sent for; a nested call without one counts in the outer one's.

        Raises:
            ApiError: after the last try, with one line naming ``label``, the status and
                the API's own message.
        """
        if progress is None:
            return self._call(attempt, label)
        local = self._local
        outer = getattr(local, "progress", None)
        local.progress = progress
        try:
            return self._call(attempt, label)
        finally:
            local.progress = outer

    def _call(self, attempt: Callable[[], T], label: str) -> T:
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except RETRYABLE_ERRORS as exc:
                problem = self.describe(exc)
                if tries > self.settings.max_retries:
                    msg = f"{label}: {problem} (gave up after {tries} attempts)"
                    raise ApiError(msg) from None
                wait = self.wait_before_retry(exc, tries)
                logger.warning(
                    "%s: %s; retry %d of %d in %.2f s",
                    label,
                    problem,
                    tries,
                    self.settings.max_retries,
                    wait,
                )
                self._sleep(wait)

    def wait_before_retry(self, exc: BaseException, tries: int) -> float:
        """``Retry-After`` if the API sent one, else exponential backoff; always capped."""
        cap = self.settings.max_retry_wait
        response = getattr(exc, "response", None)
        if response is not None:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            if after is None and response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
                after = self._wait_429
            if after is not None:
                wait = min(after, cap)
                if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
                    # the whole run holds off, not just this thread
                    self.pacer.hold(wait)
                return wait
        backoff: float = self.settings.backoff_factor * 2 ** (tries - 1)
        return min(backoff * random.uniform(0.75, 1.25), cap)  # noqa: S311 - jitter, not crypto

    # -- messages ---------------------------------------------------------------------

    def describe(self, exc: BaseException) -> str:
        """One line saying what went wrong with a request, secrets masked."""
        response = getattr(exc, "response", None)
        if isinstance(exc, InvalidBodyError) and response is not None:
            return (
                f"{self.where(response.request)} answered {response.status_code} with a body "
                f"that is not valid JSON ({exc})"
            )
        if response is not None:
            return f"{self.where(response.request)} answered {describe_response(response)}"
        request = getattr(exc, "request", None)
        return f"{self.where(request)} failed: {self.redact(network_reason(exc))}"

    def where(self, request: requests.PreparedRequest | None) -> str:
        """``METHOD url`` of a request, secrets masked."""
        if request is None:
            return "a request"
        return f"{request.method} {self.redact(request.url or '')}"


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def describe_response(response: requests.Response) -> str:
    """``<status> <reason>: <the API's own message>`` for an error response."""
    status = f"{response.status_code} {response.reason or ''}".strip()
    message = api_message(response)
    return f"{status}: {message}" if message else status


def api_message(response: requests.Response) -> str:
    """The API's own error text, whichever of the common error shapes it uses.

    Gateway errors may be HTML pages: their title (or first text) is quoted instead.
    """
    text = response.text or ""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts: list[str] = []
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            parts += [
                str(first.get(k)) for k in ("errorId", "message", "longMessage") if first.get(k)
            ]
        nested = body.get("error")
        if isinstance(nested, dict):  # {"error": {"code": 404, "message": "…"}}
            parts += [str(nested[k]) for k in ("code", "type", "message") if nested.get(k)]
        for key in ("type", "error", "code", "message", "error_description", "details"):
            value = body.get(key)
            if value not in (None, "", []) and not isinstance(value, (dict, list)):
                parts.append(str(value))
        if parts:
            return _one_line(" - ".join(dict.fromkeys(parts)))
    title = _TITLE.search(text)
    if title:
        return _one_line(title.group(1))
    return _one_line(re.sub(r"<[^>]+>", " ", text))


def network_reason(exc: BaseException) -> str:
    """The innermost reason of a connection-level failure, without the URL noise."""
    seen = exc
    while True:
        inner = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if inner is None or inner is seen or not isinstance(inner, BaseException):
            break
        seen = inner
    text = str(seen) or type(seen).__name__
    return _one_line(f"{type(exc).__name__}: {text}")


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
