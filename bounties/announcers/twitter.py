"""X (Twitter) through tweepy's API v2 `Client`, user context (OAuth 1.0a), never sleeping on a rate limit.

X has no idempotency key, so a post whose outcome is unknown is reconciled with `find`, which reads the
account's recent tweets (`get_me` + `get_users_tweets`) for the same text. X stores links as t.co links
and HTML-escapes `&<>`, so the comparison undoes both (`entities.urls[].expanded_url`).

X's duplicate-content 403 means the post is already there: `send` then counts it as delivered and returns
the existing tweet's id from `find`, or, when X will not say (the read failed, or the tweet is older than
the recent tweets read), the sentinel `DUPLICATE_ID` ("twitter:duplicate"), so the outbox marks the row
sent rather than posting again.

tweepy always talks to https://api.twitter.com; `TWITTER_API_BASE` (tests: a local fake) re-targets it with
a `requests` adapter mounted on the client's documented `session`, which also gives every request a timeout
(tweepy sets none).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
import tweepy
from django.conf import settings
from requests.adapters import HTTPAdapter

from bounties.announcers.base import (
    Announcer,
    PermanentError,
    Post,
    RateLimited,
    SendResult,
    TransientError,
)

X_HOST = "https://api.twitter.com"
DUPLICATE_ID = "twitter:duplicate"
TIMEOUT_SECONDS = 10
# When a 429 carries no reset time, X's windows are 15 minutes.
DEFAULT_WINDOW = timedelta(minutes=15)


class _RebaseAdapter(HTTPAdapter):
    """Sends requests for api.twitter.com to `base` instead, with a default timeout."""

    def __init__(self, base: str, timeout: float):
        super().__init__()
        self.base = base.rstrip("/")
        self.timeout = timeout

    def send(self, request, **kwargs):
        if self.base != X_HOST:
            parts = urlsplit(request.url)
            request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _is_duplicate(error: tweepy.HTTPException) -> bool:
    return any("duplicate content" in str(message).lower() for message in error.api_messages)


class TwitterAnnouncer(Announcer):
    """Posts to the X account whose user-context keys are in `TWITTER_*` settings."""

    name = "twitter"
    limit = 280
    url_weight = 23  # every link is a t.co link
    weighted = True

    def __init__(self):
        self._client: tweepy.Client | None = None
        self._user_id: str | None = None

    @property
    def client(self) -> tweepy.Client:
        if self._client is None:
            client = tweepy.Client(
                consumer_key=settings.TWITTER_CONSUMER_KEY,
                consumer_secret=settings.TWITTER_CONSUMER_SECRET,
                access_token=settings.TWITTER_ACCESS_TOKEN,
                access_token_secret=settings.TWITTER_ACCESS_TOKEN_SECRET,
                wait_on_rate_limit=False,  # a worker reschedules; it never sleeps in the call
            )
            base = getattr(settings, "TWITTER_API_BASE", "") or X_HOST
            client.session.mount(f"{X_HOST}/", _RebaseAdapter(base, TIMEOUT_SECONDS))
            self._client = client
        return self._client

    def send(self, post: Post, *, key: str) -> SendResult:
        text = self.render(post)
        try:
            response = self._call(self.client.create_tweet, text=text, user_auth=True)
        except _Duplicate:
            try:
                found = self._search(post, since=None)
            except (RateLimited, TransientError, PermanentError):
                found = None  # it is there; X just will not say which it is now
            return SendResult(provider_id=found or DUPLICATE_ID)
        return SendResult(provider_id=str(response.data["id"]))

    def find(self, post: Post, *, key: str, since: datetime) -> str | None:
        return self._search(post, since=since)

    # --- internals ------------------------------------------------------------------------------

    def _search(self, post: Post, *, since: datetime | None) -> str | None:
        if self._user_id is None:
            me = self._call(self.client.get_me, user_auth=True)
            self._user_id = str(me.data.id)
        params = {
            "max_results": 100,
            "tweet_fields": ["created_at", "entities"],
            "exclude": ["retweets", "replies"],
            "user_auth": True,
        }
        if since is not None:
            # X refuses a start_time in the future or a malformed one; seconds, UTC.
            params["start_time"] = min(since, datetime.now(UTC)) - timedelta(seconds=1)
        response = self._call(self.client.get_users_tweets, self._user_id, **params)
        wanted = _normalise(self.render(post))
        for tweet in response.data or ():
            if _normalise(_expanded_text(tweet.data)) == wanted:
                return str(tweet.id)
        return None

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except tweepy.TooManyRequests as error:
            reset = error.reset_time
            reset_at = datetime.fromtimestamp(reset, UTC) if reset else datetime.now(UTC) + DEFAULT_WINDOW
            raise RateLimited(reset_at, f"X rate limit: {error}") from error
        except tweepy.TwitterServerError as error:
            raise TransientError(f"X server error: {error}") from error
        except tweepy.Forbidden as error:
            if _is_duplicate(error):
                raise _Duplicate() from error
            raise PermanentError(f"X refused: {error}") from error
        except tweepy.HTTPException as error:
            raise PermanentError(f"X refused: {error}") from error
        except requests.RequestException as error:
            raise TransientError(f"X unreachable: {error}") from error


class _Duplicate(Exception):
    """X's duplicate-content 403 (only `send` sees it; reads are never duplicates)."""


def _expanded_text(data: dict) -> str:
    """A tweet's text as it was sent: t.co links back to their targets, HTML entities undone."""
    text = html.unescape(data.get("text", ""))
    for link in (data.get("entities") or {}).get("urls", ()):
        if link.get("url") and link.get("expanded_url"):
            text = text.replace(link["url"], link["expanded_url"])
    return text


def _normalise(text: str) -> str:
    return " ".join(text.split())
