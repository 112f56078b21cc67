"""The anonymous page cache: whole responses of Wagtail pages (and their feeds, and search).

wagtail-cache does not run on Wagtail 8 and Django's per-site cache cannot be purged by
page, so this is a small middleware on the configured Django cache: Redis with `REDIS_URL`,
else the database cache (fundfill/cache.py). Both are shared by every process.

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
process keeps copies of the ones it served (`_LocalCopies`). Reading the generation from
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
without an Authorization header, and never a preview. **What is stored:** 200 responses
of the views named in `PAGE_CACHE_VIEWS` that set no cookie, hold no CSRF token, vary
on nothing but Cookie and Accept-Encoding, and do not opt out with Cache-Control.

Every Django page that reads `request.user` carries `Vary: Cookie`; we cache it anyway,
because we store and serve only the variant for requests that carry none of the cookies
that change a rendering (session, CSRF, messages). The header stays on the stored
response so browsers and CDNs keep signed-in and anonymous copies apart.

A CDN in front (wagtail.contrib.frontend_cache, configured by `WAGTAILFRONTENDCACHE`) is
purged from the same after-commit callback: the page with its feed, its ancestors (the
fund index and the homepage) and any homepage that features it.
"""

import hashlib
import logging
import pickle
import threading
import time
from collections import OrderedDict
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from django.utils.cache import cc_delim_re, patch_cache_control

logger = logging.getLogger("fundfill.pagecache")

GENERATION_KEY = "pagecache:generation"
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


def page_cache():
    return caches[settings.PAGE_CACHE_ALIAS]


# --- the generation ---------------------------------------------------------------------


def _new_generation():
    # A fresh start (first use, or the key was evicted) must not equal any stored entry's
    # generation: start from the clock, then count up.
    return time.time_ns()


def current_generation(cache=None):
    cache = cache or page_cache()
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, _new_generation(), timeout=None)
        generation = cache.get(GENERATION_KEY)
    _local.know_generation(generation)
    return generation


def request_generation():
    """The generation a render starts from: this process's trusted copy, else read from the cache."""
    generation = _local.trusted_generation(time.time())
    return generation if generation is not None else current_generation()


def bump_generation():
    """Make every cached page a miss. Call after commit (see `purge_after_commit`)."""
    cache = page_cache()
    try:
        generation = cache.incr(GENERATION_KEY)
    except ValueError:  # missing: any new value invalidates every entry
        cache.add(GENERATION_KEY, _new_generation(), timeout=None)
        generation = cache.get(GENERATION_KEY)
    _local.know_generation(generation)  # this process's very next request sees it
    return generation


class _LocalCopies:
    """This process's copies of the generation and of recently served entries.

    Reading both from Redis on every hit costs a round trip that bench/pages.py measured
    at about a quarter of the hit's throughput. So a process trusts the generation it last
    read for `PAGE_CACHE_LOCAL_SECONDS` (0.1 s), and serves an entry it already holds while
    that generation and the entry's freshness allow. A bump is seen at once by the process
    that made it, and by every other process within that interval.
    """

    MAX_ENTRIES = 512
    MAX_NOT_PAGES = 4096

    def __init__(self):
        self.lock = threading.Lock()
        self.generation = None
        self.read_at = 0.0
        self.entries = OrderedDict()
        # Paths this process has seen answered by views that are never cached (login, wallet):
        # URLs map to the same views until the next deploy, so they skip the cache from then on.
        self.not_pages = set()

    def is_not_page(self, path):
        return path in self.not_pages

    def mark_not_page(self, path):
        with self.lock:
            if len(self.not_pages) >= self.MAX_NOT_PAGES:
                self.not_pages.clear()
            self.not_pages.add(path)

    def know_generation(self, generation, now=None):
        with self.lock:
            self.generation, self.read_at = generation, now or time.time()

    def trusted_generation(self, now):
        if self.generation is not None and now - self.read_at < settings.PAGE_CACHE_LOCAL_SECONDS:
            return self.generation
        return None

    def get(self, key):
        with self.lock:
            return self.entries.get(key)

    def put(self, key, entry):
        with self.lock:
            self.entries[key] = entry
            self.entries.move_to_end(key)
            while len(self.entries) > self.MAX_ENTRIES:
                self.entries.popitem(last=False)


