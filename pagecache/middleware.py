"""The anonymous page cache: whole responses of Wagtail pages (and their feeds, and search).

wagtail-cache does not run on Wagtail 8 and Django's per-site cache cannot be purged by
page, so this is a small middleware on the configured Django cache: Redis with `REDIS_URL`,
else the database cache (`pagecache.backends`). Both are shared by every process.

**Purged by one number.** Every entry records the cache *generation* it was
rendered in. Anything that can change what some page shows (publishing, unpublishing,
moving or deleting a page, a view restriction, a site setting such as the incident
notice, a Site, an image) bumps the generation once its transaction has committed, and
an entry from another generation is a miss. One number instead of a map of which page
shows what: nothing can be forgotten (the homepage shows the featured fund *and* every
open fund; the index and feeds list them all). The generation is read *before* the page
renders, so a render that raced a publish is stored under the old generation and never
served: the classic purge-then-stale-refill race cannot happen.

**Hits without a round trip.** Entries live in the shared cache, and each server
process keeps copies of the ones it served (`pagecache.generation.LocalCopies`). Reading the generation from
Redis on every hit cost about a third of the hit's throughput (bench/pages.py: 57 % of
the bare view against 93 %), so a process trusts its last read of the generation for
`PAGE_CACHE_LOCAL_SECONDS` (0.1 s). The process that ran a publish sees the new
generation at once (its very next request is fresh); the others within that interval.
Set it to 0 for strictly-next-request freshness across processes at that price.

**One generation for every process.** The generation must live where every process that
can publish (the web processes, the worker's scheduled publishing, `manage.py shell`)
and every process that serves reads it: Redis, or without it the database cache, one
row in `fundfill_cache` (created by `migrate`). A per-process cache (local memory) would
give each process its own generation, and another process's publish would never reach
it: its cached homepage would keep the previous featured fund until the entry went stale
(tests/integration/test_cross_process_publish.py publishes in another process and reads
from both workers of a gunicorn, with Redis and without). With the database cache a
hit costs nothing while the process trusts its generation and one indexed read (the
generation and the entry together) after that; a miss adds a write. bench/pages.py
measures it against Redis (`--no-redis`).

**Live figures** (pledged total, backers, progress) change with every pledge, outside any
page revision. An entry is fresh for `PAGE_CACHE_SECONDS` (2 s); after that the first
request to take a short lock re-renders it while concurrent requests get the entry they
would have got a moment earlier (same generation only, so never purged content). Figures
are therefore at most ~2 s plus one render old, for readers with and without JavaScript,
and nothing in the money path has to know about caching. bench/pages.py measures the
alternatives under the same load: a long-lived page plus `/funds/live.json` on every view
costs a second request per view (about a third of the page views a second), and purging
on every pledge re-renders every page at the pledge rate and would call a CDN's purge API
at that rate too (about two thirds, at 20 pledges a second).

**Who gets a cached page:** GET/HEAD requests without a session, CSRF or messages cookie,
without an Authorization header, and never a preview. Readers with one of those cookies get
the same entry with their own header and messages swapped in (`pagecache.personal`). **What is stored:** 200 responses
of the views named in `PAGE_CACHE_VIEWS` that set no cookie, hold no CSRF token, vary
on nothing but Cookie and Accept-Encoding, and do not opt out with Cache-Control.

Every Django page that reads `request.user` carries `Vary: Cookie`; we cache it anyway,
because we store and serve only the variant for requests that carry none of the cookies
that change a rendering (session, CSRF, messages). The header stays on the stored
response so browsers and CDNs keep signed-in and anonymous copies apart.

The generation and its purge live in `pagecache.generation` and `pagecache.purge`; a CDN in
front (wagtail.contrib.frontend_cache, configured by `WAGTAILFRONTENDCACHE`) is purged from
the same after-commit callback.
"""

import hashlib
import logging
import pickle
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpResponse
from django.utils.cache import cc_delim_re, patch_cache_control

from pagecache.generation import GENERATION_KEY, current_generation, local, page_cache

logger = logging.getLogger(__name__)

