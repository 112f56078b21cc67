"""Email: double opt-in, who hears what, the list headers, one-click unsubscribe, preferences, the Atom feed.

Rows are staged by the real services (or `announcing.stage` for news, as the publish signal
does) and delivered by the real outbox (`deliver` / `deliver_due`) into Django's locmem backend.
"""

import re
import smtplib
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from pytest_django.asserts import assertContains

import bounties.announcers.email  # noqa: F401  (registers the audience and the sender until ready() does)
from bounties.announcers.email import unsubscribe_token
from bounties.models import EmailPreference, Follower, Outbox, OutboxStatus
from bounties.services import announcing
from bounties.services.claims import claim_submit
from bounties.services.delivery import deliver, deliver_due
from tests.factories import UserFactory
from tests.money import back, top_up

pytestmark = pytest.mark.django_db

DOMAIN = "127.0.0.1"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = f"http://{DOMAIN}:8000"
    settings.ANNOUNCERS = "console"
    settings.FOLLOW_RATE_LIMIT = ""  # the per-IP limit has its own test, on its own address
    mail.outbox.clear()


def follower(fund, email, **kwargs):
    from django.utils import timezone

    return Follower.objects.create(fund_id=fund.pk, email=email, confirmed_at=timezone.now(), **kwargs)


def stage_news(fund, n=1):
    return announcing.stage(
        key=f"news:{fund.pk}-{n}:published",
        event="news_published",
        fund=fund.pk,
        news=n,
        title=f"Audit report {n}",
        path=f"/funds/{fund.slug}/report-{n}/",
    )


def sent_to(address, *, containing=""):
    return [m for m in mail.outbox if m.to == [address] and containing in m.subject]


def header(message, name):
    return message.message()[name]


def link_in(body, pattern):
    return re.search(pattern, body).group(0)


# --- Double opt-in -----------------------------------------------------------------------------


def test_follow_needs_confirmation_and_the_link_works_once(client, fund):
    # The fund page offers the form; it leads to the follow page, which asks for the address.
    assertContains(client.get(fund.url), "Follow this fund by email")
    assertContains(
        client.get(f"/funds/{fund.pk}/follow/?email=reader@example.com"), 'value="reader@example.com"'
    )

    # A reader asks twice in a minute: one pending follow, one confirmation email (the hourly cap).
    for _ in range(2):
        assertContains(
            client.post(f"/funds/{fund.pk}/follow/", {"email": "Reader@Example.com"}), "Check your inbox"
        )
    pending = Follower.objects.get(fund_id=fund.pk, email="reader@example.com")
    assert pending.confirmed_at is None
    assert Outbox.objects.filter(event="follow_confirm", recipient="reader@example.com").count() == 1

    # News published before the click: nothing for the unconfirmed address.
    stage_news(fund)
    deliver_due()
    assert not Outbox.objects.filter(event="news_published", recipient="reader@example.com").exists()
    [confirmation] = sent_to("reader@example.com")
    assert "Confirm" in confirmation.subject
    assert "List-Unsubscribe" not in confirmation.message()  # a transactional email, not list mail
    url = link_in(confirmation.body, r"http://\S+/follow/confirm/\S+/")
    assert url in confirmation.alternatives[0][0]

    # The link shows a button (a scanner's GET confirms nothing); the button confirms.
    path = urlsplit(url).path
    assertContains(client.get(path), "Confirm")
    pending.refresh_from_db()
    assert pending.confirmed_at is None
    assertContains(client.post(path), "Your address is confirmed")
    pending.refresh_from_db()
    assert pending.is_active

    # Used once: the same link is refused, and says so.
    assertContains(client.post(path), "already been used", status_code=400)
    assertContains(client.get(path), "already been used", status_code=400)

    # Now the next news reaches the reader.
    stage_news(fund, 2)
    deliver_due()
    assert len(sent_to("reader@example.com", containing="Audit report 2")) == 1


def test_a_forged_confirmation_link_is_refused_with_a_clear_page(client, fund):
    client.post(f"/funds/{fund.pk}/follow/", {"email": "reader@example.com"})
    pending = Follower.objects.get(email="reader@example.com")
    forged = f"eyJwIjoxfQ:1tVqfF:{'A' * 43}"
    for response in (client.get(f"/follow/confirm/{forged}/"), client.post(f"/follow/confirm/{forged}/")):
        assertContains(response, "This link is not valid", status_code=400)
        assertContains(response, "Nothing was changed", status_code=400)
    pending.refresh_from_db()
    assert pending.confirmed_at is None


