"""A local fake of a Mastodon server's REST API, for driving Mastodon.py (`MASTODON_API_BASE`) in tests.

Wire format as Mastodon 4.x answers:

- `Authorization: Bearer <token>` on every request (401 `{"error": "The access token is invalid"}`);
- `POST /api/v1/statuses` (form-encoded `status`, `visibility`, …) → the Status; with an
  `Idempotency-Key` already used by this account (kept an hour, as Mastodon does) it returns the first
  status again and creates nothing; a text over 500 characters (links counted as 23) is a 422;
- `GET /api/v1/accounts/verify_credentials` → the account; `GET /api/v1/accounts/:id/statuses`
  (`since_id`, `limit`, `exclude_replies`, `exclude_reblogs`) → newest first;
- `GET /api/v1/instance`, `GET /api/v2/instance` (Mastodon.py's version checks, unused with
  `version_check_mode="none"`);
- status ids are snowflakes (milliseconds << 16), so Mastodon.py's datetime `since_id` works;
- content is HTML: `<p>`, links as `<a href>` with Mastodon's `invisible`/`ellipsis` spans, hashtags as
  `<a class="mention hashtag" rel="tag">`;
- every answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO 8601).

Controls (see tests/fakes/_http.py): `fail_next(503)`, `rate_limit_next(reset_at)`; `statuses` oldest first.
"""

from __future__ import annotations

import html
import itertools
import re
import time
from datetime import UTC, datetime, timedelta

from tests.fakes._http import FakeHTTPServer, RecordedRequest

TOKEN = "mastodon-test-token"
IDEMPOTENCY_SECONDS = 3600
_LINK = re.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?)\]'\"]*(?:\s|$))", re.IGNORECASE)
_TOKENS = re.compile(r"(https?://[^\s<>\"]+?(?=[.,;:!?)\]'\"]*(?:\s|$)))|(?<![\w#])#(\w+)", re.IGNORECASE)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeMastodon(FakeHTTPServer):
    """One Mastodon account's API on 127.0.0.1:<free port>."""

    thread_name = "fake-mastodon"

    def __init__(self, *, token: str = TOKEN, **kwargs):
        super().__init__(**kwargs)
        self.token = token
        self.statuses: list[dict] = []
        self._keys: dict[str, tuple[float, dict]] = {}
        self._sequence = itertools.count()
        self.account = {
            "id": "109000000000000001",
            "username": "fundfill",
            "acct": "fundfill",
            "display_name": "Fundfill",
            "locked": False,
            "bot": True,
            "created_at": "2024-01-01T00:00:00.000Z",
            "note": "",
            "url": "",
            "avatar": "",
            "header": "",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
            "emojis": [],
            "fields": [],
        }

    def start(self):
        self.account["url"] = f"{self.url}/@fundfill"
        return super().start()

    # --- wire format ----------------------------------------------------------------------------

    def rate_limit_headers(self, reset_at: datetime) -> dict[str, str]:
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": _iso(reset_at)}

    def error_body(self, status: int, message: str) -> dict:
        return {"error": message}

    def handle(self, request: RecordedRequest):
        status, body, headers = super().handle(request)
        if "X-RateLimit-Reset" not in headers:
            reset = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
            headers = {**self.rate_limit_headers(reset), "X-RateLimit-Remaining": "299", **headers}
        return status, body, headers

    def route(self, request: RecordedRequest):
        if request.header("Authorization") != f"Bearer {self.token}":
            return 401, self.error_body(401, "The access token is invalid"), {}
        path = request.path
        if request.method == "POST" and path == "/api/v1/statuses":
            return self._post(request)
        if request.method == "GET" and path == "/api/v1/accounts/verify_credentials":
            return 200, {**self.account, "source": {"privacy": "public", "note": "", "fields": []}}, {}
        match = re.fullmatch(r"/api/v1/accounts/(\w+)/statuses", path)
        if request.method == "GET" and match:
            return self._timeline(request, match.group(1))
        if request.method == "GET" and path in ("/api/v1/instance", "/api/v2/instance"):
            return 200, {"uri": "127.0.0.1", "title": "Fake", "version": "4.3.0", "domain": "127.0.0.1"}, {}
        return 404, self.error_body(404, "Record not found"), {}

    def _post(self, request: RecordedRequest):
        form = request.form
        text = form.get("status", "")
        key = request.header("Idempotency-Key")
        now = time.time()
        if key and key in self._keys and now - self._keys[key][0] < IDEMPOTENCY_SECONDS:
            return 200, self._keys[key][1], {}
        if not text.strip():
            return 422, self.error_body(422, "Validation failed: Text can't be blank"), {}
        if len(_LINK.sub("x" * 23, text)) > 500:
            return 422, self.error_body(422, "Validation failed: Text character limit of 500 exceeded"), {}
        status = self._status(text, form.get("visibility") or "public")
        self.statuses.append(status)
        self.account["statuses_count"] += 1
        if key:
            self._keys[key] = (now, status)
        return 200, status, {}

    def _status(self, text: str, visibility: str) -> dict:
        created = datetime.now(UTC)
        status_id = str((int(created.timestamp() * 1000) << 16) + next(self._sequence) % 65536)
        tags = [
            {"name": m.group(2).lower(), "url": f"{self.url}/tags/{m.group(2).lower()}"}
            for m in _TOKENS.finditer(text)
            if m.group(2)
        ]
        return {
            "id": status_id,
            "uri": f"{self.url}/users/fundfill/statuses/{status_id}",
            "url": f"{self.url}/@fundfill/{status_id}",
            "created_at": _iso(created),
            "account": dict(self.account),
            "content": self.render(text),
            "visibility": visibility,
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": [],
            "mentions": [],
            "tags": tags,
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "reblog": None,
            "poll": None,
            "card": None,
            "language": "en",
            "edited_at": None,
        }

    def render(self, text: str) -> str:
        """Mastodon's HTML for a plain-text status."""
        out = []
        position = 0
        for match in _TOKENS.finditer(text):
            out.append(html.escape(text[position : match.start()]))
            if match.group(1):
                url = match.group(1)
                scheme, rest = url.split("://", 1)
                shown, hidden = rest[:30], rest[30:]
                out.append(
                    f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
                    f'<span class="invisible">{scheme}://</span>'
                    f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                    f'<span class="invisible">{html.escape(hidden)}</span></a>'
                )
            else:
                tag = match.group(2)
                out.append(
                    f'<a href="{self.url}/tags/{tag.lower()}" class="mention hashtag" rel="tag">'
                    f"#<span>{html.escape(tag)}</span></a>"
                )
            position = match.end()
        out.append(html.escape(text[position:]))
        body = "".join(out).replace("\n", "<br />")
        return f"<p>{body}</p>"

    def _timeline(self, request: RecordedRequest, account_id: str):
        if account_id != self.account["id"]:
            return 404, self.error_body(404, "Record not found"), {}
        since = int(request.arg("since_id") or 0)
        limit = min(int(request.arg("limit") or 20), 40)
        chosen = [s for s in reversed(self.statuses) if int(s["id"]) > since][:limit]
        return 200, chosen, {}
