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
- `GET /2/tweets/search/recent` (app-only: `Authorization: Bearer <token>`, 401 otherwise) over `posts`,
  other people's posts added with `add_post`: `query` is a group of OR'ed terms — `url:"host"` (a link
  to that host), `#tag`, or a word — with `-is:retweet` ignored; `since_id`, `max_results` (10–100),
  `next_token`, `tweet.fields`, `expansions=author_id`, `user.fields`; only the last 7 days (an older
  `since_id` is X's 400); newest first, as X answers:
  `data`, `includes.users`, `meta.newest_id/oldest_id/result_count/next_token`
  (`{"meta": {"result_count": 0}}` when nothing matches);
- errors in X's problem shape `{"title", "detail", "type", "status"}`; a 429 carries
  `x-rate-limit-limit`, `x-rate-limit-remaining: 0` and `x-rate-limit-reset` (epoch seconds), no Retry-After.

Controls (see tests/fakes/_http.py): `fail_next(503)`, `rate_limit_next(reset_at)`,
`duplicate_next()`; `tweets` is the account's timeline, oldest first; `add_post` adds to `posts`,
the other people's posts recent search sees (`rate_limit_next(reset_at, path="/2/tweets/search/recent")`
for its 429).
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
import zlib
from datetime import UTC, datetime, timedelta

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
        self.posts: list[dict] = []
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

    def add_post(self, text: str, *, username: str, links: tuple[str, ...] = (), created_at=None) -> dict:
        """Someone's post that recent search finds: `links` are its URLs (X shortens each to t.co)."""
        with self._lock:
            post_id = str(next(self._ids))
            user_id = str(1_000_000 + zlib.crc32(username.encode()))  # one id per username, every run
            stored, urls = text, []
            for link in links:
                short = f"https://t.co/{secrets.token_urlsafe(7)[:10]}"
                start = len(stored) + 1
                stored = f"{stored} {short}"
                urls.append({"start": start, "end": start + len(short), "url": short, "expanded_url": link})
            post = {
                "id": post_id,
                "text": stored,
                "edit_history_tweet_ids": [post_id],
                "created_at": _iso(created_at or datetime.now(UTC)),
                "author_id": user_id,
                "_user": {"id": user_id, "name": username.title(), "username": username},
            }
            if urls:
                post["entities"] = {"urls": urls}
            self.posts.append(post)
            return post

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
        if request.method == "GET" and request.path == "/2/tweets/search/recent":
            if not (auth.startswith("Bearer ") and auth[7:].strip()):
                return 401, self.error_body(401, "Unauthorized"), {}
            return self._search(request)
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

    def _search(self, request: RecordedRequest):
        query = request.arg("query") or ""
        if not query.strip() or len(query) > 512:
            return 400, self.error_body(400, "query must be 1 to 512 characters"), {}
        limit = int(request.arg("max_results") or 10)
        if not 10 <= limit <= 100:
            return 400, self.error_body(400, "max_results must be between 10 and 100"), {}
        terms = [t.strip() for t in re.sub(r"-is:retweet", "", query).strip().strip("()").split(" OR ")]
        since_id = int(request.arg("since_id") or 0)
        window_start = _iso(datetime.now(UTC) - timedelta(days=7))
        known = {p["id"]: p for p in self.posts}
        if since_id and str(since_id) in known and known[str(since_id)]["created_at"] < window_start:
            message = f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id created after {window_start}."
            return 400, self.error_body(400, message), {}
        chosen = [
            p
            for p in reversed(self.posts)
            if int(p["id"]) > since_id
            and p["created_at"] >= window_start
            and any(_matches(p, t) for t in terms)
        ]
        start = int(request.arg("next_token") or 0)
        page = chosen[start : start + limit]
        if not page:
            return 200, {"meta": {"result_count": 0}}, {}
        fields = set((request.arg("tweet.fields") or "").split(","))
        data = []
        for post in page:
            item = {"id": post["id"], "text": html.escape(post["text"], quote=False)}
            item["edit_history_tweet_ids"] = post["edit_history_tweet_ids"]
            for name in ("created_at", "author_id", "entities"):
                if name in fields and name in post:
                    item[name] = post[name]
            data.append(item)
        body = {"data": data}
        if "author_id" in (request.arg("expansions") or "").split(","):
            users = {p["author_id"]: p["_user"] for p in page}
            body["includes"] = {"users": list(users.values())}
        meta = {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data)}
        if start + limit < len(chosen):
            meta["next_token"] = str(start + limit)
        body["meta"] = meta
        return 200, body, {}


def _matches(post: dict, term: str) -> bool:
    """X's matching of one query term, as far as recent search's operators here go."""
    text = post["text"].lower()
    if term.startswith('url:"') and term.endswith('"'):
        host = term[5:-1].lower()
        return any(host in link["expanded_url"].lower() for link in post.get("entities", {}).get("urls", ()))
    if term.startswith("#"):
        return re.search(rf"(?<!\w){re.escape(term.lower())}(?!\w)", text) is not None
    return term.lower() in text
