"""The database cache (the shared cache without REDIS_URL): its table comes from `migrate`, and
`incr` is atomic across connections and keeps the key's expiry (pagecache/backends.py)."""

import uuid

import pytest
from django.db import connection

from pagecache.backends import DATABASE_CACHE_TABLE, DatabaseCache
from tests.integration import run_concurrently


@pytest.fixture
def cache():
    return DatabaseCache(DATABASE_CACHE_TABLE, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})


def expires_of(cache, key):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT expires FROM {DATABASE_CACHE_TABLE} WHERE cache_key = %s", [cache.make_key(key)]
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_incr_keeps_the_expiry_a_rate_limit_window_was_added_with(cache):
    cache.add("window", 0, timeout=60)
    added = expires_of(cache, "window")

    assert cache.incr("window") == 1
    assert cache.incr("window", 5) == 6

    assert expires_of(cache, "window") == added  # Django's incr would reset it to the default 300 s
    assert cache.get("window") == 6


@pytest.mark.django_db
def test_incr_of_a_missing_or_expired_key_raises(cache):
    with pytest.raises(ValueError):
        cache.incr("absent")
    cache.set("gone", 1, timeout=-1)
    with pytest.raises(ValueError):
        cache.incr("gone")


@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_are_never_lost(cache):
    """Eight connections count at once: a lost update here would be a page-cache generation
    that stepped back (pagecache/generation.py)."""
    cache.add("generation", 0, timeout=None)

    def count():
        return [cache.incr("generation") for _ in range(10)]

    results = run_concurrently([count] * 8)

    seen = [value for result in results for value in result]
    assert sorted(seen) == list(range(1, 81))  # every increment returned its own number
    assert cache.get("generation") == 80
