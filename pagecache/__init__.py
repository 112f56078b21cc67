"""The anonymous page cache, its purge generation and the render memo (Django and Wagtail public APIs only).

- `pagecache.middleware`: whole anonymous page responses, in the shared cache.
- `pagecache.generation`: the one number that purges every entry and memo in every process.
- `pagecache.purge`: what bumps it (Wagtail's signals), and the CDN purge.
- `pagecache.memo` and `{% remember %}` (`memo_tags`): what only a publish changes, kept per process.
- `pagecache.serving`: page mixins on Wagtail's own `route` and `get_view_restrictions` that
  remember their answers until the next publish (Wagtail's `wagtail_serve` serves every page).
- `pagecache.backends`: the shared cache's Redis and database backends.

It imports no app of this project: apps import it.
"""
