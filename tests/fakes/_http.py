"""What the announcement fakes (x_server, mastodon_server, bluesky_server) share: a threaded HTTP server on
127.0.0.1:<free port> that records every request and can be told how to answer the next ones.

A subclass implements `route(request) -> (status, body, headers)` in its provider's wire format and
`error_body(status, message)` in the provider's error shape. The controls:

- `fail_next(status, ..., headers=..., body=...)`: answer the next matching request(s) with an error
  before doing anything (5xx, or any provider-specific refusal);
- `rate_limit_next(reset_at, ...)`: a 429 with the provider's rate-limit headers (`rate_limit_headers`);
- `hold_next(...)`: do what the next matching request asks, then keep its answer back until
  `release_holds()` (a client killed meanwhile never learns that its post exists); `held()` lists them;
- `requests` / `calls(method, path)`: what arrived, in order (each with its arrival time, `at`).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    """One request as the fake saw it, and how it answered."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, list[str]]
    body: bytes
    status: int | None = None
    response: object = None
    at: float = field(default_factory=time.time)  # when it arrived (epoch seconds)
    held: bool = False  # its answer was kept back (`hold_next`)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        content_type = self.header("Content-Type") or ""
        if "json" in content_type:
            return self.json or {}
        return {
            key: values[-1] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()
        }


@dataclass
class _Rule:
    status: int
    method: str | None
    path: str | None
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None
    remaining: int = 1

    def matches(self, request: RecordedRequest) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == request.method)
            and (self.path is None or request.path.startswith(self.path))
        )


@dataclass
class _Hold:
    method: str | None
    path: str | None
    seconds: float
    remaining: int = 1

    def matches(self, request: RecordedRequest) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == request.method)
            and (self.path is None or request.path.startswith(self.path))
        )


class FakeHTTPServer:
    """Base of the announcement fakes; use as a context manager (`with FakeX() as fake: ... fake.url`)."""

    thread_name = "fake-http"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0):
        self.requests: list[RecordedRequest] = []
        self._rules: list[_Rule] = []
        self._holds: list[_Hold] = []
        self._released = threading.Event()
        self._lock = threading.RLock()
        self._server = _Server((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- test controls --------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 503,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int = 1,
        headers: dict[str, str] | None = None,
        body: object = None,
        message: str = "",
    ):
        """Answer the next `count` requests matching `method`/`path` (a prefix) with `status`."""
        if body is None:
            body = self.error_body(status, message or _REASONS.get(status, "Error"))
        with self._lock:
            self._rules.append(_Rule(status, method, path, dict(headers or {}), body, count))

    def rate_limit_next(self, reset_at: datetime, *, method: str | None = None, path: str | None = None):
        """Answer the next matching request with a 429 whose headers say the window resets at `reset_at`."""
        self.fail_next(429, method=method, path=path, headers=self.rate_limit_headers(reset_at))

    def hold_next(
        self, *, method: str | None = None, path: str | None = None, count: int = 1, seconds: float = 20.0
    ):
        """Handle the next `count` matching requests as usual, but send each answer only at `release_holds()`
        (or after `seconds`): the provider has done it, the client does not know yet."""
        with self._lock:
            self._released.clear()
            self._holds.append(_Hold(method, path, seconds, count))

    def release_holds(self):
        """Send every held answer now and hold nothing more."""
        with self._lock:
            self._holds.clear()
            self._released.set()

    def held(self) -> list[RecordedRequest]:
        """The requests whose answers were (or are being) kept back, in order."""
        with self._lock:
            return [r for r in self.requests if r.held]

    def _take_hold(self, request: RecordedRequest) -> _Hold | None:
        with self._lock:
            for hold in self._holds:
                if hold.matches(request):
                    hold.remaining -= 1
                    request.held = True
                    return hold
        return None

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        """The requests to `method path` (a prefix), in order, answered or not."""
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path)]

    # --- for subclasses -------------------------------------------------------------------------

    def rate_limit_headers(self, reset_at: datetime) -> dict[str, str]:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> object:
        return {"error": message}

    def route(self, request: RecordedRequest) -> tuple[int, object, dict[str, str]]:
        raise NotImplementedError

    def handle(self, request: RecordedRequest) -> tuple[int, object, dict[str, str]]:
        with self._lock:
            for rule in self._rules:
                if rule.matches(request):
                    rule.remaining -= 1
                    return rule.status, rule.body, rule.headers
            return self.route(request)


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):  # a client that died (or was killed): no traceback
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' and httpx's pools expect

    def _serve(self):
        fake: FakeHTTPServer = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            headers=dict(self.headers.items()),
            query=parse_qs(parts.query, keep_blank_values=True),
            body=body,
        )
        with fake._lock:
            fake.requests.append(request)
        try:
            status, payload, headers = fake.handle(request)
        except Exception as exc:  # a bug in the fake shows as a 500 naming it, not a hung client
            status, payload, headers = 500, {"error": f"fake crashed: {exc!r}"}, {}
        request.status, request.response = status, payload
        hold = fake._take_hold(request)
        if hold is not None:
            fake._released.wait(hold.seconds)
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format, *args):  # quiet: tests read `requests` instead
        pass
