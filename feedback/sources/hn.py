"""Hacker News through the public Algolia HN search API (https://hn.algolia.com/api), with `requests`.

`search_by_date` is asked for stories and comments matching the site's domain and newer than the
newest one stored (`numericFilters=created_at_i>N`). Algolia's full-text match is loose (it matches
the domain's words anywhere), so a hit counts only when its `url`, its `story_url` or its
`comment_text` actually contains the domain. `HN_SEARCH_API_BASE` points it elsewhere (tests:
tests/fakes/hn_server.py). Every request has a timeout; an outage is `Unavailable`.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import requests
from django.conf import settings
from django.utils.html import strip_tags

from feedback.sources import Deferred, Found, Unavailable

DEFAULT_BASE = "https://hn.algolia.com/api/v1"
TIMEOUT_SECONDS = 10
MAX_PAGES = 5
PAGE_SIZE = 100
# Algolia sends no reset time with its 429 (10,000 requests an hour per address).
DEFAULT_WINDOW = timedelta(minutes=15)


def base_url() -> str:
    return (getattr(settings, "HN_SEARCH_API_BASE", "") or DEFAULT_BASE).rstrip("/")


def search(*, domain: str, newer_than: int) -> list[Found]:
    """Stories and comments linking `domain`, created after the epoch second `newer_than`, newest first."""
    found: list[Found] = []
    session = requests.Session()
    for page in range(MAX_PAGES):
        body = _get(
            session,
            {
                "query": domain,
                "tags": "(story,comment)",
                "numericFilters": f"created_at_i>{newer_than}",
                "hitsPerPage": PAGE_SIZE,
                "page": page,
            },
        )
        try:
            hits = body["hits"]
            found.extend(_found(hit) for hit in hits if _links(hit, domain))
            pages = int(body.get("nbPages", 1))
        except (KeyError, TypeError, ValueError) as error:
            raise Unavailable(f"Hacker News search answered something else: {error!r}") from error
        if page + 1 >= pages or not hits:
            break
    return found


def _get(session: requests.Session, params: dict) -> dict:
    try:
        response = session.get(f"{base_url()}/search_by_date", params=params, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise Unavailable(f"Hacker News search unreachable: {error!r}") from error
    if response.status_code == 429:
        raise Deferred(datetime.now(UTC) + DEFAULT_WINDOW, "Hacker News search rate limit")
    if response.status_code != 200:
        raise Unavailable(f"Hacker News search answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as error:
        raise Unavailable("Hacker News search answered something that is not JSON") from error


def _links(hit: dict, domain: str) -> bool:
    """Does this hit really link the site (not merely share a word with its domain)?"""
    domain = domain.lower()
    return any(domain in (hit.get(name) or "").lower() for name in ("url", "story_url", "comment_text"))


def _found(hit: dict) -> Found:
    is_comment = "comment" in (hit.get("_tags") or ())
    if is_comment:
        text = html.unescape(strip_tags(hit.get("comment_text") or ""))
        if hit.get("story_title"):
            text = f"On “{hit['story_title']}”: {text}"
    else:
        text = hit.get("title") or ""
    links = tuple(link for link in (hit.get("url"), hit.get("story_url")) if link)
    return Found(
        external_id=str(hit["objectID"]),
        url=f"https://news.ycombinator.com/item?id={hit['objectID']}",
        author=hit.get("author") or "",
        text=text,
        created_at=datetime.fromtimestamp(int(hit["created_at_i"]), UTC),
        links=links,
    )