_local = _LocalCopies()


# --- which requests and responses ---------------------------------------------------------


def request_may_use_cache(request) -> bool:
    """Anonymous, cookie-less (as far as rendering goes) GET/HEAD of a live page; never a preview."""
    if request.method not in ("GET", "HEAD") or request.path.startswith(_skipped_prefixes()):
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


def _skipped_prefixes():
    # Paths that are never pages: not worth a cache round trip (static files, the admin, the API).
    return (settings.STATIC_URL, settings.MEDIA_URL, *settings.PAGE_CACHE_SKIP_PREFIXES)


def _normalized_query(request):
    """`(query, tracked)`: the query string the entry is keyed on, and whether tracking
    parameters were dropped from it; `(None, False)` when the request must bypass the cache.

    Only parameters our pages read are keyed. A shared link's tracking parameters
    (`utm_*`, `fbclid`, …) read the plain URL's entry, but a miss with them is not stored
    (links such as pagination would carry them to everyone). Anything else bypasses the
    cache (rendered, not stored), so random parameters cannot fill it.
    """
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


def _entry_key(request, query):
    # Scheme and host are part of the key: feeds and a few links are absolute.
    raw = f"{request.scheme}://{request.get_host()}{request.path}?{query}"
    return ENTRY_PREFIX + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _is_page_view(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name in settings.PAGE_CACHE_VIEWS


def _refusal(request, response):
    """Why this response must not be stored (None when it may be)."""
    if response.status_code != 200 or response.streaming:
        return "status"
    if not _is_page_view(request):
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
    """A page response that was not (and must not be) cached anywhere on the way."""
    if _is_page_view(request) or getattr(request, "is_preview", False):
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_cache=True)
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
        if _local.is_not_page(request.path):
            return self.get_response(request)
        query, tracked = _normalized_query(request)
        if query is None:
            return _mark_private(request, self.get_response(request), "bypass (parameters)")
        key = _entry_key(request, query)

        now = time.time()
        generation = _local.trusted_generation(now)
        if generation is not None:
            entry = _local.get(key)
            if entry is not None and entry[0] == generation and entry[1] > now:
                return _from_entry(entry, "hit")

        cache = page_cache()
        lock_key = None
        try:
            found = cache.get_many([GENERATION_KEY, key])
            generation = found.get(GENERATION_KEY)
            if generation is None:
                generation = current_generation(cache)
            else:
                _local.know_generation(generation, now)
            entry = found.get(key)
            if entry is not None and entry[0] == generation:
                if entry[1] > now:
                    _local.put(key, entry)
                    return _from_entry(entry, "hit")
                # Stale: one request re-renders, the others keep getting this entry meanwhile.
                if not cache.add(LOCK_PREFIX + key, 1, timeout=LOCK_SECONDS):
                    return _from_entry(entry, "stale")
                lock_key = LOCK_PREFIX + key
        except Exception:  # the cache being down must cost speed, never pages
            logger.warning("page cache unavailable; serving uncached", exc_info=True)
            return _mark_private(request, self.get_response(request))

        response = self.get_response(request)
        if getattr(request, "resolver_match", None) is not None and not _is_page_view(request):
            _local.mark_not_page(request.path)
        refusal = "tracking parameters" if tracked else _refusal(request, response)
        if refusal is None:
            seconds = settings.PAGE_CACHE_SECONDS
            patch_cache_control(response, public=True, max_age=seconds)
            entry = _entry(generation, time.time() + seconds, response)
            _local.put(key, entry)
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


# --- purging ----------------------------------------------------------------------------


def _frontend_cache_enabled():
    return bool(getattr(settings, "WAGTAILFRONTENDCACHE", None))


