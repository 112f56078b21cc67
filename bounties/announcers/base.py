"""The announcement channels' one interface: a post in, the provider's id out, or an error that says what to do.

Each channel (`console`, `twitter`, `mastodon`, `bluesky`) is an `Announcer`. The outbox's delivery
(bounties.services.announcing, bounties.tasks) calls `send` outside any transaction and records the
returned `SendResult.provider_id`; when a delivery's outcome is unknown (a lease expired mid-send) it calls
`find` first, and sends only when the post is not already there (RELIABILITY.md §3.5).

The errors tell the caller what to do, never how long to sleep:

- `RateLimited`: a 429; reschedule the row at `reset_at` (no attempt is spent).
- `TransientError`: a 5xx, a timeout or a broken connection; retry with backoff.
- `PermanentError`: any other refusal (bad credentials, text too long, suspended account); give up.

A channel is enabled by naming it in the `ANNOUNCERS` setting (a comma list, default `console`); each
names the settings it needs in `REQUIRED_SETTINGS`, and `missing_settings()` feeds the start-up check in
fundfill/checks.py, so a deployment without its X keys fails at `manage.py check`, not at the first post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import ClassVar

from django.conf import settings

# name → "module:Class", imported on demand so a disabled channel's library is never loaded.
REGISTRY = {
    "console": "bounties.announcers.console:ConsoleAnnouncer",
    "twitter": "bounties.announcers.twitter:TwitterAnnouncer",
    "mastodon": "bounties.announcers.mastodon:MastodonAnnouncer",
    "bluesky": "bounties.announcers.bluesky:BlueskyAnnouncer",
}

# What each channel needs, kept here rather than on the classes so the start-up check can name a
# missing setting without importing tweepy, Mastodon.py or atproto.
REQUIRED_SETTINGS = {
    "console": (),
    "twitter": (
        "TWITTER_CONSUMER_KEY",
        "TWITTER_CONSUMER_SECRET",
        "TWITTER_ACCESS_TOKEN",
        "TWITTER_ACCESS_TOKEN_SECRET",
    ),
    "mastodon": ("MASTODON_API_BASE", "MASTODON_ACCESS_TOKEN"),
    "bluesky": ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"),
}


@dataclass(frozen=True)
class Post:
    """What to announce: the message and the absolute URL it is about (kept whole by every channel).

    `hashtag` (optional, with or without its `#`) is appended after the URL and also always kept.
    """

    text: str
    url: str
    hashtag: str = ""


@dataclass(frozen=True)
class SendResult:
    """The provider's id for the post that now exists (the outbox records it as `provider_message_id`)."""

    provider_id: str


class AnnounceError(Exception):
    """A channel could not deliver a post."""


class RateLimited(AnnounceError):
    """The provider refused for now (429); try again at `reset_at` (UTC), and do not sleep waiting for it."""

    def __init__(self, reset_at: datetime, message: str = ""):
        self.reset_at = reset_at
        super().__init__(message or f"rate limited until {reset_at.isoformat()}")


class TransientError(AnnounceError):
    """A 5xx, timeout or network failure: the post may be sent again after a backoff."""


class PermanentError(AnnounceError):
    """The provider refused the post for good (a 4xx that is neither a duplicate nor a rate limit)."""


class Announcer:
    """One announcement channel. Subclasses set `name` and `limit` and implement `send` and `find`.

    `limit` is the network's length limit in its own unit (characters, X's weighted characters, or
    graphemes); `render` fits a post into it with `compose`.
    """

    name: ClassVar[str] = ""
    limit: ClassVar[int] = 500
    url_weight: ClassVar[int | None] = None  # a network that counts every link as N characters
    graphemes: ClassVar[bool] = False  # count user-perceived characters, not code points
    weighted: ClassVar[bool] = False  # X's weighting: CJK and emoji count twice

    def render(self, post: Post) -> str:
        """The exact text this channel posts for `post`."""
        from bounties.announcers.compose import compose

        return compose(
            post.text,
            url=post.url,
            hashtag=post.hashtag,
            limit=self.limit,
            url_weight=self.url_weight,
            graphemes=self.graphemes,
            weighted=self.weighted,
        )

    def send(self, post: Post, *, key: str) -> SendResult:
        """Publish `post`. `key` is the outbox row's stable key (an idempotency key where the network has one).

        Raises RateLimited, TransientError or PermanentError.
        """
        raise NotImplementedError

    def find(self, post: Post, *, key: str, since: datetime) -> str | None:
        """The provider id of `post` if it was already published at or after `since`, else None.

        For reconciling a delivery whose outcome is unknown; it never publishes. Raises the same errors
        as `send` when the provider cannot be asked.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def enabled_names() -> list[str]:
    """The channel names in `settings.ANNOUNCERS` (a comma list or a sequence; default `console`)."""
    value = getattr(settings, "ANNOUNCERS", "console")
    if isinstance(value, str):
        value = value.split(",")
    return [name.strip().lower() for name in value if name and name.strip()]


def missing_settings(name: str) -> list[str]:
    """The settings channel `name` needs that are unset or empty."""
    return [setting for setting in REQUIRED_SETTINGS.get(name, ()) if not getattr(settings, setting, "")]


def get_announcer(name: str) -> Announcer:
    """A new instance of channel `name` (KeyError for an unknown name)."""
    module_name, _, class_name = REGISTRY[name].partition(":")
    return getattr(import_module(module_name), class_name)()


def get_announcers() -> list[Announcer]:
    """The enabled channels, in the order `ANNOUNCERS` names them (each once)."""
    return [get_announcer(name) for name in dict.fromkeys(enabled_names())]