ENTRY_PREFIX = "pagecache:page:"
LOCK_PREFIX = "pagecache:lock:"
# How long one request may hold the right to re-render a page before another may try.
LOCK_SECONDS = 10
# Entries outlive their freshness by this much, to be served while one request re-renders.
STALE_GRACE_SECONDS = 60
# Shared links carry these; pages never read them, so they share the plain URL's entry.
TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "ref", "ref_src", "igshid"}
MAX_PARAM_LENGTH = 200
SAFE_VARY = {"cookie", "accept-encoding"}
HEADER = "X-Page-Cache"


# --- which requests and responses ---------------------------------------------------------


def request_may_use_cache(request) -> bool:
    """Anonymous, cookie-less (as far as rendering goes) GET/HEAD of a live page; never a preview."""
    if request.method not in ("GET", "HEAD") or request.path.startswith(skipped_prefixes()):
        return False
    # Wagtail renders previews through the middleware with a dummy request for the page's URL.
    if getattr(request, "is_dummy", False) or getattr(request, "is_preview", False):
        return False
    cookies = request.COOKIES
    if (
        settings.SESSION_COOKIE_NAME in cookies
        or settings.CSRF_COOKIE_NAME in cookies
        or CookieStorage.cookie_name in cookies
    ):
        return False
    return "HTTP_AUTHORIZATION" not in request.META


def skipped_prefixes():
    # Paths that are never pages: not worth a cache round trip (static files, the admin, the API).
    return (settings.STATIC_URL, settings.MEDIA_URL, *settings.PAGE_CACHE_SKIP_PREFIXES)


def normalized_query(request):
    """`(query, tracked)`: the query string the entry is keyed on, and whether tracking
    parameters were dropped from it; `(None, False)` when the request must bypass the cache.

    Only parameters our pages read are keyed. A shared link's tracking parameters
    (`utm_*`, `fbclid`, …) read the plain URL's entry, but a miss with them is not stored
    (links such as pagination would carry them to everyone). Anything else bypasses the
    cache (rendered, not stored), so random parameters cannot fill it.
    """
    if not request.META.get("QUERY_STRING"):
        return "", False  # most page views: no QueryDict to build
    items = []
    tracked = False
    for name, values in request.GET.lists():
        if name.startswith("utm_") or name in TRACKING_PARAMS:
            tracked = True
            continue
        if name not in settings.PAGE_CACHE_QUERY_PARAMS:
            return None, False
        for value in values:
            if len(value) > MAX_PARAM_LENGTH:
                return None, False
            items.append((name, value))
    return urlencode(sorted(items)), tracked


def entry_key(request, query=""):
    """The cache key of a request's entry (`query` as `normalized_query` keys it).

    Scheme and host are part of the key: feeds and a few links are absolute.
    """
    raw = f"{request.scheme}://{request.get_host()}{request.path}?{query}"
    return ENTRY_PREFIX + hashlib.sha256(raw.encode()).hexdigest()[:40]


def is_page_view(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name in settings.PAGE_CACHE_VIEWS


def _refusal(request, response):
    """Why this response must not be stored (None when it may be)."""
    if response.status_code != 200 or response.streaming:
        return "status"
    if not is_page_view(request):
        return "view"
    if response.cookies:
        return "sets a cookie"
    vary = {v.strip().lower() for v in cc_delim_re.split(response.get("Vary", "")) if v.strip()}
    if vary - SAFE_VARY:
        return "varies"
    cache_control = response.get("Cache-Control", "").lower()
    if any(word in cache_control for word in ("private", "no-store", "no-cache")):
        return "cache-control"
    if b"csrfmiddlewaretoken" in response.content:
        # A token in cached HTML would be handed to everyone: a page bug, so say so loudly.
        logger.error("page cache: %s renders a CSRF token for anonymous readers; not cached", request.path)
        return "csrf token"
    return None


def _mark_private(request, response, reason="bypass"):
    """A page response that was not (and must not be) cached anywhere on the way (a personal page
    built from an entry, `pagecache.personal`, says so already)."""
    if is_page_view(request) or getattr(request, "is_preview", False):
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_cache=True)
        if not response.has_header(HEADER):
            response[HEADER] = reason
    return response