def confirm_by_link(client, address):
    """Deliver what is due, open the one confirmation email to `address` and press its Confirm button."""
    deliver_due()
    [message] = [m for m in mail.outbox if m.to == [address] and "Confirm" in m.subject]
    mail.outbox.clear()
    path = urlsplit(link_in(message.body, r"http://\S+/follow/confirm/\S+/")).path
    return client.post(path)


def test_a_signed_in_user_with_an_unconfirmed_address_is_sent_the_link(client, fund, user):
    # Signing up does not verify an address: anyone may register with someone else's. Until the
    # account's address has confirmed a follow, a signed-in follow is a double opt-in like any other.
    client.force_login(user)
    assertContains(
        client.get(fund.url), f'action="/funds/{fund.pk}/follow/"'
    )  # the same form for every reader
    assertContains(
        client.get(f"/funds/{fund.pk}/follow/"), f"Send the confirmation link to {user.email}</button>"
    )
    assertContains(client.post(f"/funds/{fund.pk}/follow/"), "Check your inbox")
    pending = Follower.objects.get(fund_id=fund.pk, email=user.email)
    assert (pending.is_active, pending.user) == (False, user)

    assertContains(confirm_by_link(client, user.email), f"You follow {fund.title}")
    pending.refresh_from_db()
    assert pending.is_active


def test_once_the_address_confirmed_a_follow_the_next_fund_is_one_click(client, fund, make_fund, user):
    client.force_login(user)
    client.post(f"/funds/{fund.pk}/follow/")
    confirm_by_link(client, user.email)

    other = make_fund(title="Fix the kernel bug", slug="fix-the-kernel-bug")
    assertContains(client.get(f"/funds/{other.pk}/follow/"), f"Follow with {user.email}</button>")
    assertContains(client.post(f"/funds/{other.pk}/follow/"), f"You follow {other.title}")
    assert Follower.objects.get(fund_id=other.pk, email=user.email).is_active
    deliver_due()
    assert not sent_to(user.email, containing="Confirm")  # verified by the first link: no second one


def test_a_changed_account_address_must_confirm_again(client, fund, make_fund, user):
    client.force_login(user)
    client.post(f"/funds/{fund.pk}/follow/")
    confirm_by_link(client, user.email)
    user.email = "new-address@example.com"
    user.save(update_fields=["email"])

    other = make_fund(title="Fix the kernel bug", slug="fix-the-kernel-bug")
    assertContains(client.post(f"/funds/{other.pk}/follow/"), "Check your inbox")
    assert not Follower.objects.get(fund_id=other.pk, email=user.email).is_active
    deliver_due()
    assert len(sent_to("new-address@example.com", containing="Confirm")) == 1


def test_an_anonymous_confirmation_of_the_address_does_not_verify_an_account(client, fund, make_fund, user):
    # Someone confirmed a follow for the address without signing in; an account registered with that
    # address later has not shown it controls it.
    client.post(f"/funds/{fund.pk}/follow/", {"email": user.email})
    confirm_by_link(client, user.email)
    client.force_login(user)
    other = make_fund(title="Fix the kernel bug", slug="fix-the-kernel-bug")
    assertContains(client.post(f"/funds/{other.pk}/follow/"), "Check your inbox")
    assert not Follower.objects.get(fund_id=other.pk, email=user.email).is_active


def test_follow_requests_from_one_network_are_limited(client, fund, settings):
    settings.FOLLOW_RATE_LIMIT = "2/h"
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    codes = [
        client.post(
            f"/funds/{fund.pk}/follow/", {"email": f"victim{n}@example.com"}, REMOTE_ADDR=ip
        ).status_code
        for n in range(3)
    ]
    assert codes == [200, 200, 429]
    assert Outbox.objects.filter(event="follow_confirm").count() == 2


# --- Who hears, with which headers --------------------------------------------------------------


