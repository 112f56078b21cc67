"""The pledge funnel and the receipts, as a backer notices them (issue 13, items 2 and 3).

Signed out, "Pledge" leads to a log-in (or sign-up) page that says which pledge it is for and
comes back to it; the pledge button says whether the money comes from the wallet or, for the
shortfall, from a card; "Add money" started from a pledge returns to it; every receipt names the
amount, the fund, the terms, a reference and its times with their time zone; withdrawing asks first.
"""

import re
from urllib.parse import quote

import pytest
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from bounties import views
from bounties.models import Deposit, DepositStatus, Payout, Pledge, PledgeStatus
from bounties.payments.local_gateway import DECLINE_CARD, SUCCESS_CARD
from bounties.services.deposits import deposit_create
from bounties.services.ledger import ledger_violations, wallet_for
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def redirects(response, url):
    assertRedirects(response, url, fetch_redirect_response=False)


def hidden_key(response):
    return re.search(r'name="key" value="([0-9a-f-]{36})"', response.content.decode()).group(1)


def pledge_next(fund, amount="25"):
    return f"/funds/{fund.pk}/pledge/?amount={amount}"


@pytest.fixture
def backer(client, user):
    client.force_login(user)
    return user


# --- Signed out: log in or sign up for this pledge ----------------------------------------------


def test_the_pledge_button_signed_out_leads_to_a_log_in_page_that_says_why(client, fund):
    response = client.get(f"/funds/{fund.pk}/pledge/", {"amount": "25"})
    login_url = response.url
    assert login_url == f"/accounts/login/?next={quote(pledge_next(fund), safe='/')}"

    page = client.get(login_url)
    assertContains(page, "Log in to pledge $25 to Audit TrueCrypt")
    # The sign-up link keeps where the backer was going.
    assertContains(page, f'href="/accounts/signup/?next={quote(pledge_next(fund), safe="/")}"')


def test_logging_in_returns_to_the_pledge_form(client, fund):
    UserFactory(username="gina", password=PASSWORD)
    response = client.post(
        "/accounts/login/", {"username": "gina", "password": PASSWORD, "next": pledge_next(fund)}
    )
    redirects(response, pledge_next(fund))
    assertContains(client.get(response.url), 'value="25"')


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/funds/1/pledge/?amount=25",
        "//evil.example/funds/1/pledge/",
        "/wallet/",
        "/funds/999999/pledge/?amount=25",
    ],
)
def test_a_next_that_is_not_a_pledge_here_shows_the_generic_log_in_page(client, fund, next_url):
    page = client.get("/accounts/login/", {"next": next_url})
    assertContains(page, "<h1>Log in</h1>", html=False)
    assertNotContains(page, "to pledge")
    assertNotContains(page, "evil.example")


def test_a_pledge_without_an_amount_still_names_the_fund(client, fund):
    page = client.get("/accounts/login/", {"next": f"/funds/{fund.pk}/pledge/?amount=abc"})
    assertContains(page, "Log in to pledge to Audit TrueCrypt")


def test_the_sign_up_page_for_a_pledge_says_so_links_to_log_in_and_returns_to_the_pledge(client, fund):
    page = client.get("/accounts/signup/", {"next": pledge_next(fund)})
    assertContains(page, "Create an account to pledge $25 to Audit TrueCrypt")
    assertContains(page, "Log in to pledge $25 to Audit TrueCrypt")
    assertContains(page, f'href="/accounts/login/?next={quote(pledge_next(fund), safe="/")}"')

    response = client.post(
        "/accounts/signup/",
        {
            "username": "hana",
            "email": "hana@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": pledge_next(fund),
        },
    )
    redirects(response, pledge_next(fund))
    form = client.get(response.url)  # signed in, on the pledge form, welcomed
    assertContains(form, "Welcome to Fundfill, hana!")
    assertContains(form, 'value="25"')
    assert not Pledge.objects.exists()


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example"])
def test_sign_up_ignores_a_next_off_this_site(client, next_url):
    page = client.get("/accounts/signup/", {"next": next_url})
    assertContains(page, "Create your account")
    assertNotContains(page, "evil.example")
    response = client.post(
        "/accounts/signup/",
        {
            "username": "ines",
            "email": "ines@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": next_url,
        },
    )
    redirects(response, "/")


# --- The pledge button -------------------------------------------------------------------------