def _from_entry(entry, state):
    # An entry holds a plain HttpResponse, pickled: unpickling it is cheaper than building one,
    # and every hit gets its own object.
    response = pickle.loads(entry[2])
    response[HEADER] = state
    return response


def _entry(generation, fresh_until, response):
    headers = {name: value for name, value in response.items() if name != HEADER}
    plain = HttpResponse(response.content, status=response.status_code, headers=headers)
    return (generation, fresh_until, pickle.dumps(plain, pickle.HIGHEST_PROTOCOL))


def local_fresh_entry(key, now):
    """This process's copy of the entry, if it is fresh in the generation the process trusts."""
    generation = local.trusted_generation(now)
    if generation is not None:
        entry = local.get(key)
        if entry is not None and entry[0] == generation and entry[1] > now:
            return entry
    return None


def fresh_entry(key, now):
    """The entry for `key` while it is fresh in the current generation (this process's copy, else the
    shared cache's), or None: what a hit is served from."""
    if (entry := local_fresh_entry(key, now)) is not None:
        return entry
    found = page_cache().get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY)
    if generation is None:
        return None
    local.know_generation(generation, now)
    entry = found.get(key)
    if entry is not None and entry[0] == generation and entry[1] > now:
        local.put(key, entry)
        return entry
    return None


# --- the middleware ---------------------------------------------------------------------


class PageCacheMiddleware:
    """Serve and store anonymous page responses; place it first in MIDDLEWARE.

    A hit returns before any other middleware runs: no session lookup, no database query.
    The entry was stored with the headers every other middleware added on the way out
    (SecurityMiddleware's HSTS, nosniff, referrer policy; X-Frame-Options; Vary), so a hit
    carries them too. SecurityMiddleware's HTTPS redirect cannot be skipped by a hit: the
    scheme is part of the key, and a plain-HTTP request that is redirected is never stored.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.PAGE_CACHE or not request_may_use_cache(request):
            return _mark_private(request, self.get_response(request))
        if local.is_not_page(request.path):
            return self.get_response(request)
        query, tracked = normalized_query(request)
        if query is None:
            return _mark_private(request, self.get_response(request), "bypass (parameters)")
        key = entry_key(request, query)

        now = time.time()
        if (entry := local_fresh_entry(key, now)) is not None:
            return _from_entry(entry, "hit")

        cache = page_cache()
        lock_key = None
        try:
            found = cache.get_many([GENERATION_KEY, key])
            generation = found.get(GENERATION_KEY)
            if generation is None:
                generation = current_generation(cache)
            else:
                local.know_generation(generation, now)
            entry = found.get(key)
            if entry is not None and entry[0] == generation:
                if entry[1] > now:
                    local.put(key, entry)
                    return _from_entry(entry, "hit")
                # Stale: one request re-renders, the others keep getting this entry meanwhile.
                if not cache.add(LOCK_PREFIX + key, 1, timeout=LOCK_SECONDS):
                    return _from_entry(entry, "stale")
                lock_key = LOCK_PREFIX + key
        except Exception:  # the cache being down must cost speed, never pages
            logger.warning("page cache unavailable; serving uncached", exc_info=True)
            return _mark_private(request, self.get_response(request))

        response = self.get_response(request)
        if getattr(request, "resolver_match", None) is not None and not is_page_view(request):
            local.mark_not_page(request.path)
        refusal = "tracking parameters" if tracked else _refusal(request, response)
        if refusal is None:
            seconds = settings.PAGE_CACHE_SECONDS
            patch_cache_control(response, public=True, max_age=seconds)
            entry = _entry(generation, time.time() + seconds, response)
            local.put(key, entry)
            try:
                cache.set(key, entry, timeout=seconds + STALE_GRACE_SECONDS)
                if lock_key:
                    cache.delete(lock_key)
            except Exception:
                logger.warning("page cache unavailable; not stored", exc_info=True)
            response[HEADER] = "miss"
        else:
            _mark_private(request, response, f"bypass ({refusal})")
            if lock_key:
                try:
                    cache.delete(lock_key)
                except Exception:
                    logger.warning("page cache unavailable", exc_info=True)
        return response
