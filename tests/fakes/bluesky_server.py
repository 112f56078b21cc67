"""A local fake of a Bluesky PDS's XRPC API, for driving atproto's `Client` (`BLUESKY_API_BASE`) in tests.

Wire format as a PDS answers (`/xrpc/<nsid>`, JSON, errors `{"error": <name>, "message": …}`):

- `POST com.atproto.server.createSession` `{identifier, password}` → `{did, handle, accessJwt, refreshJwt,
  active}`, with no `didDoc`, so the client stays on this fake rather than switching PDS;
  a wrong password is 401 `AuthenticationRequired`;
- `POST com.atproto.server.refreshSession` with `Authorization: Bearer <refreshJwt>` → new tokens;
- every other call needs `Authorization: Bearer <accessJwt>`; an unknown or expired token is 400
  `ExpiredToken` (as a PDS answers), a missing one 401;
- `GET app.bsky.actor.getProfile?actor=` (atproto's `login` fetches it), `POST com.atproto.repo.createRecord`
  (`app.bsky.feed.post` records are stored and validated: text at most 300 graphemes, facets' byte ranges
  inside the UTF-8 text) → `{uri, cid}`, `GET app.bsky.feed.getAuthorFeed?actor=&limit=&filter=` →
  `{feed: [{post: PostView}]}`, newest first;
- a 429 is `RateLimitExceeded` with `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` (epoch
  seconds) and `ratelimit-policy` headers.

Tokens are unsigned JWTs whose `exp` the client reads to refresh early. Controls (tests/fakes/_http.py):
`fail_next(500)`, `rate_limit_next(reset_at)`; `expire_sessions()` invalidates every token (the client
must log in again); `access_lifetime` (seconds) sets how long a new access token lasts. `posts` are the
stored records, oldest first.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from datetime import UTC, datetime

from tests.fakes._http import FakeHTTPServer, RecordedRequest

HANDLE = "fundfill.test"
DID = "did:plc:fundfillfakeaccount0001"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _graphemes(text: str) -> int:
    try:
        import regex

        return len(regex.findall(r"\X", text))
    except ImportError:  # pragma: no cover
        return len(text)


class FakeBluesky(FakeHTTPServer):
    """One Bluesky account's PDS on 127.0.0.1:<free port>."""

    thread_name = "fake-bluesky"

    def __init__(self, *, handle: str = HANDLE, password: str = APP_PASSWORD, **kwargs):
        super().__init__(**kwargs)
        self.account_handle = handle
        self.password = password
        self.access_lifetime = 2 * 3600
        self.posts: list[dict] = []
        self._access: dict[str, float] = {}  # token → expiry (epoch)
        self._refresh: set[str] = set()
        self._rkeys = itertools.count(1)

    # --- controls -------------------------------------------------------------------------------

    def expire_sessions(self):
        """Every access and refresh token stops working (the account must log in again)."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def xrpc_calls(self, nsid: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == f"/xrpc/{nsid}"]

    # --- wire format ----------------------------------------------------------------------------

    def rate_limit_headers(self, reset_at: datetime) -> dict[str, str]:
        return {
            "ratelimit-limit": "5000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(int(reset_at.timestamp())),
            "ratelimit-policy": "5000;w=3600",
        }

    def error_body(self, status: int, message: str) -> dict:
        names = {429: "RateLimitExceeded", 401: "AuthenticationRequired", 400: "InvalidRequest"}
        return {
            "error": names.get(status, "InternalServerError" if status >= 500 else "InvalidRequest"),
            "message": message,
        }

    def _tokens(self) -> dict:
        now = time.time()
        access_exp = int(now + self.access_lifetime)
        access = ".".join(
            [
                _b64({"typ": "at+jwt", "alg": "ES256K"}),
                _b64(
                    {
                        "scope": "com.atproto.appPass",
                        "sub": DID,
                        "iat": int(now),
                        "exp": access_exp,
                        "aud": "did:web:fake",
                    }
                ),
                "c2ln",
            ]
        )
        refresh = ".".join(
            [
                _b64({"typ": "refresh+jwt", "alg": "ES256K"}),
                _b64(
                    {
                        "scope": "com.atproto.refresh",
                        "sub": DID,
                        "iat": int(now),
                        "exp": int(now + 90 * 86400),
                        "jti": secrets.token_hex(8),
                    }
                ),
                "c2ln",
            ]
        )
        self._access[access] = access_exp
        self._refresh.add(refresh)
        return {
            "did": DID,
            "handle": self.account_handle,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": True,
        }

    def _bearer(self, request: RecordedRequest) -> str | None:
        auth = request.header("Authorization") or ""
        return auth[7:] if auth.startswith("Bearer ") else None

    def route(self, request: RecordedRequest):
        nsid = request.path.removeprefix("/xrpc/")
        if nsid == "com.atproto.server.createSession" and request.method == "POST":
            body = request.json or {}
            if (
                body.get("identifier") not in (self.account_handle, DID)
                or body.get("password") != self.password
            ):
                return (
                    401,
                    {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                    {},
                )
            return 200, self._tokens(), {}
        token = self._bearer(request)
        if nsid == "com.atproto.server.refreshSession" and request.method == "POST":
            if token not in self._refresh:
                return 400, {"error": "ExpiredToken", "message": "Token has been revoked"}, {}
            self._refresh.discard(token)
            return 200, self._tokens(), {}
        if token is None:
            return 401, {"error": "AuthenticationRequired", "message": "Authentication Required"}, {}
        if self._access.get(token, 0) < time.time():
            return 400, {"error": "ExpiredToken", "message": "Token has expired"}, {}
        if nsid == "app.bsky.actor.getProfile" and request.method == "GET":
            return 200, self._profile(detailed=True), {}
        if nsid == "com.atproto.repo.createRecord" and request.method == "POST":
            return self._create(request.json or {})
        if nsid == "app.bsky.feed.getAuthorFeed" and request.method == "GET":
            return self._feed(request)
        return 501, {"error": "MethodNotImplemented", "message": f"Method Not Implemented: {nsid}"}, {}

    def _profile(self, *, detailed: bool = False) -> dict:
        profile = {
            "did": DID,
            "handle": self.account_handle,
            "displayName": "Fundfill",
            "createdAt": "2024-01-01T00:00:00.000Z",
        }
        if detailed:
            profile.update({"followersCount": 0, "followsCount": 0, "postsCount": len(self.posts)})
        return profile

    def _create(self, body: dict):
        record = body.get("record") or {}
        if body.get("repo") not in (DID, self.account_handle):
            return 400, {"error": "InvalidRequest", "message": "Input/repo must be this account"}, {}
        if body.get("collection") != "app.bsky.feed.post" or record.get("$type") != "app.bsky.feed.post":
            return 400, {"error": "InvalidRequest", "message": "Only app.bsky.feed.post records here"}, {}
        text = record.get("text", "")
        if _graphemes(text) > 300:
            return (
                400,
                {
                    "error": "InvalidRequest",
                    "message": "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
                },
                {},
            )
        size = len(text.encode("utf-8"))
        for facet in record.get("facets") or ():
            index = facet.get("index") or {}
            if not 0 <= index.get("byteStart", -1) < index.get("byteEnd", -1) <= size:
                return 400, {"error": "InvalidRequest", "message": "Invalid facet byte range"}, {}
        rkey = f"3l{next(self._rkeys):011d}"
        uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
        cid = "bafyrei" + base64.b32encode(secrets.token_bytes(32)).decode().lower().rstrip("=")[:52]
        self.posts.append({"uri": uri, "cid": cid, "record": record, "indexedAt": _iso(datetime.now(UTC))})
        return (
            200,
            {"uri": uri, "cid": cid, "commit": {"cid": cid, "rev": rkey}, "validationStatus": "valid"},
            {},
        )

    def _feed(self, request: RecordedRequest):
        if request.arg("actor") not in (DID, self.account_handle):
            return 400, {"error": "InvalidRequest", "message": "Profile not found"}, {}
        limit = min(int(request.arg("limit") or 50), 100)
        feed = [
            {
                "post": {
                    "uri": post["uri"],
                    "cid": post["cid"],
                    "author": self._profile(),
                    "record": post["record"],
                    "indexedAt": post["indexedAt"],
                    "replyCount": 0,
                    "repostCount": 0,
                    "likeCount": 0,
                    "quoteCount": 0,
                    "labels": [],
                }
            }
            for post in reversed(self.posts)
        ][:limit]
        return 200, {"feed": feed}, {}