def test_an_empty_wallet_sees_the_card_path_at_once_and_it_leads_to_the_receipt(client, backer, fund):
    page = client.get(f"/funds/{fund.pk}/pledge/", {"amount": "25"})
    assertContains(page, "Pledge $25 · pay $25 by card")
    assertContains(page, '<input type="hidden" name="pay_by_card" value="1" data-funnel-card>', html=False)

    # The button posts the card pledge: the checkout for $25, then the pledge's receipt.
    response = client.post(
        f"/funds/{fund.pk}/pledge/", {"amount": "25", "key": hidden_key(page), "pay_by_card": "1"}
    )
    pledge = Pledge.objects.get(user=backer)
    deposit = pledge.deposits.get()
    assert deposit.amount_cents == 2_500
    redirects(response, f"/payments/local/checkout/{deposit.uuid}/")
    response = client.post(response.url, {"card": SUCCESS_CARD})
    redirects(response, f"/pledges/{pledge.pk}/")
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.ACTIVE
    assert ledger_violations() == []


def test_the_card_pledge_checkout_is_told_to_return_to_the_receipt(client, backer, fund, monkeypatch):
    seen = {}
    real = views.deposit_checkout

    def spy(deposit, *, success_url, cancel_url):
        seen["success_url"] = success_url
        return real(deposit, success_url=success_url, cancel_url=cancel_url)

    monkeypatch.setattr(views, "deposit_checkout", spy)
    page = client.get(f"/funds/{fund.pk}/pledge/", {"amount": "25"})
    client.post(f"/funds/{fund.pk}/pledge/", {"amount": "25", "key": hidden_key(page), "pay_by_card": "1"})
    pledge = Pledge.objects.get(user=backer)
    assert seen["success_url"] == f"http://testserver/pledges/{pledge.pk}/"


def test_a_short_wallet_is_asked_only_the_difference(client, backer, fund):
    top_up(backer, 1_000)
    page = client.get(f"/funds/{fund.pk}/pledge/", {"amount": "25"})
    assertContains(page, "Pledge $25 · pay $15 by card")


def test_enough_money_pledges_from_the_wallet(client, backer, fund):
    top_up(backer, 5_000)
    page = client.get(f"/funds/{fund.pk}/pledge/", {"amount": "25"})
    assertContains(page, "Pledge $25 from your wallet")
    assertContains(page, "data-funnel-card disabled")  # no pay_by_card is sent
    response = client.post(f"/funds/{fund.pk}/pledge/", {"amount": "25", "key": hidden_key(page)})
    redirects(response, f"/pledges/{Pledge.objects.get().pk}/")
    assert wallet_for(backer).balance == 2_500


def test_the_pledge_forms_link_how_it_works_and_say_where_the_money_goes(client, backer, fund):
    for page in (client.get(fund.url), client.get(f"/funds/{fund.pk}/pledge/")):
        assertContains(page, 'href="/how-it-works/"')
        assertContains(page, "If nobody wins")
        assertContains(page, "the money comes back to you")


# --- Add money from a pledge -------------------------------------------------------------------


def test_add_money_started_from_a_pledge_returns_to_it(client, backer, fund):
    page = client.get(f"/funds/{fund.pk}/pledge/", {"amount": "25"})
    link = f'href="/wallet/add/?amount=%2425&amp;next={quote(pledge_next(fund), safe="")}"'
    assertContains(page, link)

    form = client.get("/wallet/add/", {"amount": "25", "next": pledge_next(fund)})
    assertContains(form, f'name="next" value="{pledge_next(fund)}"')
    response = client.post(
        "/wallet/add/", {"amount": "25", "key": hidden_key(form), "next": pledge_next(fund)}
    )
    deposit = Deposit.objects.get(user=backer)
    response = client.post(response.url, {"card": SUCCESS_CARD})
    redirects(response, pledge_next(fund))
    page = client.get(response.url)
    assertContains(page, "Added $25 to your wallet. Now finish your pledge.")
    assertContains(page, "Pledge $25 from your wallet")
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.SUCCEEDED


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example"])
def test_add_money_ignores_a_next_off_this_site(client, backer, next_url):
    form = client.get("/wallet/add/", {"next": next_url})
    assertNotContains(form, "evil.example")
    response = client.post("/wallet/add/", {"amount": "10", "key": hidden_key(form), "next": next_url})
    response = client.post(response.url, {"card": SUCCESS_CARD})
    redirects(response, "/wallet/")


# --- Receipts ----------------------------------------------------------------------------------


def test_the_pledge_receipt_reads_like_one(client, backer, fund):
    top_up(backer, 5_000)
    pledge = pledge_create(user=backer, fund_id=fund.pk, amount_cents=2_500, key="receipt-key").pledge
    page = client.get(f"/pledges/{pledge.pk}/")
    assertContains(page, "Thank you for backing Audit TrueCrypt")
    assertContains(page, 'class="receipt__amount">$25<')
    assertContains(page, f"Pledge #{pledge.pk} · key <code>receipt-key</code>")
    assertContains(page, "The terms of this pledge")
    assertContains(page, "Refunded to you")  # if nobody wins, under the fund's terms
    assertContains(page, "What happens next")
    assertContains(page, 'class="receipt__settlement">Back to my wallet<')
    made = pledge.created_at.strftime("%-d %b %Y, %H:%M") + " UTC"
    assertContains(page, made)


