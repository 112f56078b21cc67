"""Reads for the feedback app: the newest mentions, and what the mention search looks for."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import BigIntegerField, Max, QuerySet
from django.db.models.functions import Cast

from bounties import selectors as bounties_selectors
from feedback.models import Mention, MentionSource


def site_domain() -> str:
    """The site's host name, from `SITE_URL` (what people link to)."""
    return (urlsplit(settings.SITE_URL).hostname or "").lower()


def newest_mentions() -> QuerySet[Mention]:
    """Mentions, newest first, with their fund's page."""
    return Mention.objects.select_related("fund").order_by("-created_at", "-pk")


def newest_x_id(*, posted_after: datetime) -> str | None:
    """The id of the newest post stored from X (X's ids grow with time) if it was posted after
    `posted_after`, for `since_id`: X refuses a `since_id` older than its 7-day search window."""
    newest = (
        Mention.objects.filter(source=MentionSource.X, created_at__gt=posted_after)
        .annotate(number=Cast("external_id", BigIntegerField()))
        .aggregate(newest=Max("number"))["newest"]
    )
    return str(newest) if newest is not None else None


def newest_hn_time():
    """When the newest stored Hacker News mention was posted (None before the first)."""
    return Mention.objects.filter(source=MentionSource.HN).aggregate(newest=Max("created_at"))["newest"]


def fund_markers() -> tuple[dict[str, int], dict[str, int]]:
    """What names a live public fund in a post: `{hashtag (lower case): page id}` and
    `{"<domain><fund path>": page id}`."""
    domain = site_domain()
    hashtags, links = {}, {}
    for page in bounties_selectors.public_funds():
        if page.hashtag:
            hashtags.setdefault(page.hashtag.lower(), page.pk)
        parts = page.get_url_parts()
        if parts and parts[2] not in ("", "/"):
            links[f"{domain}{parts[2]}".lower()] = page.pk
    return hashtags, links
