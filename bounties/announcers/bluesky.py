"""Bluesky through atproto's `Client`: an app-password session, kept per process, and a post with facets.

Logging in (`com.atproto.server.createSession`) is rate-limited per handle (30 per 5 minutes), so the
logged-in client is cached per process (`_sessions`, keyed by server and handle) and reused by every
announcer instance. atproto refreshes the access token itself shortly before it expires; when the server
still refuses the session (`ExpiredToken`, a revoked refresh token, `LoginRequiredError`), the call logs
in again with the app password and is made once more: the refused call did nothing, so repeating it is
safe.

A Bluesky post is plain text plus facets: the URL becomes a link facet and the hashtag a tag facet, each
addressed by *byte* offsets into the UTF-8 text (not characters), or the link lands in the wrong place
after any non-ASCII character. The limit is 300 graphemes.

There is no idempotency key (a fixed record key is no safe dedupe, see INTEGRATIONS.md), so `find` reads the
account's recent posts (`get_author_feed`) for one with the same text created since `since`; the provider
id is the post's `at://` URI.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from atproto import Client, models
from atproto_client.exceptions import (
    BadRequestError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from django.conf import settings

from bounties.announcers.base import (
    Announcer,
    PermanentError,
    Post,
    RateLimited,
    SendResult,
    TransientError,
)
from bounties.announcers.compose import normalise_hashtag

DEFAULT_BASE = "https://bsky.social"
# Bluesky's write limits are counted per hour; used when a 429 carries no reset time.
DEFAULT_WINDOW = timedelta(minutes=5)
FEED_PAGE = 50
_SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})

_sessions: dict[tuple[str, str], Client] = {}
_sessions_lock = threading.Lock()


def _session_refused(error: Exception) -> bool:
    """The server no longer accepts our session (as opposed to refusing the request itself)."""
    if isinstance(error, LoginRequiredError):
        return True
    if isinstance(error, (UnauthorizedError, BadRequestError)) and error.response is not None:
        return getattr(error.response.content, "error", None) in _SESSION_ERRORS
    return False


def _status(error: RequestErrorBase) -> int | None:
    return error.response.status_code if error.response is not None else None


def _byte_slice(text: str, start: int, end: int) -> models.AppBskyRichtextFacet.ByteSlice:
    """The UTF-8 byte range of `text[start:end]` (character offsets in, byte offsets out)."""
    byte_start = len(text[:start].encode("utf-8"))
    return models.AppBskyRichtextFacet.ByteSlice(
        byte_start=byte_start, byte_end=byte_start + len(text[start:end].encode("utf-8"))
    )


def facets_for(text: str, *, url: str, hashtag: str = "") -> list[models.AppBskyRichtextFacet.Main]:
    """A link facet over the (last) occurrence of `url` in `text`, and a tag facet over `hashtag`."""
    facets = []
    start = text.rfind(url) if url else -1
    if start >= 0:
        facets.append(
            models.AppBskyRichtextFacet.Main(
                features=[models.AppBskyRichtextFacet.Link(uri=url)],
                index=_byte_slice(text, start, start + len(url)),
            )
        )
    tag = normalise_hashtag(hashtag)
    start = text.rfind(tag) if tag else -1
    if start >= 0:
        facets.append(
            models.AppBskyRichtextFacet.Main(
                features=[models.AppBskyRichtextFacet.Tag(tag=tag[1:])],
                index=_byte_slice(text, start, start + len(tag)),
            )
        )
    return sorted(facets, key=lambda facet: facet.index.byte_start)


class BlueskyAnnouncer(Announcer):
    """Posts to the account `BLUESKY_HANDLE` with its app password, on `BLUESKY_API_BASE` (default bsky.social)."""

    name = "bluesky"
    limit = 300
    graphemes = True

    @property
    def _key(self) -> tuple[str, str]:
        return (getattr(settings, "BLUESKY_API_BASE", "") or DEFAULT_BASE, settings.BLUESKY_HANDLE)

    def _client(self, *, fresh: bool = False) -> Client:
        key = self._key
        with _sessions_lock:
            client = None if fresh else _sessions.get(key)
            if client is None:
                client = Client(base_url=key[0])
                self._mapped(client.login, key[1], settings.BLUESKY_APP_PASSWORD)
                _sessions[key] = client
            return client

    def _call(self, action):
        """`action(client)`, logging in again once if the session was refused."""
        try:
            return self._mapped(action, self._client())
        except _SessionRefused:
            pass
        try:
            return self._mapped(action, self._client(fresh=True))
        except _SessionRefused as error:
            raise PermanentError(f"Bluesky refused a fresh session: {error.__cause__}") from error

    def send(self, post: Post, *, key: str) -> SendResult:
        text = self.render(post)
        facets = facets_for(text, url=post.url, hashtag=post.hashtag)
        response = self._call(
            lambda client: client.send_post(text=text, facets=facets or None, profile_identify=_repo(client))
        )
        return SendResult(provider_id=response.uri)

    def find(self, post: Post, *, key: str, since: datetime) -> str | None:
        text = self.render(post)

        def look(client: Client) -> str | None:
            repo = _repo(client)
            feed = client.get_author_feed(actor=repo, filter="posts_no_replies", limit=FEED_PAGE)
            for item in feed.feed:
                record = item.post.record
                if item.reason is not None or repo not in (item.post.author.did, item.post.author.handle):
                    continue  # a repost, not our post
                if getattr(record, "text", None) != text:
                    continue
                created = _parse_time(getattr(record, "created_at", None))
                if created is None or created >= since - timedelta(seconds=1):
                    return item.post.uri
            return None

        return self._call(look)

    @staticmethod
    def _mapped(action, *args):
        try:
            return action(*args)
        except RateLimitExceededError as error:
            reset_at = error.reset_at or datetime.now(UTC) + DEFAULT_WINDOW
            raise RateLimited(reset_at, f"Bluesky rate limit: {error}") from error
        except NetworkError as error:  # transport failures, timeouts, and 409/413/502
            raise TransientError(f"Bluesky unreachable: {error}") from error
        except (LoginRequiredError, RequestErrorBase) as error:
            if _session_refused(error):
                raise _SessionRefused() from error
            status = _status(error) if isinstance(error, RequestErrorBase) else None
            if status is not None and status >= 500:
                raise TransientError(f"Bluesky server error: {error}") from error
            raise PermanentError(f"Bluesky refused: {error}") from error


class _SessionRefused(Exception):
    """The server refused the session (expired or revoked): log in again."""


def _repo(client: Client) -> str:
    """The account's DID (from the profile fetched at login), or its handle when the PDS had no profile."""
    return client.me.did if client.me else settings.BLUESKY_HANDLE


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def forget_sessions():
    """Drop every cached session (tests; or after changing the app password)."""
    with _sessions_lock:
        _sessions.clear()
