"""The HTTP side: one threading HTTP/1.1 server, and the pipeline every API request goes
through (admin bypass, latency, injected faults, rate limits, the API, the request log).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from .ratelimit import Limiter, retry_after_value
from .requestlog import LoggedRequest, RequestLog
from .wire import JSON_TYPE, Headers, Request, Response, json_response

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .apis import Api
    from .faults import Fault, FaultInjector

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_admin"

_GATEWAY_PAGE = """<!DOCTYPE html>
<html><head><title>{status} {phrase}</title></head>
<body><center><h1>{status} {phrase}</h1></center><hr><center>sandbox-gateway</center></body>
</html>
"""
# What a misconfigured proxy or maintenance page sends with a 200 and a JSON content type.
_NOT_JSON = b"<html><body><h1>Down for maintenance</h1><p>Back soon.</p></body></html>\n"


def gateway_error(status: int) -> Response:
    """502/503/504 as a gateway sends them: an HTML page, not the API's JSON."""
    page = _GATEWAY_PAGE.format(status=status, phrase=HTTPStatus(status).phrase)
    return Response(status, page.encode(), [("Content-Type", "text/html; charset=utf-8")])


class App:
    """Turns one parsed HTTP request into a response; owns no sockets."""

    def __init__(
        self,
        apis: list[Api],
        admin: Callable[[str, str, list[tuple[str, str]], bytes], Response],
        *,
        faults: FaultInjector,
        limiters: Mapping[str, Limiter],
        requests: RequestLog,
        stopping: threading.Event,
        latency: float = 0.0,
        time_scale: float = 1.0,
    ) -> None:
        """Serve ``apis`` and ``admin`` (the ``/_admin/`` endpoints) through ``faults`` and
        ``limiters``, logging to ``requests``; ``stopping`` is set when the sandbox stops.
        """
        # Longest prefix first, so no prefix shadows a longer one.
        self.apis = sorted(apis, key=lambda api: len(api.prefix), reverse=True)
        self.admin = admin
        self.faults = faults
        self.limiters = dict(limiters)
        self.requests = requests
        self.stopping = stopping
        self.latency = latency
        self.time_scale = time_scale

    def _api_for(self, path: str) -> Api | None:
        for api in self.apis:
            if path == api.prefix or path.startswith(api.prefix + "/"):
                return api
        return None

    def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the sandbox stops."""
        self.stopping.wait(seconds)

    @staticmethod
    def _call(api: Api, request: Request) -> Response:
        try:
            return api.handle(request)
        except Exception:  # a sandbox bug must look like a server error, not hang a client
            log.exception("sandbox %s API failed on %s", api.name, request.path)
            return api.internal_error()

    def _faulty(self, fault: Fault, api: Api, request: Request) -> Response | None:
        """The response a fault produces (``None``: drop the connection)."""
        kind = fault.kind
        if kind == "429":
            return api.too_many_requests(
                [("Retry-After", retry_after_value(self.time_scale, self.time_scale))]
            )
        if kind == "429-no-retry-after":
            return api.too_many_requests()
        if kind == "500":
            return api.internal_error()
        if kind in ("502", "503", "504"):
            return gateway_error(int(kind))
        if kind == "invalid-json":
            return Response(200, _NOT_JSON, [("Content-Type", JSON_TYPE)])
        if kind == "drop":
            return None
        response = self._call(api, request)
        if kind == "truncated":
            return Response(
                200, response.body[: max(1, len(response.body) // 2)], [("Content-Type", JSON_TYPE)]
            )
        if kind != "slow":
            msg = f"unknown fault kind {kind!r}"
            raise ValueError(msg)
        self._sleep(fault.slow_seconds)
        return response

    def _answer(
        self, api: Api, request: Request, path: str
    ) -> tuple[Response | None, Fault | None, bool]:
        """Latency first; then an injected fault, else the rate limit, else the API itself.
        Returns the response, the fault that fired and whether the limiter refused.
        """
        if self.latency:
            self._sleep(self.latency)
        fault = self.faults.decide(api.name, path)
        if fault is not None:
            return self._faulty(fault, api, request), fault, False
        limiter = self.limiters.get(api.name)
        throttle = limiter.check() if limiter else None
        if throttle is not None:
            return api.too_many_requests(throttle), None, True
        return self._call(api, request), None, False

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes, host: str
    ) -> Response | None:
        """Answer one request (``None``: drop the connection without a response)."""
        started, clock = time.time(), time.perf_counter()
        split = urlsplit(target)
        path, query = split.path, parse_qsl(split.query, keep_blank_values=True)
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return self.admin(method, path, query, body)
        api = self._api_for(path)
        response: Response | None
        if api is None:
            response = json_response(404, {"error": f"No API is served under {path}"})
            fault, limited = None, False
        else:
            below = path[len(api.prefix) :] or "/"
            request = Request(method, below, query, headers, body, f"http://{host}")
            response, fault, limited = self._answer(api, request, path)
        self.requests.append(
            LoggedRequest(
                time=started,
                method=method,
                path=path,
                query=dict(reversed(query)),  # the first value of a repeated name wins
                query_items=tuple(query),
                headers=headers,
                api=api.name if api else None,
                status=response.status if response else None,
                fault=fault.kind if fault else None,
                rate_limited=limited,
                duration=time.perf_counter() - clock,
            )
        )
        return response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    server_version = "tap-commerce-sandbox"
    sys_version = ""
    # Head and body go out in one write; without this, Nagle + delayed ACK can still add
    # 40 ms to a small response on some stacks.
    disable_nagle_algorithm = True
    server: SandboxServer

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        headers = Headers(self.headers.items())
        host = headers.get("Host") or self.server.authority
        try:
            body = self._read_body()
            response = self.server.app.handle(self.command, self.path, headers, body, host)
        except Exception:
            log.exception("sandbox failed on %s %s", self.command, self.path)
            self.close_connection = True
            response = json_response(500, {"error": "sandbox internal error"})
        if response is None:
            self._drop()
        else:
            self._send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _send(self, response: Response) -> None:
        status = response.status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers]
        lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + response.body)
        except OSError:  # the client gave up (e.g. timed out on a slow response)
            self.close_connection = True
            return
        if response.after is not None and not self.close_connection:
            try:
                response.after()
            except Exception:  # only an optimisation; the next request does the work
                log.exception("sandbox: warming the next page failed")

    def _drop(self) -> None:
        """Close the connection without a byte of response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    @override
    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request log records traffic."""


class SandboxServer(ThreadingHTTPServer):
    """The threading HTTP/1.1 server of a sandbox, answering through its `App`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        """Listen on ``address`` (port 0: a free one) and answer with ``app``."""
        super().__init__(address, _Handler)
        self.app = app
        name, port = self.server_address[:2]
        #: ``host:port`` listened on: what a request without a ``Host`` header reached
        self.authority = f"{name.decode() if isinstance(name, bytes | bytearray) else name}:{port}"
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    @override
    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        """Track the connection (see `close_connections`), then serve it in a thread."""
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    @override
    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        """Forget the connection, then close it."""
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    @override
    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        """A client hanging up mid-request is normal here (timeouts, drills): stay quiet."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        log.exception("sandbox: error while serving %s", client_address)  # noqa: LOG004 - called from socketserver's except block

    def close_connections(self) -> None:
        """Wake threads idling on kept-alive connections, so stopping leaves none behind."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
