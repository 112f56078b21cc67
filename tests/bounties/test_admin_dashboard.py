"""The admin dashboard's Fundfill panels: a worked example of what staff see first, and who sees which panel."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from bounties import selectors
from bounties.models import Outbox, OutboxStatus
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.pledging import pledge_withdraw
from bounties.services.proposals import proposal_submit
from tests.bounties.test_proposals import proposal_fields
from tests.factories import UserFactory
from tests.money import back
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db

PANELS = {
    "closing": "fundfill-funds-closing-soon",
    "claims": "fundfill-claims-under-vote",
    "money": "fundfill-money-today",
    "proposals": "fundfill-proposals-in-review",
    "failed": "fundfill-failed-announcements",
}


@pytest.fixture
def site(make_fund):
    """Five funds around the seven-day line, four backers, a claim, a proposal and two announcements."""
    now = timezone.now()
    truecrypt = make_fund(title="Audit TrueCrypt", slug="truecrypt", pledge_deadline=now + timedelta(days=5))
    tor = make_fund(title="Port Tor to Rust", slug="tor", pledge_deadline=now + timedelta(days=3))
    signal = make_fund(title="Audit Signal", slug="signal", pledge_deadline=now + timedelta(days=1))
    make_fund(title="Audit VeraCrypt", slug="veracrypt", pledge_deadline=now + timedelta(days=8))
    make_fund(title="Fix Heartbleed", slug="heartbleed", pledge_deadline=now - timedelta(hours=1))
    make_fund(title="Bypass TouchID", slug="touchid", pledge_deadline=now + timedelta(days=2)).unpublish()

    # Alice pledges $25 and Bob $12.50 to TrueCrypt; Carol $60 to Tor; Dave $20 to Tor, then withdraws it.
    alice, bob, carol, dave = (UserFactory(username=name) for name in ("alice", "bob", "carol", "dave"))
    back(alice, truecrypt, 2_500)
    back(bob, truecrypt, 1_250)
    back(carol, tor, 6_000)
    pledge_withdraw(user=dave, pledge_id=back(dave, tor, 2_000).pk)

    # Quinn claims TrueCrypt: it is under vote, so no longer open for the "closing soon" list.
    claim = claim_submit(
        user=UserFactory(username="quinn"),
        fund_id=truecrypt.pk,
        statement="I audited it.",
        url="https://example.com/r",
    )
    # $12.50 of $37.50 rejecting: not yet half, so the vote stays open.
    vote_cast(user=bob, claim_id=claim.pk, approve=False, reason="Appendix B is missing.")

    # Erin proposes a fund: it waits in "Fund review".
    erin = UserFactory(username="erin", email="erin@example.com")
    erin.date_joined = now - timedelta(days=60)
    erin.save(update_fields=["date_joined"])
    proposal = proposal_submit(user=erin, fields=proposal_fields(hashtag="")).page

    # One announcement gave up, one was sent.
    failed = Outbox.objects.create(
        dedupe_key="fund_created:tor:mastodon",
        event="fund_created",
        channel="mastodon",
        fund_id=tor.pk,
        status=OutboxStatus.FAILED,
        attempts=8,
        last_error="HTTP 502 from the instance",
    )
    Outbox.objects.create(
        dedupe_key="fund_created:signal:mastodon", event="fund_created", status=OutboxStatus.SENT
    )
    return {"tor": tor, "signal": signal, "claim": claim, "proposal": proposal, "failed": failed}


def dashboard(client, user):
    client.force_login(user)
    response = client.get(reverse("wagtailadmin_home"))
    assert response.status_code == 200
    return parse_html(response.content)


def panel(page, key):
    (found,) = page.find_all(id=f"{PANELS[key]}-content")
    return found


def links(element) -> list[str]:
    return [a.get("href") for a in element.find_all("a")]


def test_a_superuser_sees_every_panel_with_the_worked_example(client, site):
    page = dashboard(client, UserFactory(username="root", is_staff=True, is_superuser=True))

    # Closing soon: Signal (1 day) then Tor (3 days). Not TrueCrypt (under vote), VeraCrypt (8 days),
    # Heartbleed (closed an hour ago) or TouchID (not live).
    closing = panel(page, "closing")
    assert "2 open funds stop taking pledges in the next 7 days (times in UTC)" in closing.text
    rows = [row.find("a").text for row in closing.find("tbody").find_all("tr")]
    assert rows == ["Audit Signal", "Port Tor to Rust"]
    assert links(closing) == [
        reverse("wagtailadmin_pages:edit", args=(site["signal"].pk,)),
        reverse("wagtailadmin_pages:edit", args=(site["tor"].pk,)),
    ]
    assert "$60 of $1,000" in closing.text  # Carol's pledge stays; Dave's went back to his wallet

    # Claims under vote: Quinn's, with the time left and Bob's $12.50 rejecting of $37.50 eligible.
    claims = panel(page, "claims")
    assert "1 claim under vote." in claims.text
    assert reverse("money_claims:inspect", args=(site["claim"].pk,)) in links(claims)
    assert reverse("money_claims:index") + "?status=voting" in links(claims)
    assert "Audit TrueCrypt" in claims.text and "quinn" in claims.text
    assert "2\u00a0days, 23\u00a0hours left" in claims.text  # a 72-hour window opened moments ago
    assert "$0 / $12.50 of $37.50" in claims.text

    # Money today: four pledges reached escrow today ($25 + $12.50 + $60 + $20 = $117.50);
    # Dave's $20 has left it again, so escrow holds $97.50.
    money = panel(page, "money")
    assert "4 pledges, $117.50" in money.text
    assert "In escrow now (every fund) $97.50" in money.text
    today = timezone.localdate().isoformat()
    assert f"{reverse('money_pledges:index')}?created_from={today}&created_to={today}" in links(money)

    # Proposals awaiting review: Erin's, linking to its edit view.
    proposals = panel(page, "proposals")
    assert "1 fund proposal in “Fund review”" in proposals.text
    assert "Audit the OpenSSL heartbeat code" in proposals.text and "erin" in proposals.text
    assert links(proposals) == [reverse("wagtailadmin_pages:edit", args=(site["proposal"].pk,))]

    # Failed announcements: the Mastodon post about Tor, not the one that was sent.
    failed = panel(page, "failed")
    assert "1 outbox row gave up after retrying." in failed.text
    assert "HTTP 502 from the instance" in failed.text and "Port Tor to Rust" in failed.text
    assert links(failed) == [
        reverse("money_outbox:index") + "?status=failed",
        reverse("money_outbox:inspect", args=(site["failed"].pk,)),
    ]


def test_the_money_figures_are_the_days_and_the_ledgers(site):
    now = timezone.now()
    today = selectors.money_today(now=now)
    assert (today.pledge_count, today.pledged_cents, today.escrow_cents) == (4, 11_750, 9_750)
    # Tomorrow none of these pledges is today's; the escrow is what it is.
    tomorrow = selectors.money_today(now=now + timedelta(days=1))
    assert (tomorrow.pledge_count, tomorrow.pledged_cents, tomorrow.escrow_cents) == (0, 0, 9_750)


def test_panels_say_when_there_is_nothing(client, fund_index):
    page = dashboard(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    assert "No open fund closes in the next 7 days." in panel(page, "closing").text
    assert "No claim is under vote." in panel(page, "claims").text
    assert "0 pledges, $0" in panel(page, "money").text
    assert "No proposal is waiting for review." in panel(page, "proposals").text
    assert "No announcement has failed." in panel(page, "failed").text


def test_editors_see_funds_and_proposals_but_no_money(client, site):
    editor = UserFactory(username="eddie", is_staff=True)
    editor.groups.add(Group.objects.get(name="Editors"))
    page = dashboard(client, editor)
    assert panel(page, "closing") and panel(page, "proposals")
    for key in ("claims", "money", "failed"):
        assert not page.find_all(id=f"{PANELS[key]}-content"), key
    assert "$117.50" not in page.text and "$97.50" not in page.text


def test_finance_staff_see_the_money_only(client, site):
    finance = UserFactory(username="fiona", is_staff=True)
    finance.groups.add(Group.objects.get(name="Finance"))
    page = dashboard(client, finance)
    assert "4 pledges, $117.50" in panel(page, "money").text
    for key in ("closing", "claims", "proposals", "failed"):
        assert not page.find_all(id=f"{PANELS[key]}-content"), key
