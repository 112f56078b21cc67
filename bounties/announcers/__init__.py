"""Announcement channels behind one interface (see base.py): console, X, Mastodon, Bluesky."""

from bounties.announcers.base import (
    AnnounceError,
    Announcer,
    PermanentError,
    Post,
    RateLimited,
    SendResult,
    TransientError,
    get_announcer,
    get_announcers,
)
from bounties.announcers.compose import compose

__all__ = [
    "AnnounceError",
    "Announcer",
    "PermanentError",
    "Post",
    "RateLimited",
    "SendResult",
    "TransientError",
    "compose",
    "get_announcer",
    "get_announcers",
]
