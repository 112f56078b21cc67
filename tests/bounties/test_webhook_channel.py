"""The webhook channel: staged events reach the endpoints that want them, signed, once.

A local receiver (tests/fakes/webhook_receiver.py) on 127.0.0.1 records each POST and answers
what the test asks; it verifies signatures with the `standardwebhooks` library itself, as an
integrator would. Loopback is refused by the SSRF guard unless `WEBHOOKS_ALLOW_PRIVATE`, which
each test that talks to the receiver switches on (the `receiver` fixture).
"""

import html
import socket
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

import bounties.announcers.webhook  # noqa: F401  (registers the audience and the sender until ready() does)
from bounties.announcers.webhook import check_url, new_secret, resolve_target, webhook_id
from bounties.models import Outbox, OutboxStatus, WebhookEndpoint
from bounties.services.announcing import stage
from bounties.services.delivery import deliver
from tests.factories import UserFactory
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with WebhookReceiver() as fake:
        yield fake


def endpoint(url, fund=None, **kwargs):
    return WebhookEndpoint.objects.create(url=url, secret=new_secret(), fund_id=fund and fund.pk, **kwargs)


def webhook_rows(key_prefix=""):
    return Outbox.objects.filter(channel="webhook", dedupe_key__startswith=key_prefix).order_by("pk")


def published(fund):
    return stage(key=f"fund:{fund.pk}:published", event="fund_published", fund=fund.pk)


def verified(received, secret) -> dict:
    """What the receiver got, after checking its signature as a Standard Webhooks receiver does."""
    return Webhook(secret).verify(received.body, received.headers)


# --- Who gets a row --------------------------------------------------------------------------------


def test_an_event_reaches_the_site_wide_and_the_funds_endpoints_signed(receiver, fund, make_fund):
    other_fund = make_fund(title="Another fund")
    site_wide = endpoint(receiver.url + "/all/")
    own = endpoint(receiver.url + "/own/", fund=fund)
    endpoint(receiver.url + "/other/", fund=other_fund)
    endpoint(receiver.url + "/off/", active=False)

    published(fund)

    rows = list(webhook_rows())
    assert [row.recipient for row in rows] == [str(site_wide.pk), str(own.pk)]
    assert [row.dedupe_key for row in rows] == [
        f"fund:{fund.pk}:published:webhook:{site_wide.pk}",
        f"fund:{fund.pk}:published:webhook:{own.pk}",
    ]
    assert [deliver(row.pk) for row in rows] == [OutboxStatus.SENT, OutboxStatus.SENT]

    # One POST each, to its own path; nothing to the other fund's endpoint or the inactive one.
    assert [r.path for r in receiver.requests] == ["/all/", "/own/"]
    for received, target, row in zip(receiver.requests, (site_wide, own), rows, strict=True):
        body = verified(received, target.secret)  # raises unless signed with this endpoint's secret
        assert received.headers["webhook-id"] == webhook_id(row)
        assert received.headers["Content-Type"] == "application/json"
        assert body["type"] == "fund_published"
        assert body["data"]["fund"] == fund.pk
        assert body["data"]["fund_title"] == "Audit TrueCrypt"
        assert body["data"]["url"].endswith("/audit-truecrypt/")
        assert "Audit TrueCrypt" in body["data"]["text"]
        row.refresh_from_db()
        assert row.provider_message_id == received.headers["webhook-id"]
    # Signed with the other secret, it does not verify.
    with pytest.raises(Exception, match="signature"):
        verified(receiver.requests[0], own.secret)


def test_the_events_own_facts_go_in_the_data(receiver, fund):
    target = endpoint(receiver.url)
    stage(key=f"fund:{fund.pk}:milestone:50", event="milestone", fund=fund.pk, percent=50)
    deliver(webhook_rows().get().pk)
    body = verified(receiver.requests[0], target.secret)
    assert body["data"]["percent"] == 50
    assert "50%" in body["data"]["text"]


