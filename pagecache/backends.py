"""The shared cache's two backends: Django's Redis and database caches, each with one fix.

**Redis** (`REDIS_URL`): Django's `RedisCacheClient.get_client()` builds a new
`redis.Redis` object on every cache call; with redis-py 8 that object sets up ~170
response callbacks first, which profiled at about half of a page-cache hit. A
`redis.Redis` is only a thin, thread-safe front on its connection pool, so we build one
per pool and reuse it. Everything else (serialisation, keys, timeouts) is Django's.

**The database** (no `REDIS_URL`): the cache every process shares when there is no Redis,
so a publish in the worker or in another web process reaches every process (the page
cache's generation, `pagecache.generation`). Its table is created by a migration
(`pagecache/migrations/0001_cache_table.py`), so `migrate` is all a deployment needs.
Django's `incr` is a read and then a `set`: two processes counting at once can both
write the same number (the page cache's generation could even step *back* and bring a
purged entry to life), and the `set` gives the key the default timeout, which would
stretch a rate-limit window (django-ratelimit adds the key with its window, then
`incr`s it). Ours locks the row and rewrites only its value: atomic, expiry kept.
"""

import base64
import pickle

from django.core.cache.backends import db as django_db
from django.core.cache.backends import redis as django_redis
from django.db import connections, router, transaction

DATABASE_CACHE_TABLE = "fundfill_cache"
_MISSING = object()


class ReusingRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(django_redis.RedisCache):
    """`django.core.cache.backends.redis.RedisCache` with one client object per connection pool."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient


class DatabaseCache(django_db.DatabaseCache):
    """`django.core.cache.backends.db.DatabaseCache` with an atomic `incr` that keeps the key's expiry."""

    def __init__(self, table, params):
        super().__init__(table, params)
        self.table = table

    def incr(self, key, delta=1, version=None):
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        quote = connection.ops.quote_name
        table, cache_key = quote(self.table), quote("cache_key")
        stored_key = self.make_and_validate_key(key, version=version)
        # SQLite has no row locks; its write lock, taken at BEGIN (IMMEDIATE, settings/base.py)
        # or at the UPDATE, serialises the same way.
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(f"SELECT {cache_key} FROM {table} WHERE {cache_key} = %s{lock}", [stored_key])
            value = self.get(key, _MISSING, version=version)  # expired reads as missing
            if value is _MISSING:
                raise ValueError(f"Key '{key}' not found")
            value += delta
            # Stored as Django's DatabaseCache stores values: the pickle, in base64.
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                f"UPDATE {table} SET {quote('value')} = %s WHERE {cache_key} = %s", [encoded, stored_key]
            )
        return value
