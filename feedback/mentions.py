"""Polling X and Hacker News for mentions of the site, and storing each post once.

Each `poll_*` is one pass that the worker runs every few minutes (`feedback/migrations`) and that
`manage.py poll_mentions` runs by hand: it returns at once while the source's rate limit defers it
(`MentionPoll.deferred_until`), asks only for what is newer than the newest stored mention, and
stores with `bulk_create(ignore_conflicts=True)` on the `(source, external_id)` constraint, so two
runs at once, or overlapping windows, store a post once. An outage logs a warning and changes
nothing; a 429 records when to try again and stores nothing of that run.

A mention is matched to a live fund when it carries the fund's hashtag or links its page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from feedback import selectors
from feedback.models import Mention, MentionPoll, MentionSource
from feedback.sources import Deferred, Found, Unavailable, hn, x

logger = logging.getLogger("fundfill.mentions")

_HASHTAG = re.compile(r"#(\w+)")
# Before the first Hacker News mention is stored, look this far back.
HN_FIRST_LOOKBACK = timedelta(days=7)
# Algolia indexes an item some time after it is posted: each run looks back this far before the
# newest stored one, so a comment indexed late is still found (the store dedupes the overlap).
HN_OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class PollResult:
    source: str
    stored: int = 0
    skipped: str = ""  # why nothing was asked: "not configured", "deferred until …", "unavailable"


def poll_x(*, now: datetime | None = None) -> PollResult:
    """One pass of X's recent search for the domain and the live funds' hashtags."""
    if not x.is_configured():
        return PollResult(MentionSource.X, skipped="not configured (TWITTER_BEARER_TOKEN)")
    now = now or timezone.now()
    hashtags, _ = selectors.fund_markers()
    # After a quiet week the newest stored post is outside X's window: search the whole window again.
    since_id = selectors.newest_x_id(posted_after=now - x.SEARCH_WINDOW + timedelta(minutes=5))
    return _poll(
        MentionSource.X,
        lambda: x.search(domain=selectors.site_domain(), hashtags=sorted(hashtags), since_id=since_id),
        now=now,
    )


def poll_hn(*, now: datetime | None = None) -> PollResult:
    """One pass of the Hacker News search for stories and comments linking the site."""
    now = now or timezone.now()
    newest = selectors.newest_hn_time()
    newer_than = newest - HN_OVERLAP if newest else now - HN_FIRST_LOOKBACK
    return _poll(
        MentionSource.HN,
        lambda: hn.search(domain=selectors.site_domain(), newer_than=int(newer_than.timestamp())),
        now=now,
    )


def _poll(source: str, fetch, *, now: datetime | None) -> PollResult:
    now = now or timezone.now()
    state = MentionPoll.objects.filter(source=source).first()
    if state and state.deferred_until and state.deferred_until > now:
        return PollResult(source, skipped=f"deferred until {state.deferred_until.isoformat()}")
    try:
        found = fetch()
    except Deferred as deferred:
        logger.warning("mentions: %s rate limited until %s", source, deferred.until.isoformat())
        MentionPoll.objects.update_or_create(source=source, defaults={"deferred_until": deferred.until})
        return PollResult(source, skipped=f"deferred until {deferred.until.isoformat()}")
    except Unavailable as error:
        logger.warning("mentions: %s unavailable, nothing changed: %s", source, error)
        return PollResult(source, skipped="unavailable")
    stored = mentions_store(source=source, found=found)
    MentionPoll.objects.update_or_create(source=source, defaults={"deferred_until": None, "last_run_at": now})
    return PollResult(source, stored=stored)


def mentions_store(*, source: str, found: list[Found]) -> int:
    """Store the posts not stored yet (each once, whoever else stores them at the same time); returns
    how many were not stored before this call."""
    if not found:
        return 0
    hashtags, links = selectors.fund_markers()
    rows = {
        item.external_id: Mention(
            source=source,
            external_id=item.external_id,
            url=item.url[:500],
            author=item.author[:100],
            text=item.text,
            created_at=item.created_at.astimezone(UTC),
            fund_id=_fund_for(item, hashtags, links),
        )
        for item in found
    }
    ids = list(rows)
    before = set(
        Mention.objects.filter(source=source, external_id__in=ids).values_list("external_id", flat=True)
    )
    Mention.objects.bulk_create(rows.values(), ignore_conflicts=True)
    return len(set(ids) - before)


def _fund_for(item: Found, hashtags: dict[str, int], links: dict[str, int]) -> int | None:
    for tag in _HASHTAG.findall(item.text):
        if tag.lower() in hashtags:
            return hashtags[tag.lower()]
    haystack = " ".join((item.text, *item.links)).lower()
    # The longest path first: a page below a fund is matched to itself, not to the fund above.
    for marker in sorted(links, key=len, reverse=True):
        if marker in haystack:
            return links[marker]
    return None
