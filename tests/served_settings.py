"""Production settings for a gunicorn a test starts: static files from the finders, no collectstatic.

Everything else is `fundfill.settings.production` and the environment the test sets.
"""

from fundfill.settings.production import *  # noqa: F403

STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