def _cdn_urls(pages):
    """Full URLs a CDN must drop for these pages: each with its feed, its ancestors, and featuring homepages."""
    from wagtail.contrib.frontend_cache.utils import PurgeBatch

    from home.models import HomePage

    batch = PurgeBatch()
    for page in pages:
        if page is None:
            continue
        related = [page, *page.get_ancestors().filter(depth__gt=1).specific()]
        related += list(HomePage.objects.filter(featured_fund_id=page.pk))
        for each in related:
            batch.add_page(each)
    return batch.urls


def purge_after_commit(pages=(), *, everything=False):
    """After the current transaction commits: bump the generation and purge the CDN.

    Outside a transaction it runs at once. URLs are worked out now, while the pages (and a
    deleted page's ancestors) can still be read. This process's render memo is dropped at
    once, so its own next request (even inside this transaction) renders afresh.
    """
    from fundfill import memo

    memo.forget()
    urls = set()
    if _frontend_cache_enabled():
        try:
            urls = _cdn_urls(pages) if not everything else _cdn_urls(_site_roots())
        except Exception:
            logger.exception("page cache: could not work out the CDN URLs to purge")

    def purge():
        try:
            bump_generation()
        except Exception:
            logger.exception("page cache: could not bump the generation")
        if urls:
            from wagtail.contrib.frontend_cache.utils import purge_urls_from_cache

            purge_urls_from_cache(sorted(urls))

    transaction.on_commit(purge)


def _site_roots():
    from wagtail.models import Site

    return [site.root_page for site in Site.objects.select_related("root_page")]


def _page_changed(sender, instance, **kwargs):
    purge_after_commit([instance])


def _page_moved(sender, instance, parent_page_before=None, url_path_before=None, **kwargs):
    pages = [instance, parent_page_before]
    if url_path_before and _frontend_cache_enabled():
        old = type(instance).objects.get(pk=instance.pk)
        old.url_path = url_path_before  # the address a CDN still holds
        pages.append(old)
    purge_after_commit(pages)


def _page_deleted(sender, instance, **kwargs):
    # Multi-table inheritance sends post_delete once per model in the chain: act once per page.
    if ContentType.objects.get_for_id(instance.content_type_id).model_class() is type(instance):
        purge_after_commit([instance])


def _is_default_row(instance) -> bool:
    """A settings row made on first read (`for_request` creates it with defaults) shows nothing new."""
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        if getattr(instance, field.attname) != field.get_default():
            return False
    return True


def _everything_changed(sender, instance=None, **kwargs):
    purge_after_commit(everything=True)


def connect_signals():
    from wagtail.contrib.settings.models import BaseGenericSetting, BaseSiteSetting
    from wagtail.images import get_image_model
    from wagtail.models import Page, PageViewRestriction, Site
    from wagtail.signals import page_published, page_unpublished, post_page_move

    # publish_scheduled publishes and unpublishes through the same actions, so these fire for it too.
    page_published.connect(_page_changed, dispatch_uid="pagecache.published")
    page_unpublished.connect(_page_changed, dispatch_uid="pagecache.unpublished")
    post_page_move.connect(_page_moved, dispatch_uid="pagecache.moved")

    def page_deleted(sender, instance, **kwargs):
        if isinstance(instance, Page):
            _page_deleted(sender, instance, **kwargs)

    post_delete.connect(page_deleted, weak=False, dispatch_uid="pagecache.deleted")

    def setting_saved(sender, instance, created=False, **kwargs):
        if isinstance(instance, (BaseSiteSetting, BaseGenericSetting)):
            if not (created and _is_default_row(instance)):
                _everything_changed(sender, instance)

    post_save.connect(setting_saved, weak=False, dispatch_uid="pagecache.setting")
    for model in (PageViewRestriction, Site, get_image_model()):
        post_save.connect(_everything_changed, sender=model, dispatch_uid=f"pagecache.save.{model.__name__}")
        post_delete.connect(
            _everything_changed, sender=model, dispatch_uid=f"pagecache.delete.{model.__name__}"
        )