def test_private_events_and_funds_not_announced_reach_no_webhook(receiver, fund):
    endpoint(receiver.url)
    stage(key="deposit:1:received", event="deposit_received", fund=fund.pk, amount_cents=500)
    assert not webhook_rows().exists()

    fund.announce = False
    fund.save()
    published(fund)
    assert not webhook_rows().exists()


# --- What the receiver's answers do ----------------------------------------------------------------


def test_410_gone_disables_the_endpoint_and_later_events_skip_it(receiver, fund):
    target = endpoint(receiver.url)
    published(fund)
    receiver.answer_next(410)

    assert deliver(webhook_rows().get().pk) == OutboxStatus.FAILED

    target.refresh_from_db()
    assert target.active is False
    assert "410 Gone" in target.disabled_reason
    # The next event stages nothing for it, so nothing is posted.
    stage(key=f"fund:{fund.pk}:milestone:25", event="milestone", fund=fund.pk, percent=25)
    assert webhook_rows(f"fund:{fund.pk}:milestone").count() == 0
    assert len(receiver.requests) == 1


def test_a_row_staged_before_the_endpoint_was_disabled_is_not_posted(receiver, fund):
    target = endpoint(receiver.url)
    published(fund)
    WebhookEndpoint.objects.filter(pk=target.pk).update(
        active=False, disabled_reason="Switched off by staff."
    )

    row = webhook_rows().get()
    assert deliver(row.pk) == OutboxStatus.FAILED
    row.refresh_from_db()
    assert "disabled" in row.last_error
    assert receiver.requests == []


def test_429_reschedules_at_retry_after_without_failing(receiver, fund):
    endpoint(receiver.url)
    published(fund)
    receiver.answer_next(429, {"Retry-After": "120"})
    before = timezone.now()

    row = webhook_rows().get()
    assert deliver(row.pk) == OutboxStatus.PENDING

    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 0  # a rate limit spends no attempt
    assert before + timedelta(seconds=119) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=121)
    assert "Rate limited" in row.last_error
    # Not due yet: delivering now posts nothing more.
    assert deliver(row.pk) == OutboxStatus.PENDING
    assert len(receiver.requests) == 1


def test_500_backs_off_then_a_later_delivery_succeeds_with_the_same_id(receiver, fund):
    endpoint(receiver.url)
    published(fund)
    receiver.answer_next(500, body=b"database is down")
    row = webhook_rows().get()

    assert deliver(row.pk) == OutboxStatus.PENDING
    row.refresh_from_db()
    assert row.attempts == 1
    assert row.next_attempt_at > timezone.now()
    assert "500" in row.last_error and "database is down" in row.last_error
    assert deliver(row.pk) == OutboxStatus.PENDING  # backing off: not due, not posted
    assert len(receiver.requests) == 1

    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())  # the backoff has passed
    assert deliver(row.pk) == OutboxStatus.SENT

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the receiver can deduplicate
    assert first.body == second.body


def test_other_4xx_fails_the_row_and_a_dead_receiver_backs_off(receiver, fund):
    endpoint(receiver.url)
    published(fund)
    receiver.answer_next(400, body=b"bad payload")
    row = webhook_rows().get()
    assert deliver(row.pk) == OutboxStatus.FAILED
    row.refresh_from_db()
    assert "400" in row.last_error

    receiver.stop()  # nobody listens on the port any more
    stage(key=f"fund:{fund.pk}:milestone:25", event="milestone", fund=fund.pk, percent=25)
    assert deliver(webhook_rows(f"fund:{fund.pk}:milestone").get().pk) == OutboxStatus.PENDING


def test_an_endpoint_without_a_valid_secret_fails_its_row(receiver, fund):
    target = endpoint(receiver.url)
    WebhookEndpoint.objects.filter(pk=target.pk).update(secret="")
    published(fund)
    row = webhook_rows().get()
    assert deliver(row.pk) == OutboxStatus.FAILED
    row.refresh_from_db()
    assert "secret" in row.last_error and receiver.requests == []


