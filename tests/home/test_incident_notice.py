"""The incident notice: an editor switches it on in the admin and every page shows it at once."""

import pytest
from django.test import Client
from django.urls import reverse
from wagtail.models import Site

from home.models import IncidentNotice

MESSAGE = "Pledges are paused while we fix a payment problem."


@pytest.fixture
def edit_url(site_tree):
    site = Site.objects.get(is_default_site=True)
    return reverse("wagtailsettings:edit", args=["home", "incidentnotice", site.pk])


def test_an_editor_switches_the_notice_on_and_a_cached_page_shows_it(
    admin_client, edit_url, fund, page_cache, django_capture_on_commit_callbacks
):
    for path in ["/", "/funds/audit-truecrypt/"]:
        Client().get(path)
        assert Client().get(path)["X-Page-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(edit_url, {"active": "on", "level": "warning", "message": MESSAGE})
    assert response.status_code == 302

    for path in ["/", "/funds/audit-truecrypt/"]:
        html = Client().get(path).content.decode()
        assert (
            f'<div class="notice notice--warning" id="incident-notice" role="status">{MESSAGE}</div>' in html
        )

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(edit_url, {"level": "warning", "message": MESSAGE})  # unchecked: off
    assert MESSAGE not in Client().get("/").content.decode()


def test_a_notice_switched_on_needs_a_message(admin_client, edit_url):
    response = admin_client.post(edit_url, {"active": "on", "level": "critical", "message": " "})
    assert response.status_code == 200
    assert "Write the message readers should see" in response.content.decode()
    assert not IncidentNotice.objects.filter(active=True).exists()


def test_no_notice_by_default(client, site_tree):
    assert 'id="incident-notice"' not in client.get("/").content.decode()
