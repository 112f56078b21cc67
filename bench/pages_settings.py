"""bench/pages.py's settings: the bench's production settings, plus a bare view in the site's own stack."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.pages_urls"
