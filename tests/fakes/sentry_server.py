"""A local Sentry ingest endpoint: accepts what sentry-sdk sends and keeps the events for the test to read.

It speaks the envelope protocol (POST /api/<project>/envelope/, gzip or plain body: one JSON header
line, then for each item a JSON item header line and its payload, `length` bytes or up to the next
newline) and answers 200 with the event id, as Sentry does. Point the SDK at it with the DSN
`http://<key>@127.0.0.1:<port>/<project>` (`fake.dsn`).

    with FakeSentry() as sentry:
        env["SENTRY_DSN"] = sentry.dsn
        ...
        [event] = sentry.wait_for_events(1)
"""

from __future__ import annotations

import gzip
import json
import re
import time

from tests.fakes._http import FakeHTTPServer, RecordedRequest

KEY = "fundfill-public-key"
PROJECT = "1"
ENVELOPE_PATH = re.compile(r"^/api/(?P<project>\d+)/envelope/$")


def parse_envelope(body: bytes) -> tuple[dict, list[tuple[dict, bytes]]]:
    """(envelope header, [(item header, payload), ...]) of a serialized envelope."""
    header_line, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item = json.loads(item_line)
        if "length" in item:
            payload, rest = rest[: item["length"]], rest[item["length"] :]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item, payload))
    return json.loads(header_line), items


class FakeSentry(FakeHTTPServer):
    thread_name = "fake-sentry"

    @property
    def dsn(self) -> str:
        return self.url.replace("http://", f"http://{KEY}@") + f"/{PROJECT}"

    def route(self, request: RecordedRequest):
        match = ENVELOPE_PATH.match(request.path)
        if request.method != "POST" or not match:
            return 404, {"detail": "not found"}, {}
        if match["project"] != PROJECT or f"sentry_key={KEY}" not in (request.header("X-Sentry-Auth") or ""):
            return 403, {"detail": "invalid project or key"}, {}
        header, _ = parse_envelope(self.body_of(request))
        return 200, {"id": header.get("event_id")}, {}

    @staticmethod
    def body_of(request: RecordedRequest) -> bytes:
        if (request.header("Content-Encoding") or "").lower() == "gzip":
            return gzip.decompress(request.body)
        return request.body

    def events(self) -> list[dict]:
        """Every error event received, in order (sessions, transactions and the like left out)."""
        found = []
        for request in self.calls("POST", "/api/"):
            if request.status == 200:
                _, items = parse_envelope(self.body_of(request))
                found.extend(json.loads(payload) for item, payload in items if item.get("type") == "event")
        return found

    def wait_for_events(self, count: int, timeout: float = 20.0) -> list[dict]:
        """The events once `count` have come (the SDK sends from a background thread), or fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(events := self.events()) >= count:
                return events
            time.sleep(0.05)
        raise AssertionError(f"Sentry received {len(self.events())} event(s), not {count}")
