"""X's recent search (API v2, app-only bearer token) through tweepy's `Client.search_recent_tweets`.

One query per run names the site's domain and every live fund's hashtag, joined with OR (split in
several when it would pass X's 512-character limit), retweets left out, `since_id` the newest post
already stored, so a run reads only what is new. Up to `MAX_PAGES` pages of 100 are followed
(`meta.next_token`); what is left is older and is read on the next run.

tweepy is re-targeted to `TWITTER_API_BASE` (tests: tests/fakes/x_server.py) exactly as the announcer
does (`bounties.announcers.twitter`), with a timeout on every request, and never waits on a rate
limit: a 429 becomes `Deferred` with X's `x-rate-limit-reset`.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import requests
import tweepy
from django.conf import settings

from bounties.announcers.twitter import TIMEOUT_SECONDS, X_HOST, _RebaseAdapter
from feedback.sources import Deferred, Found, Unavailable

MAX_QUERY = 512  # X's limit on a recent-search query (Basic and Pro access)
MAX_PAGES = 5
PAGE_SIZE = 100
DEFAULT_WINDOW = timedelta(minutes=15)  # X's windows, when a 429 carries no reset time
SEARCH_WINDOW = timedelta(days=7)  # what recent search covers; an older `since_id` is a 400


def is_configured() -> bool:
    return bool(getattr(settings, "TWITTER_BEARER_TOKEN", ""))


def client() -> tweepy.Client:
    api = tweepy.Client(bearer_token=settings.TWITTER_BEARER_TOKEN, wait_on_rate_limit=False)
    base = getattr(settings, "TWITTER_API_BASE", "") or X_HOST
    api.session.mount(f"{X_HOST}/", _RebaseAdapter(base, TIMEOUT_SECONDS))
    return api


def queries(*, domain: str, hashtags: list[str]) -> list[str]:
    """The search queries for the domain and the hashtags, each within X's length limit."""
    terms = [f'url:"{domain}"'] + [f"#{tag}" for tag in hashtags]
    suffix = " -is:retweet"
    built, current = [], []
    for term in terms:
        candidate = current + [term]
        if current and len(f"({' OR '.join(candidate)}){suffix}") > MAX_QUERY:
            built.append(current)
            candidate = [term]
        current = candidate
    built.append(current)
    return [f"({' OR '.join(group)}){suffix}" for group in built if group]


def search(*, domain: str, hashtags: list[str], since_id: str | None) -> list[Found]:
    """Posts newer than `since_id` naming the domain or a hashtag, newest first (may hold duplicates
    across queries: the store dedupes)."""
    api = client()
    found: list[Found] = []
    for query in queries(domain=domain, hashtags=hashtags):
        token = None
        for _ in range(MAX_PAGES):
            response = _call(
                api.search_recent_tweets,
                query,
                since_id=since_id,
                max_results=PAGE_SIZE,
                next_token=token,
                tweet_fields=["created_at", "author_id", "entities"],
                expansions=["author_id"],
                user_fields=["username"],
            )
            try:
                users = {str(u.id): u.username for u in (response.includes or {}).get("users", ())}
                found.extend(_found(tweet.data, users) for tweet in response.data or ())
            except (KeyError, ValueError, TypeError, AttributeError) as error:
                raise Unavailable(f"X answered a post without its fields: {error!r}") from error
            token = (response.meta or {}).get("next_token")
            if not token:
                break
    return found


def _call(method, *args, **kwargs):
    try:
        return method(*args, **kwargs)
    except tweepy.TooManyRequests as error:
        reset = error.reset_time
        until = datetime.fromtimestamp(reset, UTC) if reset else datetime.now(UTC) + DEFAULT_WINDOW
        raise Deferred(until, f"X rate limit: {error}") from error
    except tweepy.HTTPException as error:  # 5xx, and a refused token (a setting to fix, logged)
        raise Unavailable(f"X refused the search: {error}") from error
    except (requests.RequestException, ValueError) as error:  # unreachable, or not JSON
        raise Unavailable(f"X unreadable: {error!r}") from error


def _found(data: dict, users: dict[str, str]) -> Found:
    text = html.unescape(data.get("text", ""))
    links = []
    for link in (data.get("entities") or {}).get("urls", ()):
        if link.get("url") and link.get("expanded_url"):
            text = text.replace(link["url"], link["expanded_url"])
            links.append(link["expanded_url"])
    username = users.get(str(data.get("author_id")), "")
    tweet_id = str(data["id"])
    return Found(
        external_id=tweet_id,
        url=f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
        author=username,
        text=text,
        created_at=datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")),
        links=tuple(links),
    )
