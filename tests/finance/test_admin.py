"""The Finance admin as its users meet it: the dashboard panel, the stuck-money page, the support
actions' forms, a user's money story and a fund's money, as a Finance member, as an editor (403)
and signed out (the admin's login page). Driven through Django's test client."""

import html
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from wagtail.models import ModelLogEntry

from bounties.models import Outbox, Pledge, PledgeStatus, Transfer
from bounties.services.ledger import ledger_violations
from bounties.services.pledging import pledge_withdraw
from tests.factories import UserFactory
from tests.money import back

pytestmark = pytest.mark.django_db

LOGIN = reverse("wagtailadmin_login")


def text(response) -> str:
    """The page's text, tags stripped and whitespace folded, for reading like a person."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def said(response) -> list[str]:
    return [html.unescape(str(m)).strip() for m in get_messages(response.wsgi_request)]


def post(client, url, data):
    """Post as the form does; the messages it answered with; then follow the redirect, which shows them."""
    response = client.post(url, data)
    messages = said(response)
    if response.status_code == 302:
        client.get(response.url)
    return response, messages


def urls(waiting_pledge=None, paid_pledge=None, failed_refund=None, failed_payout=None):
    return [
        reverse("finance:stuck"),
        reverse("finance:find_user"),
        *([reverse("finance:pledge_complete", args=(paid_pledge.pk,))] if paid_pledge else []),
        *([reverse("finance:refund_retry", args=(failed_refund.pk,))] if failed_refund else []),
        *([reverse("finance:payout_retry", args=(failed_payout.pk,))] if failed_payout else []),
        *([reverse("finance:contact", args=("pledge", waiting_pledge.pk))] if waiting_pledge else []),
        *([reverse("finance:story", args=(waiting_pledge.user.pk,))] if waiting_pledge else []),
    ]


# --- Who may see it ----------------------------------------------------------------------------------


def test_the_dashboard_panel_lists_stuck_money_for_finance_only(
    client, fiona, editor, waiting_pledge, paid_pledge, mismatched_deposit, failed_refund, failed_payout
):
    client.force_login(fiona)
    page = client.get(reverse("wagtailadmin_home"))
    words = text(page)
    # Two pending card pledges, the $5-for-$50 deposit (paid, not credited; and flagged), the refund
    # and the payout: six rows.
    assert "Stuck money" in words and "6 things need Finance" in words
    assert f"Card pledge pending: Pledge #{waiting_pledge.pk} to Audit TrueCrypt carol $40" in words
    assert f"Paid, not credited: Deposit #{mismatched_deposit.pk} dan $50" in words
    assert f"Card refund failed: Refund #{failed_refund.pk}" in words
    assert (
        f"Payout failed: Payout #{failed_payout.pk} (manual) wendy $300" in words
        and "Bank account closed" in words
    )
    assert f"Deposit flagged: Deposit #{mismatched_deposit.pk}" in words
    content = page.content.decode()
    assert reverse("finance:pledge_complete", args=(paid_pledge.pk,)) in content
    assert reverse("finance:refund_retry", args=(failed_refund.pk,)) in content
    assert reverse("finance:payout_retry", args=(failed_payout.pk,)) in content
    assert reverse("finance:story", args=(waiting_pledge.user.pk,)) in content

    client.force_login(editor)
    assert "Stuck money" not in text(client.get(reverse("wagtailadmin_home")))


def test_a_fresh_card_pledge_is_not_stuck_and_nothing_stuck_says_so(client, fiona, fund):
    from bounties.services.pledging import pledge_create_with_card

    pledge_create_with_card(user=UserFactory(), fund_id=fund.pk, amount_cents=1_000, key="k", gateway="local")
    client.force_login(fiona)
    assert "No money is stuck." in text(client.get(reverse("wagtailadmin_home")))
    assert "No money is stuck." in text(client.get(reverse("finance:stuck")))


def test_editors_get_403_and_the_signed_out_the_login_page(
    client, editor, waiting_pledge, paid_pledge, failed_refund, failed_payout, fund
):
    every = urls(waiting_pledge, paid_pledge, failed_refund, failed_payout) + [
        reverse("finance:fund_money", args=(fund.pk,))
    ]
    for url in every:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(LOGIN), url
    client.force_login(editor)
    for url in every:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"why": "let me", "template": "pledge_pending"}).status_code == 403, url
    # Nothing moved and nothing was sent.
    assert Pledge.objects.get(pk=paid_pledge.pk).status == PledgeStatus.PENDING_FUNDS
    assert Outbox.objects.filter(event="support_contact").count() == 0
    assert ModelLogEntry.objects.filter(action__startswith="finance.").count() == 0


def test_the_finance_menu_is_for_finance_only(client, fiona, editor):
    client.force_login(fiona)
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert reverse("finance:stuck") in home and reverse("finance:report_pledges") in home
    client.force_login(editor)
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert reverse("finance:stuck") not in home and reverse("finance:report_pledges") not in home


# --- The support actions through their forms ----------------------------------------------------------------


def test_completing_a_pledge_from_its_form_says_money_moved_and_is_in_the_site_history(
    client, fiona, paid_pledge
):
    url = reverse("finance:pledge_complete", args=(paid_pledge.pk,))
    client.force_login(fiona)
    form = text(client.get(url))
    assert f"Pledge #{paid_pledge.pk} to Audit TrueCrypt: $25 of bob" in form and "Why" in form

    response, messages = post(client, url, {"why": "Webhook lost in the outage"})
    assert response.status_code == 302 and response.url == reverse("finance:stuck")
    assert messages == [f"Pledge #{paid_pledge.pk} completed: $25 moved from the wallet into escrow."]
    assert Pledge.objects.get(pk=paid_pledge.pk).status == PledgeStatus.ACTIVE
    assert ledger_violations() == []
    # Gone from the stuck list.
    assert url not in client.get(reverse("finance:stuck")).content.decode()

    # The double submit answers without moving anything.
    transfers = Transfer.objects.count()
    _, messages = post(client, url, {"why": "Webhook lost in the outage"})
    assert "no money moved" in messages[0] and Transfer.objects.count() == transfers

    # Who and why, in Wagtail's site history (Finance may see pledge entries).
    history = text(client.get(reverse("wagtailadmin_reports:site_history")))
    assert "Pledge completed by Finance: “Webhook lost in the outage”" in history and "fiona" in history
    # And on the action's own page.
    assert "Webhook lost in the outage" in text(client.get(url))


@pytest.mark.parametrize("why", ["", "    "])
def test_an_action_without_a_reason_is_a_form_error_and_moves_nothing(client, fiona, paid_pledge, why):
    client.force_login(fiona)
    response = client.post(reverse("finance:pledge_complete", args=(paid_pledge.pk,)), {"why": why})
    assert response.status_code == 200
    assert "This field is required." in text(response) or "Say why" in text(response)
    assert Pledge.objects.get(pk=paid_pledge.pk).status == PledgeStatus.PENDING_FUNDS
    assert Transfer.objects.filter(kind="pledge").count() == 0


def test_a_refusal_is_shown_on_the_form_saying_no_money_moved(client, fiona, failed_refund, fund):
    erin = failed_refund.cashout.user
    from bounties.services.pledging import pledge_create

    pledge_create(user=erin, fund_id=fund.pk, amount_cents=6_000, key="spend")  # $20 left of $80
    client.force_login(fiona)
    response = client.post(reverse("finance:refund_retry", args=(failed_refund.pk,)), {"why": "Retry"})
    assert response.status_code == 200
    assert "No money moved." in text(response)
    assert ModelLogEntry.objects.filter(action="finance.refund_retry").count() == 0


def test_unknown_rows_are_404(client, fiona):
    client.force_login(fiona)
    for url in (
        reverse("finance:pledge_complete", args=(10**9,)),
        reverse("finance:contact", args=("wallet", 1)),
        reverse("finance:story", args=(10**9,)),
        reverse("finance:fund_money", args=(10**9,)),
    ):
        assert client.get(url).status_code == 404, url


def test_retrying_a_refund_and_a_payout_from_their_forms(client, fiona, failed_refund, failed_payout):
    client.force_login(fiona)
    _, messages = post(
        client, reverse("finance:refund_retry", args=(failed_refund.pk,)), {"why": "Other card"}
    )
    assert "$30 left the wallet for the card" in messages[0] and "accepted by the card's bank" in messages[0]
    _, messages = post(
        client, reverse("finance:payout_retry", args=(failed_payout.pk,)), {"why": "Fixed account"}
    )
    assert "$300 left the payout balance; approve it in the payout queue" in messages[0]
    assert ledger_violations() == []
    stuck = client.get(reverse("finance:stuck")).content.decode()
    assert "No money is stuck." in text(client.get(reverse("finance:stuck")))
    assert reverse("finance:refund_retry", args=(failed_refund.pk,)) not in stuck


def test_emailing_the_user_from_a_template(client, fiona, waiting_pledge):
    url = reverse("finance:contact", args=("pledge", waiting_pledge.pk)) + "?template=pledge_pending"
    client.force_login(fiona)
    form = client.get(url)
    assert "carol@example.com" in text(form) and "Hello carol, your pledge of $40" in text(form)
    assert 'value="pledge_pending" selected' in form.content.decode()
    assert "your card refund" not in text(form)  # only the emails about a pledge are offered

    _, messages = post(client, url, {"template": "pledge_pending", "note": "", "why": "Pending 20 minutes"})
    assert messages == [
        "Email to carol@example.com queued (card pledge still waiting for its payment); no money moved."
    ]
    assert Outbox.objects.get(event="support_contact").recipient == "carol@example.com"
    for template in ("no-such", "refund_failed"):
        bad = client.post(url, {"template": template, "why": "x"})
        assert bad.status_code == 200 and "Select a valid choice" in text(bad)
    assert Outbox.objects.filter(event="support_contact").count() == 1


# --- A user's money story -------------------------------------------------------------------------------------


def test_a_users_money_story_in_time_order_with_keys_ids_and_transfers(client, fiona, failed_refund, fund):
    erin = failed_refund.cashout.user
    pledge = back(erin, fund, 1_000, key="erin-pledge")
    pledge_withdraw(user=erin, pledge_id=pledge.pk)
    client.force_login(fiona)
    words = text(client.get(reverse("finance:story", args=(erin.pk,))))

    # Balances now: $50 + $30 + $10 added, $30 refund failed and returned, the pledge withdrawn.
    assert "Wallet $90" in words and "In escrow (active pledges) $0" in words and "Payout balance $0" in words
    # Time order: two deposits, the cash-out, the third deposit, the pledge.
    deposits = list(erin.deposits.order_by("created_at"))
    order = [words.index(f"Deposit #{d.pk}") for d in deposits]
    cashout_at = words.index(f"Cash-out #{failed_refund.cashout_id} to card")
    pledge_at = words.index(f"Pledge #{pledge.pk} to Audit TrueCrypt")
    assert order[0] < order[1] < cashout_at < order[2] < pledge_at
    # Keys and provider ids.
    assert f"payment pi_test_{deposits[1].uuid.hex}_refund_fails" in words
    assert "key cash-1" in words and f"refund #{failed_refund.pk} {failed_refund.provider_id}" in words
    assert "key erin-pledge" in words
    # The transfers behind them, with their legs.
    assert f"cashout:{erin.pk}:cash-1" in words and f"cashout-reversal:{failed_refund.pk}" in words
    assert "Wallet of erin: -$30" in words and "Escrow of Audit TrueCrypt: $10" in words


def test_finding_a_user_and_the_user_listing_link(client, fiona, failed_refund):
    erin = failed_refund.cashout.user
    client.force_login(fiona)
    found = client.get(reverse("finance:find_user"), {"q": "ERI"})
    assert reverse("finance:story", args=(erin.pk,)) in found.content.decode()
    assert "No user matches." in text(client.get(reverse("finance:find_user"), {"q": "nobody-here"}))

    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    listing = client.get(reverse("wagtailusers_users:index"))
    assert reverse("finance:story", args=(erin.pk,)) in listing.content.decode()


# --- A fund's money ------------------------------------------------------------------------------------------


def test_a_funds_money_timeline_chart_and_transfers(client, fiona, fund):
    alice, bea = UserFactory(username="alice"), UserFactory(username="bea")
    back(alice, fund, 3_000, key="a")
    pledge = back(bea, fund, 2_000, key="b")
    pledge_withdraw(user=bea, pledge_id=pledge.pk)
    client.force_login(fiona)
    response = client.get(reverse("finance:fund_money", args=(fund.pk,)))
    words = text(response)

    # One day: $50 in, $20 out, $30 held at its end: the table and the chart's label agree.
    assert "$50 $20 $30" in words
    content = response.content.decode()
    assert '<svg class="finance-chart" role="img"' in content and "$30 held at the end of" in content
    assert content.count('<rect fill="#2e7d32"') == 1 and content.count('<rect fill="#c62828"') == 1
    # The ledger transfers: two pledges and the withdrawal, with their keys.
    assert f"pledge:{alice.pk}:a" in words and f"pledge:{bea.pk}:b" in words
    assert "Pledge withdrawn -$20" in words


def test_the_fund_page_links_to_its_money_for_finance(client, editor, fund, fund_index):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    money = reverse("finance:fund_money", args=(fund.pk,))
    assert money in client.get(reverse("wagtailadmin_explore", args=(fund_index.pk,))).content.decode()
    assert money in client.get(reverse("wagtailadmin_pages:edit", args=(fund.pk,))).content.decode()
    # Not on other pages.
    assert (
        reverse("finance:fund_money", args=(fund_index.pk,))
        not in client.get(reverse("wagtailadmin_pages:edit", args=(fund_index.pk,))).content.decode()
    )
    # An editor edits the fund page but is not shown its money.
    client.force_login(editor)
    edit = client.get(reverse("wagtailadmin_pages:edit", args=(fund.pk,)))
    assert edit.status_code == 200 and money not in edit.content.decode()


def test_hostile_input_is_a_clear_answer_and_moves_nothing(client, fiona, paid_pledge):
    client.force_login(fiona)
    # Ids past 2**63 are no row.
    assert client.get(reverse("finance:pledge_complete", args=(2**70,))).status_code == 404
    assert client.get(reverse("finance:story", args=(2**70,))).status_code == 404
    # A NUL byte in the reason is a form error.
    response = client.post(reverse("finance:pledge_complete", args=(paid_pledge.pk,)), {"why": "lost\x00"})
    assert response.status_code == 200 and "Null characters are not allowed." in text(response)
    assert Pledge.objects.get(pk=paid_pledge.pk).status == PledgeStatus.PENDING_FUNDS
    # Nonsense in the reports' filters and the user search.
    for name in ("pledges", "settlements", "backers", "claims", "payouts", "refunds"):
        bad = {"fund": str(2**70), "created_from": "\x00", "pledged_from": "1e309", "status": "\x00"}
        assert client.get(reverse(f"finance:report_{name}"), bad).status_code == 200, name
        assert client.get(reverse(f"finance:report_{name}"), {**bad, "export": "csv"}).status_code == 200, (
            name
        )
    assert client.get(reverse("finance:find_user"), {"q": "a\x00b"}).status_code == 200
