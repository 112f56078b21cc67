"""The purge generation: one number in the shared cache that every cached page and memo entry is stamped with.

Anything that can change what some page shows bumps it after commit (`pagecache.purge`),
and an entry from another generation is a miss. It must live where every process that
publishes and every process that serves reads it: Redis, or the database cache without it
(`pagecache.backends`). Each process keeps its last read for `PAGE_CACHE_LOCAL_SECONDS` and
the entries it served (`LocalCopies`), so a hit costs no round trip; the process that bumps
sees the new number at once, the others within that interval.
"""

import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.core.cache import caches

GENERATION_KEY = "pagecache:generation"


def page_cache():
    """The shared cache that holds the generation and the pages (`PAGE_CACHE_ALIAS`)."""
    return caches[settings.PAGE_CACHE_ALIAS]


def _new_generation():
    # A fresh start (first use, or the key was evicted) must not equal any stored entry's
    # generation: start from the clock, then count up.
    return time.time_ns()


def current_generation(cache=None):
    """The shared generation, read now (and remembered by this process)."""
    cache = cache or page_cache()
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, _new_generation(), timeout=None)
        generation = cache.get(GENERATION_KEY)
    local.know_generation(generation)
    return generation


def request_generation():
    """The generation a render starts from: this process's trusted copy, else read from the cache."""
    generation = local.trusted_generation(time.time())
    return generation if generation is not None else current_generation()


def bump_generation():
    """Make every cached page and memo entry a miss. Call after commit (`pagecache.purge.purge_after_commit`)."""
    cache = page_cache()
    try:
        generation = cache.incr(GENERATION_KEY)
    except ValueError:  # missing: any new value invalidates every entry
        cache.add(GENERATION_KEY, _new_generation(), timeout=None)
        generation = cache.get(GENERATION_KEY)
    local.know_generation(generation)  # this process's very next request sees it
    return generation


class LocalCopies:
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


local = LocalCopies()
