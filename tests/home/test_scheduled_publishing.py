"""Scheduled publishing runs by itself: the worker's schedule calls Wagtail's `publish_scheduled`."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler
from wagtail.models import Revision

from home.models import HomePage
from tests.pages_html import head_and_hero_text, parse_page


def hero(client=None):
    """What the homepage's <head> and hero say: the featured fund, and not the list of the others."""
    return head_and_hero_text(parse_page((client or Client()).get("/").content))


def test_the_worker_publishes_a_scheduled_featured_fund(home_page, make_fund):
    a = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt")
    b = make_fund(title="Bypass TouchID", slug="bypass-touchid")
    home_page.featured_fund = a
    home_page.save_revision().publish()
    assert "Audit TrueCrypt" in hero()

    # "Feature B from 9:00", and 9:00 has come.
    home = HomePage.objects.get(pk=home_page.pk)
    home.featured_fund = b
    home.go_live_at = timezone.now() + timedelta(hours=1)
    revision = home.save_revision()
    revision.publish()
    past = timezone.now() - timedelta(minutes=1)
    revision = Revision.objects.get(pk=revision.pk)
    revision.content["go_live_at"] = past.isoformat()
    revision.approved_go_live_at = past
    revision.save(update_fields=["content", "approved_go_live_at"])
    assert "Audit TrueCrypt" in hero()

    schedule = Schedule.objects.get(name="publish scheduled pages")
    assert (schedule.func, schedule.minutes, schedule.repeats) == (
        "home.tasks.publish_scheduled_pages",
        1,
        -1,
    )
    # Only this schedule is due: with Q_CLUSTER sync in tests a task runs inside the scheduler's own
    # transaction, where the money sweeps (which call providers only after a commit) refuse to run.
    Schedule.objects.exclude(pk=schedule.pk).update(next_run=timezone.now() + timedelta(hours=1))
    scheduler()  # the worker's scheduler tick (tasks run in-process: Q_CLUSTER sync in tests)

    shown = hero()
    assert "Bypass TouchID" in shown and "Audit TrueCrypt" not in shown
    schedule.refresh_from_db()
    assert schedule.next_run > timezone.now()  # and it runs again in a minute
