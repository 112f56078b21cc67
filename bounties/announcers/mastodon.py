"""Mastodon through Mastodon.py, with `ratelimit_method="throw"` (the default "wait" sleeps in the call).

Mastodon honours `Idempotency-Key` on `POST /api/v1/statuses` for an hour: `send` passes the outbox key,
so a retry within the hour returns the first status instead of a second one. Past the hour only the
recorded status id protects the row, so `find` reads the account's recent statuses
(`account_statuses(me, since_id=since)`) for one carrying the same text; it never posts.

Mastodon returns a status's text as HTML (`<p>…<a href="url">…</a></p>`), so `find` compares the text with
the tags removed and the links' targets put back.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonServerError,
)

from bounties.announcers.base import (
    Announcer,
    PermanentError,
    Post,
    RateLimited,
    SendResult,
    TransientError,
)

TIMEOUT_SECONDS = 10
# Mastodon's default windows are 5 minutes; used when a 429 carries no usable reset time.
DEFAULT_WINDOW = timedelta(minutes=5)
_LINK = re.compile(r"<a\s([^>]*)>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_HREF = re.compile(r"href=\"([^\"]*)\"", re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


class MastodonAnnouncer(Announcer):
    """Posts to the account whose token is `MASTODON_ACCESS_TOKEN` on `MASTODON_API_BASE`."""

    name = "mastodon"
    limit = 500
    url_weight = 23  # Mastodon counts every link as 23 characters

    def __init__(self):
        self._client: Mastodon | None = None
        self._account_id = None

    @property
    def client(self) -> Mastodon:
        if self._client is None:
            self._client = Mastodon(
                access_token=settings.MASTODON_ACCESS_TOKEN,
                api_base_url=settings.MASTODON_API_BASE,
                ratelimit_method="throw",
                version_check_mode="none",  # no request at construction
                request_timeout=TIMEOUT_SECONDS,
            )
        return self._client

    def send(self, post: Post, *, key: str) -> SendResult:
        status = self._call(self.client.status_post, self.render(post), idempotency_key=key)
        return SendResult(provider_id=str(status["id"]))

    def find(self, post: Post, *, key: str, since: datetime) -> str | None:
        if self._account_id is None:
            self._account_id = self._call(self.client.account_verify_credentials)["id"]
        # since_id accepts a datetime (Mastodon.py turns it into a snowflake id); a second earlier
        # covers a status created in the same second as `since`.
        statuses = self._call(
            self.client.account_statuses,
            self._account_id,
            since_id=since - timedelta(seconds=1),
            exclude_replies=True,
            exclude_reblogs=True,
            limit=40,
        )
        wanted = _normalise(self.render(post))
        for status in statuses:
            if _normalise(plain_text(status["content"])) == wanted:
                return str(status["id"])
        return None

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except MastodonRatelimitError as error:
            reset = self.client.ratelimit_reset  # from X-RateLimit-Reset, adjusted to our clock
            now = datetime.now(UTC)
            reset_at = datetime.fromtimestamp(reset, UTC) if reset else now + DEFAULT_WINDOW
            raise RateLimited(max(reset_at, now), f"Mastodon rate limit: {error}") from error
        except MastodonNetworkError as error:
            raise TransientError(f"Mastodon unreachable: {error}") from error
        except MastodonServerError as error:
            raise TransientError(f"Mastodon server error: {error}") from error
        except MastodonAPIError as error:
            status = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else None
            if status is not None and status >= 500:
                raise TransientError(f"Mastodon server error: {error}") from error
            raise PermanentError(f"Mastodon refused: {error}") from error


def plain_text(content: str) -> str:
    """A status's HTML content as the text that was posted: links to their targets, tags removed."""
    text = _LINK.sub(_link_text, content)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text))


def _link_text(match: re.Match) -> str:
    attributes, inner = match.groups()
    href = _HREF.search(attributes)
    if href is None or re.search(r"\b(hashtag|mention)\b", attributes):
        return _TAG.sub("", inner)  # `#tag` and `@user` links show their own text
    return html.unescape(href.group(1))


def _normalise(text: str) -> str:
    return " ".join(text.split())
