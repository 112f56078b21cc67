"""Tests: PostgreSQL started by the test harness, fast hashing, no real services."""

import os

from .base import *  # noqa: F403

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["*"]

if os.environ.get("FUNDFILL_TEST_DATABASE_URL"):
    DATABASES = {  # noqa: F405
        "default": dj_database_url.parse(  # noqa: F405
            os.environ["FUNDFILL_TEST_DATABASE_URL"], conn_max_age=0
        )
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
MEDIA_ROOT = Path(os.environ.get("FUNDFILL_TEST_MEDIA_ROOT", "/tmp/fundfill-test-media"))  # noqa: F405
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
# Serve static files straight from the finders; no collectstatic before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
REDIS_URL = os.environ.get("FUNDFILL_TEST_REDIS_URL", "")
FUNDFILL_ALLOW_FAULTS = True  # control tests switch FUNDFILL_FAULTS on
# The real cache in tests: Redis from the harness. base.py chose CACHES from the environment
# at import, before REDIS_URL was known here. xdist workers share one Redis: prefix per worker.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "pagecache.backends.RedisCache",  # Django's, reusing its client (pagecache/backends.py)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"fundfill-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}",
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"  # as base.py with REDIS_URL
# Off by default: most tests build pages and read them back inside one transaction, where no
# purge can run. The page-cache tests switch it on (tests/pagecache/test_middleware.py).
PAGE_CACHE = False
