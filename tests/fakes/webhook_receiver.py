"""A local webhook receiver for tests: records every request and answers what the test asks.

It listens on 127.0.0.1 (a free port) in a thread. By default it answers 204; `answer_next`
queues answers (status, headers, body) for the next requests, one each, so a test can make a
receiver say 410 Gone, 429 with Retry-After, or 500 once and then accept. `on_request`, when
set, is called with each request before it is answered (in the server's thread), so a test
can act while the sender waits for its answer.

    with WebhookReceiver() as receiver:
        endpoint.url = receiver.url + "/hooks/"
        receiver.answer_next(500)
        ...
        received = receiver.requests[0]
        Webhook(secret).verify(received.body, received.headers)
"""

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self):
        self.requests: list[Received] = []
        self._answers: deque[tuple[int, dict, bytes]] = deque()
        self._lock = threading.Lock()
        self.on_request = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received = Received("POST", self.path, dict(self.headers.items()), body)
                with receiver._lock:
                    receiver.requests.append(received)
                    status, headers, text = (
                        receiver._answers.popleft() if receiver._answers else (204, {}, b"")
                    )
                if receiver.on_request:
                    receiver.on_request(received)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                if text:
                    self.wfile.write(text)

            def log_message(self, format, *args):  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer_next(self, status: int, headers: dict | None = None, body: bytes = b""):
        """The next request not yet answered gets this answer (queued: call it once per request)."""
        with self._lock:
            self._answers.append((status, headers or {}, body))

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
