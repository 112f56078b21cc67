"""What only a publish can change, remembered per process until the next publish.

A page-cache miss, and every page a signed-in reader sees, used to walk the URL, check
view restrictions, read the incident notice, build the link-preview tags and list the
fund's news: most of a render's queries and ORM work (bench/pages.py, "cold" against
"uncached"). None of it changes between publishes, and everything that can change
it (publishing, unpublishing, moving or deleting a page, a view restriction, a setting,
a Site, an image) bumps the page cache's generation (`pagecache.generation`). So each
process keeps those answers for the generation it reads at the start of a request, and
starts over when the generation moves: the same rule, and the same freshness, as the
page cache. Money (a fund's pledged total, backers, status) is never remembered here:
templates read it on every render.

It needs a shared cache for the generation: Redis, or the database cache that is the
default without `REDIS_URL` (`make run` too), where a publish by the worker or by another
web process moves the one generation every process reads. With a per-process cache
(local memory) it stays off: another process's publish would never reach this memo.
Only requests stamped by `stamp` use it: live pages, GET or HEAD, whose route the site root
remembers (`pagecache.serving.FastRouteMixin`), and search; previews, the admin and forms
never do. Values are stored pickled and unpickled for each request, so no two requests
share a model instance that Wagtail or a template may cache things on. The stamp is this
module's own request attribute; nothing here writes Wagtail's or Django's.
"""

import logging
import pickle
import threading
from collections import OrderedDict

from django.conf import settings
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from pagecache.generation import page_cache, request_generation

logger = logging.getLogger(__name__)

_ATTR = "_fundfill_memo_generation"
MAX_ENTRIES = 2048


class _Memo:
    def __init__(self):
        self.lock = threading.Lock()
        self.generation = None
        self.entries = OrderedDict()
        # Bumped at once (not after commit) when this process changes something: its own
        # next request, even inside the same transaction (as in tests), starts over.
        self.epoch = 0

    def get(self, generation, key):
        with self.lock:
            if generation != self.generation:
                return None
            return self.entries.get(key)

    def put(self, generation, key, value):
        with self.lock:
            if generation != self.generation:
                if self.generation is not None and generation < self.generation:
                    return  # a slow request from before the last change: keep the newer entries
                self.generation = generation
                self.entries.clear()
            self.entries[key] = value
            while len(self.entries) > MAX_ENTRIES:
                self.entries.popitem(last=False)

    def forget(self):
        with self.lock:
            self.epoch += 1
            self.generation = None
            self.entries.clear()


_memo = _Memo()


def stamp(request) -> bool:
    """Let this request use the memo: read the generation once, before anything is rendered.

    A render that races a publish is then stored under the old generation and never used
    again. When the cache cannot be read the request simply renders without the memo.
    Returns whether the request may use it.
    """
    if not settings.PAGE_MEMO or isinstance(page_cache(), (LocMemCache, DummyCache)):
        # A per-process cache holds a per-process generation: another process's publish
        # (the worker's scheduled publishing) would never reach this one's memo.
        return False
    try:
        shared = request_generation()
    except Exception:
        logger.warning("page memo: generation unavailable; rendering without it", exc_info=True)
        return False
    setattr(request, _ATTR, (shared, _memo.epoch))
    return True


def is_stamped(request) -> bool:
    """Whether `stamp` let this request use the memo (and it is no preview)."""
    return (
        request is not None
        and getattr(request, _ATTR, None) is not None
        and not getattr(request, "is_preview", False)
    )


def remember(request, key, compute):
    """`compute()`, or what it returned for `key` earlier in this generation."""
    if not is_stamped(request):
        return compute()
    generation = getattr(request, _ATTR)
    stored = _memo.get(generation, key)
    if stored is not None:
        return pickle.loads(stored)
    value = compute()
    try:
        stored = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except Exception:
        logger.warning("page memo: %r cannot be remembered", key, exc_info=True)
        return value
    _memo.put(generation, key, stored)
    return value


def forget():
    """Drop everything this process remembers (a change here, or a new test)."""
    _memo.forget()
