"""Where mentions come from: one small module per source, each returning `Found` posts or raising
`Deferred` (rate limited until a time) or `Unavailable` (down, unreachable, or answering nonsense).

They only read from the outside; storing is `feedback.mentions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Found:
    """One post or comment as its source describes it."""

    external_id: str
    url: str
    author: str
    text: str
    created_at: datetime
    links: tuple[str, ...] = field(default=())  # the links it carries, expanded (for matching a fund)


class SourceError(Exception):
    """A source could not be read this time."""


class Deferred(SourceError):
    """The source's rate limit is spent until `until`."""

    def __init__(self, until: datetime, message: str = ""):
        super().__init__(message or f"rate limited until {until.isoformat()}")
        self.until = until


class Unavailable(SourceError):
    """The source is down, unreachable, or answered something unreadable."""
