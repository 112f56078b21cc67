"""Incident communication: the notice switched on can be posted on the social accounts and emailed
to the backers of the funds it names, once per message, through the outbox.

The editor saves the notice through Wagtail's settings form; the rows are delivered by
`manage.py deliver_outbox` into the console channel's log, a local webhook receiver and Django's
locmem mail outbox.
"""

import json
import logging

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from wagtail.models import Site

from bounties.announcers.webhook import new_secret
from bounties.models import Outbox, OutboxStatus, WebhookEndpoint
from home.models import IncidentNotice
from tests.factories import UserFactory
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.money import back

MESSAGE = "Card payments are failing; pledges from your wallet still work."


@pytest.fixture(autouse=True)
def _channels(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.ANNOUNCERS = "console"
    mail.outbox.clear()


@pytest.fixture
def edit_url(site_tree):
    site = Site.objects.get(is_default_site=True)
    return reverse("wagtailsettings:edit", args=["home", "incidentnotice", site.pk])


@pytest.fixture
def backers(fund, make_fund):
    """Ann backs the affected fund, Bob backs it and a second affected one, Cy only an unaffected one."""
    second, unaffected = make_fund(title="Second fund"), make_fund(title="Quiet fund")
    ann, bob, cy = (UserFactory(username=n, email=f"{n}@example.com") for n in ("ann", "bob", "cy"))
    back(ann, fund, 500)
    back(bob, fund, 300)
    back(bob, second, 200)
    back(cy, unaffected, 700)
    return {"affected": [fund, second], "unaffected": unaffected}


def save_notice(client, url, capture, execute=True, **fields):
    data = {"level": "warning", "message": MESSAGE, **fields}
    with capture(execute=execute):
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def notices_mailed():
    """The incident emails in the locmem outbox (the backers' pledge receipts are there too)."""
    return [m for m in mail.outbox if MESSAGE in m.body]


def rows(event):
    return Outbox.objects.filter(event=event).order_by("pk")


def test_switching_the_notice_on_stages_one_post_and_one_email_per_backer_once(
    admin_client, edit_url, backers, django_capture_on_commit_callbacks
):
    funds = [page.pk for page in backers["affected"]]
    save_notice(
        admin_client,
        edit_url,
        django_capture_on_commit_callbacks,
        active="on",
        announce="on",
        affected_funds=funds,
    )

    assert list(rows("incident").values_list("channel", flat=True)) == ["console"]
    # Bob backs both affected funds and gets one email; Cy backs neither and gets none.
    emails = rows("incident_backers")
    assert sorted(emails.values_list("recipient", flat=True)) == ["ann@example.com", "bob@example.com"]
    assert emails.get(recipient="bob@example.com").payload["backs"] == ["Audit TrueCrypt", "Second fund"]

    # The editor saves again (same words, a different level): nothing more is staged.
    save_notice(
        admin_client,
        edit_url,
        django_capture_on_commit_callbacks,
        active="on",
        announce="on",
        affected_funds=funds,
        level="critical",
    )
    assert Outbox.objects.filter(event__startswith="incident").count() == 3

    # New words are a new announcement, to the same people.
    save_notice(
        admin_client,
        edit_url,
        django_capture_on_commit_callbacks,
        active="on",
        announce="on",
        affected_funds=funds,
        message="Card payments work again. Thank you for waiting.",
    )
    assert rows("incident").count() == 2
    assert rows("incident_backers").count() == 4


def test_deliver_outbox_posts_the_notice_and_emails_each_backer_once(
    admin_client, edit_url, backers, django_capture_on_commit_callbacks, caplog, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    caplog.set_level(logging.INFO, logger="fundfill.announce")
    with WebhookReceiver() as receiver:
        WebhookEndpoint.objects.create(url=receiver.url + "/all/", secret=new_secret())
        # The after-commit nudge to the worker is not run: the command (as the sweep would) delivers.
        save_notice(
            admin_client,
            edit_url,
            django_capture_on_commit_callbacks,
            execute=False,
            active="on",
            announce="on",
            affected_funds=[page.pk for page in backers["affected"]],
        )
        assert notices_mailed() == [] and receiver.requests == []
        call_command("deliver_outbox")
        call_command("deliver_outbox")  # a second pass finds nothing left to send

        assert len(receiver.requests) == 1
        body = json.loads(receiver.requests[0].body)
    assert body["type"] == "incident"
    assert body["data"]["text"] == MESSAGE and body["data"]["level"] == "warning"

    posts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("announce incident:")]
    assert len(posts) == 1 and f"{MESSAGE} http://127.0.0.1:8000/" in posts[0]

    assert sorted(m.to[0] for m in notices_mailed()) == ["ann@example.com", "bob@example.com"]
    bobs = next(m for m in notices_mailed() if m.to == ["bob@example.com"])
    assert bobs.subject == f"Fundfill: {MESSAGE}"
    assert MESSAGE in bobs.body and "http://127.0.0.1:8000/pledges/" in bobs.body
    assert "you back Audit TrueCrypt, Second fund" in bobs.body
    assert "List-Unsubscribe" not in bobs.message()  # about their money: no opt-out, like a receipt
    assert not Outbox.objects.exclude(status=OutboxStatus.SENT).filter(event__startswith="incident").exists()


def test_without_announce_only_the_backers_hear_and_without_funds_nobody_is_emailed(
    admin_client, edit_url, backers, django_capture_on_commit_callbacks
):
    save_notice(
        admin_client,
        edit_url,
        django_capture_on_commit_callbacks,
        active="on",
        affected_funds=[backers["unaffected"].pk],
    )
    assert not rows("incident").exists()
    assert list(rows("incident_backers").values_list("recipient", flat=True)) == ["cy@example.com"]

    save_notice(
        admin_client,
        edit_url,
        django_capture_on_commit_callbacks,
        active="on",
        announce="on",
        message="Other.",
    )
    assert rows("incident").count() == 1
    assert rows("incident_backers").count() == 1  # still only Cy's first email


def test_an_inactive_or_refused_notice_tells_nobody(
    admin_client, edit_url, backers, django_capture_on_commit_callbacks
):
    funds = [page.pk for page in backers["affected"]]
    save_notice(
        admin_client, edit_url, django_capture_on_commit_callbacks, announce="on", affected_funds=funds
    )
    assert IncidentNotice.objects.get().affected_funds.count() == 2  # saved, but off: nothing to tell

    # Switched on with no message: the form refuses it and nothing is saved or staged.
    response = admin_client.post(
        edit_url, {"active": "on", "announce": "on", "level": "info", "message": " ", "affected_funds": funds}
    )
    assert response.status_code == 200
    assert "Write the message readers should see" in response.content.decode()
    call_command("deliver_outbox")
    assert not Outbox.objects.filter(event__startswith="incident").exists()
    assert notices_mailed() == []
