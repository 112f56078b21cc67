"""Editors see what was announced for a fund and write their own; failed rows can be retried."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.html import escape

from bounties.models import Outbox, OutboxStatus
from bounties.services.announcing import stage
from bounties.services.delivery import deliver
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def announcements_url(fund):
    return reverse("bounties_fund_announcements", args=(fund.pk,))


def test_the_fund_page_editor_links_to_its_announcements(admin_client, fund):
    edit = admin_client.get(reverse("wagtailadmin_pages:edit", args=(fund.pk,))).content.decode()
    assert announcements_url(fund) in edit


def test_a_custom_announcement_goes_through_the_outbox(admin_client, fund):
    response = admin_client.post(announcements_url(fund), {"text": "Audit report due Friday."})
    assert response.status_code == 302
    row = Outbox.objects.get(event="custom", channel="console")
    assert (row.fund_id, row.payload["text"]) == (fund.pk, "Audit report due Friday.")

    page = admin_client.get(announcements_url(fund)).content.decode()
    assert "custom" in page and "console" in page


def test_an_empty_or_long_announcement_is_a_form_error(admin_client, fund):
    for text in ("", "x" * 241):
        response = admin_client.post(announcements_url(fund), {"text": text})
        assert response.status_code == 200
        assert not Outbox.objects.filter(event="custom").exists()


def test_announcements_off_queues_nothing_and_says_so(admin_client, fund):
    type(fund).objects.filter(pk=fund.pk).update(announce=False)
    response = admin_client.post(announcements_url(fund), {"text": "Hello"}, follow=True)
    assert "Nothing was queued" in response.content.decode()
    assert not Outbox.objects.filter(event="custom").exists()


def test_someone_who_cannot_edit_the_fund_is_refused(client, fund):
    backer = UserFactory(username="backer", is_staff=True)
    backer.groups.add(Group.objects.get_or_create(name="Nobody")[0])
    client.force_login(backer)
    response = client.post(announcements_url(fund), {"text": "Spam"})
    assert response.status_code in (302, 403)
    assert not Outbox.objects.filter(event="custom").exists()


def test_a_failed_row_is_retried_from_its_inspect_view(admin_client, fund):
    stage(key="custom:x", event="custom", fund=fund.pk, text="Hi")
    row = Outbox.objects.get(event="custom")
    Outbox.objects.filter(pk=row.pk).update(status=OutboxStatus.FAILED, attempts=8, last_error="boom")

    inspect = admin_client.get(reverse("money_outbox:inspect", args=(row.pk,))).content.decode()
    retry_url = reverse("money_outbox:retry", args=(row.pk,))
    assert retry_url in inspect

    admin_client.post(retry_url)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 0, "")


def test_retry_is_refused_to_editors_without_the_permission(client, fund):
    stage(key="custom:y", event="custom", fund=fund.pk, text="Hi")
    row = Outbox.objects.get(event="custom")
    Outbox.objects.filter(pk=row.pk).update(status=OutboxStatus.FAILED)
    client.force_login(UserFactory(username="ed", is_staff=True))
    client.post(reverse("money_outbox:retry", args=(row.pk,)))
    assert Outbox.objects.get(pk=row.pk).status == OutboxStatus.FAILED


def test_the_outbox_listing_says_a_row_was_deferred_by_the_daily_cap(admin_client, fund, settings):
    settings.ANNOUNCE_DAILY_CAP = {"console": 1}
    for n in range(2):
        stage(key=f"custom:cap{n}", event="custom", fund=fund.pk, text=f"Post {n}")
    first, second = Outbox.objects.filter(event="custom").order_by("pk")
    assert deliver(first.pk) == OutboxStatus.SENT
    assert deliver(second.pk) == OutboxStatus.PENDING
    second.refresh_from_db()
    assert second.last_error.startswith("Deferred to ")

    listing = admin_client.get(reverse("money_outbox:index")).content.decode()
    # The listing itself says why the row waits, not only its inspect page.
    assert escape(second.last_error) in listing