def test_news_reaches_followers_and_backers_with_list_headers(fund):
    backer = UserFactory(username="bea")
    back(backer, fund, 5_000)
    follower(fund, "fan@example.com")
    stage_news(fund)
    deliver_due()

    for address in ("fan@example.com", "bea@example.com"):
        [news] = sent_to(address, containing="News from")
        row = Outbox.objects.get(channel="email", event="news_published", recipient=address)
        assert row.status == OutboxStatus.SENT
        assert header(news, "Message-ID") == f"<outbox-{row.pk}@{DOMAIN}>" == row.provider_message_id
        assert header(news, "List-Id") == f'"{fund.title}" <fund-{fund.pk}.{DOMAIN}>'
        assert header(news, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        unsubscribe = header(news, "List-Unsubscribe")
        assert re.fullmatch(rf"<http://{re.escape(DOMAIN)}:8000/email/unsubscribe/\S+/>", unsubscribe)
        # A plain text part and an HTML part, both with the news link and the unsubscribe link.
        html, mimetype = news.alternatives[0]
        assert mimetype == "text/html"
        for part in (news.body, html):
            assert f"/funds/{fund.slug}/report-1/" in part
            assert unsubscribe.strip("<>") in part
    assert "you follow" in sent_to("fan@example.com", containing="News")[0].body
    assert "you back" in sent_to("bea@example.com", containing="News")[0].body
    # The backer's receipts (the payment, the pledge): no unsubscribe link on a receipt.
    receipts = sent_to("bea@example.com", containing="receipt")
    assert [r.subject for r in receipts] == [
        "Fundfill receipt: We received your payment of $50. It is in your Fundfill wallet.",
        f"Fundfill receipt: Your pledge of $50 to {fund.title} is in escrow.",
    ]
    assert all("List-Unsubscribe" not in receipt.message() for receipt in receipts)


def test_a_backer_who_also_follows_gets_one_email(fund):
    backer = UserFactory(username="both")
    back(backer, fund, 5_000)
    follower(fund, "both@example.com", user=backer)
    stage_news(fund)
    deliver_due()
    assert len(sent_to("both@example.com", containing="News from")) == 1
    assert Outbox.objects.filter(channel="email", event="news_published").count() == 1


def test_a_claim_reaches_backers_with_its_vote_link_and_deadline_but_not_followers(fund):
    backer = UserFactory(username="voter")
    back(backer, fund, 5_000)
    follower(fund, "fan@example.com")
    claim = claim_submit(
        user=UserFactory(username="claimant"), fund_id=fund.pk, statement="Done.", url="https://example.com/r"
    )
    deliver_due()
    [email] = sent_to("voter@example.com", containing="claimed")
    assert f"/claims/{claim.pk}/" in email.body
    assert f"{claim.closes_at:%d %b %Y %H:%M}" in email.body
    assert "Read the claim and vote" in email.body
    assert not sent_to("fan@example.com")

    # Its decision is an outcome: followers hear it too.
    announcing.stage(
        key=f"claim:{claim.pk}:decided",
        event="claim_decided",
        fund=fund.pk,
        claim=claim.pk,
        status="rejected",
    )
    deliver_due()
    for address in ("voter@example.com", "fan@example.com"):
        assert len(sent_to(address, containing="rejected a claim")) == 1


# --- Unsubscribe and preferences ------------------------------------------------------------------


def test_one_click_unsubscribe_without_login_stops_everything_after(fund):
    backer = UserFactory(username="leaver")
    back(backer, fund, 5_000)
    follower(fund, "fan@example.com")
    stage_news(fund)
    deliver_due()
    [news] = sent_to("leaver@example.com", containing="News from")
    url = header(news, "List-Unsubscribe").strip("<>")

    # The mail client's RFC 8058 POST: no cookie, no CSRF token, no login.
    browserless = Client(enforce_csrf_checks=True)
    response = browserless.post(
        urlsplit(url).path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assertContains(response, "You are unsubscribed")
    assert Follower.objects.get(fund_id=fund.pk, email="leaver@example.com").unsubscribed_at

    # A row staged already is refused at sending; the next event stages none for the address.
    mail.outbox.clear()
    row = Outbox.objects.get(event="news_published", recipient="leaver@example.com")
    Outbox.objects.filter(pk=row.pk).update(status=OutboxStatus.PENDING, provider_message_id="", attempts=0)
    assert deliver(row.pk) == OutboxStatus.FAILED
    stage_news(fund, 2)
    deliver_due()
    assert not sent_to("leaver@example.com")
    assert not Outbox.objects.filter(
        recipient="leaver@example.com", dedupe_key__startswith=f"news:{fund.pk}-2:"
    ).exists()
    assert len(sent_to("fan@example.com", containing="Audit report 2")) == 1  # others still hear


def test_unsubscribe_get_asks_first_and_a_bad_token_is_refused(client, fund):
    follower(fund, "fan@example.com")
    path = f"/email/unsubscribe/{unsubscribe_token(email='fan@example.com', fund_id=fund.pk)}/"
    assertContains(client.get(path), "Unsubscribe</button>")
    assert Follower.objects.get(email="fan@example.com").is_active  # GET changes nothing
    assertContains(client.post(path), "You are unsubscribed")
    assertContains(client.post("/email/unsubscribe/not-a-token/"), "This link is not valid", status_code=400)


def test_preferences_switch_off_claims_but_never_receipts(client, fund):
    backer = UserFactory(username="quiet")
    back(backer, fund, 5_000)
    client.force_login(backer)
    assertContains(client.get("/email/preferences/"), "always sent")
    client.post("/email/preferences/", {"news": "on", "outcomes": "on"})  # claims unticked
    preference = EmailPreference.objects.get(user=backer)
    assert (preference.news, preference.claims, preference.outcomes) == (True, False, True)

    deliver_due()
    mail.outbox.clear()
    claim_submit(
        user=UserFactory(username="claimant"), fund_id=fund.pk, statement="Done.", url="https://example.com/r"
    )
    top_up(backer, 1_000)  # a receipt
    stage_news(fund)
    deliver_due()
    assert not sent_to("quiet@example.com", containing="claimed")
    assert len(sent_to("quiet@example.com", containing="receipt")) == 1
    assert len(sent_to("quiet@example.com", containing="News from")) == 1


# --- Delivery ------------------------------------------------------------------------------------


def test_delivering_a_row_twice_sends_one_email_and_a_lost_outcome_resends_the_same_message_id(fund):
    follower(fund, "fan@example.com")
    stage_news(fund)
    row = Outbox.objects.get(channel="email", recipient="fan@example.com")
    assert deliver(row.pk) == OutboxStatus.SENT
    assert deliver(row.pk) == OutboxStatus.SENT
    assert len(sent_to("fan@example.com")) == 1

    # A worker that died mid-send (lease expired, nothing recorded): the row is sent again under the
    # same Message-ID, which is how receiving systems recognise the duplicate.
    from django.utils import timezone

    Outbox.objects.filter(pk=row.pk).update(
        status=OutboxStatus.SENDING, provider_message_id="", lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert deliver(row.pk) == OutboxStatus.SENT
    first, second = sent_to("fan@example.com")
    assert header(first, "Message-ID") == header(second, "Message-ID") == f"<outbox-{row.pk}@{DOMAIN}>"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (smtplib.SMTPRecipientsRefused({"fan@example.com": (550, b"no such user")}), OutboxStatus.FAILED),
        (smtplib.SMTPRecipientsRefused({"fan@example.com": (451, b"try later")}), OutboxStatus.PENDING),
        (smtplib.SMTPServerDisconnected("gone"), OutboxStatus.PENDING),
        (ConnectionRefusedError(111, "refused"), OutboxStatus.PENDING),
    ],
)
def test_smtp_errors_are_permanent_only_when_the_recipient_is_refused_for_good(
    fund, monkeypatch, error, status
):
    follower(fund, "fan@example.com")
    stage_news(fund)
    row = Outbox.objects.get(channel="email", recipient="fan@example.com")

    def refuse(self, fail_silently=False):
        raise error

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    assert deliver(row.pk) == status
    row.refresh_from_db()
    assert row.last_error


# --- The Atom feed -------------------------------------------------------------------------------


def test_the_atom_feed_lists_each_announcement_once(client, fund, settings):
    settings.ANNOUNCERS = "console,twitter"  # two channels: still one entry per event
    stage_news(fund)
    announcing.stage(key=f"milestone:{fund.pk}:25", event="milestone", fund=fund.pk, percent=25)
    top_up(UserFactory(username="private"), 1_000)  # a receipt is never announced

    response = client.get(f"/funds/{fund.slug}/announcements.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    atom = "{http://www.w3.org/2005/Atom}"
    entries = ET.fromstring(response.content).findall(f"{atom}entry")
    titles = [entry.find(f"{atom}title").text for entry in entries]
    assert len(titles) == 2
    assert any("reached 25%" in title for title in titles)
    assert any("Audit report 1" in title for title in titles)
    links = {entry.find(f"{atom}link").get("href") for entry in entries}
    assert f"http://{DOMAIN}:8000/funds/{fund.slug}/report-1/" in links
    assert client.get("/funds/no-such-fund/announcements.atom").status_code == 404