def test_the_deposit_receipt_is_the_owners_only(client, backer):
    deposit = Deposit.objects.get(pk=top_up(backer, 5_000).pk)
    page = client.get(f"/wallet/deposits/{deposit.uuid}/")
    assertContains(page, "Added $50 to your wallet")
    assertContains(page, "Thank you.")
    assertContains(page, f"Deposit <code>{deposit.uuid}</code>")
    assertContains(page, deposit.created_at.strftime("%-d %b %Y, %H:%M") + " UTC")
    assertContains(page, "It waits in your wallet until you pledge it.")
    # The wallet's history links to it.
    assertContains(client.get("/wallet/"), f'href="/wallet/deposits/{deposit.uuid}/"')

    bob = UserFactory(username="bob")
    theirs = deposit_create(user=bob, amount_cents=1_000, gateway="local")
    assert client.get(f"/wallet/deposits/{theirs.uuid}/").status_code == 404
    client.logout()
    assert client.get(f"/wallet/deposits/{deposit.uuid}/").status_code == 302


def test_the_cash_out_receipt_on_the_wallet(client, backer):
    top_up(backer, 5_000)
    wallet = client.get("/wallet/")
    client.post("/wallet/cashout/", {"amount": "20", "key": hidden_key(wallet)})
    page = client.get("/wallet/")
    assertContains(page, "Cash-out receipt")
    assertContains(page, 'class="receipt__amount">$20<')
    assertContains(page, "Cash-out #")
    assertContains(page, " UTC</time>")


def test_the_payout_rows_carry_a_reference_a_time_zone_and_what_happens_next(client, backer):
    Payout.objects.create(user=backer, amount_cents=4_000, method="manual", key="k", fingerprint="f")
    page = client.get("/wallet/payouts/")
    payout = Payout.objects.get()
    assertContains(page, f"Payout #{payout.pk}")
    assertContains(page, payout.created_at.strftime("%-d %b %Y, %H:%M") + " UTC")
    assertContains(page, "Our finance team approves it")


# --- Withdrawing asks first --------------------------------------------------------------------


def test_withdraw_asks_first_and_the_post_withdraws(client, backer, fund):
    top_up(backer, 5_000)
    pledge = pledge_create(user=backer, fund_id=fund.pk, amount_cents=2_500, key="w").pledge
    assertContains(client.get(f"/pledges/{pledge.pk}/"), f'href="/pledges/{pledge.pk}/withdraw/"')

    page = client.get(f"/pledges/{pledge.pk}/withdraw/")
    assertContains(page, "Withdraw $25 from Audit TrueCrypt?")
    assertContains(page, "The money returns to your wallet.")
    assertContains(page, f'method="post" action="/pledges/{pledge.pk}/withdraw/"')
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.ACTIVE  # the GET moved nothing
    assert wallet_for(backer).balance == 2_500

    response = client.post(f"/pledges/{pledge.pk}/withdraw/")
    redirects(response, "/pledges/")
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.WITHDRAWN
    assert wallet_for(backer).balance == 5_000
    assert ledger_violations() == []

    # Asked again, it says there is nothing to withdraw.
    assertContains(client.get(f"/pledges/{pledge.pk}/withdraw/"), "No money moved.")


def test_others_cannot_see_the_withdraw_question(client, backer, fund):
    bob = UserFactory(username="bob")
    top_up(bob, 5_000)
    pledge = pledge_create(user=bob, fund_id=fund.pk, amount_cents=2_500, key="b").pledge
    assert client.get(f"/pledges/{pledge.pk}/withdraw/").status_code == 404
    client.logout()
    redirects(
        client.get(f"/pledges/{pledge.pk}/withdraw/"),
        f"/accounts/login/?next=/pledges/{pledge.pk}/withdraw/",
    )


def test_a_declined_card_never_reads_as_money_added(client, backer):
    """The declined page said "added to your wallet" above "Your card was declined" (issue 13 item 8)."""
    form = client.get("/wallet/add/", {"amount": "40"})
    response = client.post("/wallet/add/", {"amount": "40", "key": hidden_key(form)})
    checkout = client.get(response.url)
    assertContains(checkout, "$40</strong>, to add to your wallet.")
    declined = client.post(response.url, {"card": DECLINE_CARD})
    page = declined if declined.status_code != 302 else client.get(declined.url)
    text = page.content.decode()
    assert "added to your wallet." not in text.replace("not added to your wallet.", "")
    assert "No money moved." in text
    assert wallet_for(backer).balance == 0