def test_delivering_the_same_row_twice_posts_once(receiver, fund):
    endpoint(receiver.url)
    published(fund)
    row = webhook_rows().get()

    assert deliver(row.pk) == OutboxStatus.SENT
    assert deliver(row.pk) == OutboxStatus.SENT
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_does_not_post_while_the_first_waits_for_the_answer(receiver, site_tree, monkeypatch):
    from bounties.services import announcing
    from tests.factories import FundPageFactory

    monkeypatch.setattr(announcing, "nudge", lambda keys: None)  # this test is the worker
    fund = FundPageFactory(parent=site_tree[1], title="Raced fund")
    endpoint(receiver.url)
    published(fund)  # autocommit: the row is there for the other worker's connection
    row = webhook_rows().get()
    meanwhile = []

    def second_worker(received):
        # Runs in the receiver's thread, with its own connection, while the first POST is unanswered.
        try:
            meanwhile.append(deliver(row.pk))
        finally:
            connection.close()

    receiver.on_request = second_worker
    assert deliver(row.pk) == OutboxStatus.SENT
    assert meanwhile == [OutboxStatus.SENDING]  # the lease was held: no second POST
    assert len(receiver.requests) == 1


def test_a_send_whose_outcome_was_lost_is_sent_again_under_the_same_id(receiver, fund):
    # A worker posted, then died before recording the answer: its lease expires with no provider id.
    endpoint(receiver.url)
    published(fund)
    row = webhook_rows().get()
    assert deliver(row.pk) == OutboxStatus.SENT
    Outbox.objects.filter(pk=row.pk).update(
        status=OutboxStatus.SENDING, provider_message_id="", lease_until=timezone.now() - timedelta(seconds=1)
    )

    # find() cannot ask the receiver, so the row is posted again, with the id the receiver already saw.
    assert deliver(row.pk) == OutboxStatus.SENT
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == webhook_id(row)


