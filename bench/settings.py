"""Production settings, with static files collected into the bench's temp dir.

Everything else comes from `fundfill.settings.production` and the environment the
bench sets (SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS, ...). Only STATIC_ROOT moves, so
a bench run never writes into the working tree.
"""

import os

from fundfill.settings.production import *  # noqa: F403

STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
