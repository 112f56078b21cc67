"""A local fake of X's API v2, for driving `tweepy.Client` (through `TWITTER_API_BASE`) in tests.

Wire format as X answers (late 2026):

- every request must carry an OAuth 1.0a user-context `Authorization: OAuth oauth_consumer_key=…,
  oauth_token=…, oauth_signature=…` header (401 otherwise). The signature is not verified: tweepy signs
  the original https://api.twitter.com URL, not this fake's;
- `POST /2/tweets` `{"text": …}` → 201 `{"data": {"id", "text", "edit_history_tweet_ids"}}`; every link is
  replaced by a `https://t.co/…` link in the stored text, as X does, and `&<>` come back HTML-escaped;
  the same text as one of the account's tweets is X's duplicate-content 403
  (`{"detail": "You are not allowed to create a Tweet with duplicate content.", ...}`);
- `GET /2/users/me` → the account; `GET /2/users/:id/tweets` (`max_results`, `start_time`,
  `tweet_fields=created_at,entities`, `exclude`) → newest first, `entities.urls` with `expanded_url`;
- errors in X's problem shape `{"title", "detail", "type", "status"}`; a 429 carries
  `x-rate-limit-limit`, `x-rate-limit-remaining: 0` and `x-rate-limit-reset` (epoch seconds), no Retry-After.

Controls (see tests/fakes/_http.py): `fail_next(503)`, `rate_limit_next(reset_at)`,
`duplicate_next()`; `tweets` is the account's timeline, oldest first.
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
from datetime import UTC, datetime

from tests.fakes._http import FakeHTTPServer, RecordedRequest

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
USER = {"id": "1460000000000000001", "name": "Fundfill", "username": "fundfill"}
_LINK = re.compile(r"https?://[^\s]+?(?=[.,;:!?)\]'\"]*(?:\s|$))", re.IGNORECASE)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeX(FakeHTTPServer):
    """X's API v2 for one account, on 127.0.0.1:<free port>."""

    thread_name = "fake-x"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tweets: list[dict] = []
        self._ids = itertools.count(1860000000000000001)

    # --- controls -------------------------------------------------------------------------------

    def duplicate_next(self):
        """Refuse the next `POST /2/tweets` as duplicate content, whatever its text."""
        self.fail_next(403, method="POST", path="/2/tweets", body=self.error_body(403, DUPLICATE_DETAIL))

    def add_tweet(self, text: str, *, created_at: datetime | None = None) -> dict:
        """A tweet the account posted (by any means), as X stores it."""
        with self._lock:
            tweet_id = str(next(self._ids))
            urls = []
            stored = ""
            position = 0
            for match in _LINK.finditer(text):
                stored += text[position : match.start()]
                short = f"https://t.co/{secrets.token_urlsafe(7)[:10]}"
                urls.append(
                    {
                        "start": len(stored),
                        "end": len(stored) + len(short),
                        "url": short,
                        "expanded_url": match.group(),
                        "display_url": match.group().split("://", 1)[1][:26],
                    }
                )
                stored += short
                position = match.end()
            stored += text[position:]
            tweet = {
                "id": tweet_id,
                "text": stored,
                "edit_history_tweet_ids": [tweet_id],
                "created_at": _iso(created_at or datetime.now(UTC)),
                "author_id": USER["id"],
                "_original": text,
            }
            if urls:
                tweet["entities"] = {"urls": urls}
            self.tweets.append(tweet)
            return tweet

    # --- wire format ----------------------------------------------------------------------------

    def rate_limit_headers(self, reset_at: datetime) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(reset_at.timestamp())),
        }

    def error_body(self, status: int, message: str) -> dict:
        titles = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}
        return {
            "title": titles.get(status, "Service Unavailable" if status >= 500 else "Invalid Request"),
            "detail": message,
            "type": "about:blank",
            "status": status,
        }

    def route(self, request: RecordedRequest):
        auth = request.header("Authorization") or ""
        if not (
            auth.startswith("OAuth ")
            and all(p in auth for p in ("oauth_consumer_key=", "oauth_token=", "oauth_signature="))
        ):
            return 401, self.error_body(401, "Unauthorized"), {}
        if request.method == "POST" and request.path == "/2/tweets":
            return self._create(request)
        if request.method == "GET" and request.path == "/2/users/me":
            return 200, {"data": dict(USER)}, {}
        match = re.fullmatch(r"/2/users/(\d+)/tweets", request.path)
        if request.method == "GET" and match:
            return self._timeline(request, match.group(1))
        return 404, self.error_body(404, f"no route {request.method} {request.path}"), {}

    def _create(self, request: RecordedRequest):
        text = (request.json or {}).get("text", "")
        if not text.strip():
            return 400, self.error_body(400, "text must not be empty"), {}
        if any(tweet["_original"] == text for tweet in self.tweets):
            return 403, self.error_body(403, DUPLICATE_DETAIL), {}
        tweet = self.add_tweet(text)
        body = {"id": tweet["id"], "text": html.escape(tweet["text"], quote=False)}
        body["edit_history_tweet_ids"] = tweet["edit_history_tweet_ids"]
        return 201, {"data": body}, {}

    def _timeline(self, request: RecordedRequest, user_id: str):
        if user_id != USER["id"]:
            return 200, {"meta": {"result_count": 0}}, {}
        fields = set((request.arg("tweet.fields") or "").split(","))
        start = request.arg("start_time")
        limit = int(request.arg("max_results") or 10)
        chosen = [
            t for t in reversed(self.tweets) if not start or t["created_at"] >= start.replace("Z", ".000Z")
        ]
        chosen = chosen[:limit]
        data = []
        for tweet in chosen:
            item = {
                "id": tweet["id"],
                "text": html.escape(tweet["text"], quote=False),
                "edit_history_tweet_ids": tweet["edit_history_tweet_ids"],
            }
            if "created_at" in fields:
                item["created_at"] = tweet["created_at"]
            if "entities" in fields and "entities" in tweet:
                item["entities"] = tweet["entities"]
            data.append(item)
        if not data:
            return 200, {"meta": {"result_count": 0}}, {}
        meta = {"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        return 200, {"data": data, "meta": meta}, {}