# --- SSRF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://192.168.1.10/hook",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://localhost:8000/",  # a name that resolves to loopback
        "file:///etc/passwd",
        "ftp://example.com/",
        "http://user:pass@93.184.216.34/",
    ],
)
def test_private_and_non_http_urls_are_refused(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert check_url(url) is not None


def test_a_public_address_is_accepted(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert check_url("https://93.184.216.34/hooks/fundfill") is None
    assert check_url("http://[2606:4700:4700::1111]:8443/") is None


def test_a_name_with_one_private_address_among_public_ones_is_refused(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    answers = [("93.184.216.34", 443), ("10.1.2.3", 443)]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", sockaddr) for sockaddr in answers],
    )
    assert "10.1.2.3" in check_url("https://hooks.example.com/")


def test_the_send_refuses_an_address_that_became_private_after_saving(receiver, settings, fund):
    endpoint(receiver.url)  # saved while private addresses were allowed (or DNS said otherwise)
    published(fund)
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    row = webhook_rows().get()
    assert deliver(row.pk) == OutboxStatus.FAILED
    row.refresh_from_db()
    assert "loopback" in row.last_error
    assert receiver.requests == []


def test_the_send_connects_to_the_address_it_checked(receiver, fund, monkeypatch):
    # hooks.example resolves (once, at the check) to the receiver; the POST names the host it was given.
    real = socket.getaddrinfo
    port = int(receiver.url.rsplit(":", 1)[1])
    lookups = []

    def resolve(host, *args, **kwargs):
        lookups.append(host)
        return real("127.0.0.1", *args, **kwargs) if host == "hooks.example" else real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    endpoint(f"http://hooks.example:{port}/in")
    published(fund)

    assert deliver(webhook_rows().get().pk) == OutboxStatus.SENT
    assert lookups.count("hooks.example") == 1  # the connection did not look the name up again
    assert receiver.requests[0].headers["Host"] == f"hooks.example:{port}"
    assert receiver.requests[0].path == "/in"


def test_resolve_target_keeps_the_query():
    target = resolve_target("https://93.184.216.34/in?token=abc", allow_private=False)
    assert (target.address, target.port, target.path, target.host_header) == (
        "93.184.216.34",
        443,
        "/in?token=abc",
        "93.184.216.34",
    )


# --- The admin -------------------------------------------------------------------------------------


def messages_of(response) -> list[str]:
    return [html.unescape(str(m)).strip() for m in get_messages(response.wsgi_request)]


@pytest.fixture
def admin_client(client, site_tree):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client


def test_the_admin_form_refuses_a_private_url(admin_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    form = admin_client.get(reverse("webhook_endpoints:add")).content.decode()
    assert 'name="url"' in form and 'name="secret"' in form and "Every fund (site-wide)" in form
    response = admin_client.post(
        reverse("webhook_endpoints:add"), {"url": "http://169.254.169.254/latest/", "active": "on"}
    )
    assert response.status_code == 200
    assert "a link-local address: webhooks go to public addresses only" in html.unescape(
        response.content.decode()
    )
    assert not WebhookEndpoint.objects.exists()


def test_the_admin_generates_a_secret_and_shows_it_once_on_the_edit_page(admin_client, settings, fund):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        reverse("webhook_endpoints:add"),
        {"url": "https://93.184.216.34/hooks/", "fund": fund.pk, "secret": "", "active": "on"},
    )
    created = WebhookEndpoint.objects.get()
    assert created.fund_id == fund.pk
    assert created.secret.startswith("whsec_")
    Webhook(created.secret)  # a valid Standard Webhooks secret
    edit = reverse("webhook_endpoints:edit", args=(created.pk,))
    assert response.status_code == 302 and response.url == edit

    shown = admin_client.get(edit).content.decode()
    assert 'name="new_secret"' in shown and 'name="secret"' not in shown  # the form never shows it
    assert created.secret in html.unescape(shown)
    assert created.secret not in html.unescape(admin_client.get(edit).content.decode())  # once only

    # A new secret on request, shown once; switching it back on clears why it was off.
    WebhookEndpoint.objects.filter(pk=created.pk).update(active=False, disabled_reason="410 Gone")
    response = admin_client.post(
        edit, {"url": created.url, "fund": fund.pk, "active": "on", "new_secret": "on"}
    )
    assert response.status_code == 302
    updated = WebhookEndpoint.objects.get()
    assert updated.secret != created.secret and updated.active and updated.disabled_reason == ""
    assert any(updated.secret in message for message in messages_of(response))


def test_the_admin_keeps_a_pasted_secret_and_checks_it(admin_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    add = reverse("webhook_endpoints:add")
    response = admin_client.post(add, {"url": "https://93.184.216.34/", "secret": "not-a-secret"})
    assert response.status_code == 200 and not WebhookEndpoint.objects.exists()
    secret = new_secret()
    admin_client.post(add, {"url": "https://93.184.216.34/", "secret": secret, "active": "on"})
    assert WebhookEndpoint.objects.get().secret == secret


def test_only_superusers_and_permitted_users_see_the_endpoints(client, site_tree):
    from django.contrib.auth.models import Permission

    editor = UserFactory(username="eddie")
    editor.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(editor)
    index = reverse("webhook_endpoints:index")
    assert client.get(index).status_code in (302, 403)

    editor.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    assert client.get(index).status_code == 200
    assert client.get(reverse("webhook_endpoints:add")).status_code in (302, 403)


def test_the_listing_says_which_fund_and_why_off(admin_client, fund):
    endpoint(
        "https://93.184.216.34/a/", fund=fund, active=False, disabled_reason="The receiver answered 410 Gone"
    )
    page = html.unescape(admin_client.get(reverse("webhook_endpoints:index")).content.decode())
    assert "Audit TrueCrypt" in page and "410 Gone" in page
