"""django-q2 tasks for the site's pages."""

from django.core.management import call_command


def publish_scheduled_pages():
    """Wagtail's scheduled publishing ("feature fund X from 9:00"), run every minute by the worker.

    Publishing sends the same signals as in the admin, so the page cache and the render
    memo are purged for every server process (through the shared generation).
    """
    call_command("publish_scheduled", verbosity=0)
