"""WSGI entry point (gunicorn fundfill.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fundfill.settings.dev")

application = get_wsgi_application()
