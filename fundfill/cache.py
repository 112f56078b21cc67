"""Django's Redis cache backend, minus a per-call cost that dominated page-cache hits.

Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` object on every
cache call; with redis-py 8 that object sets up ~170 response callbacks first, which
profiled at about half of a page-cache hit. A `redis.Redis` is only a thin, thread-safe
front on its connection pool, so we build one per pool and reuse it. Everything else
(serialisation, keys, timeouts) is Django's.
"""

from django.core.cache.backends import redis as django_redis


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
