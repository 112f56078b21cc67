"""Production settings (as `tests.served_settings`) with a view that fails the way a bug does, at /boom/."""

from tests.served_settings import *  # noqa: F403

ROOT_URLCONF = "tests.monitoring.urls"
