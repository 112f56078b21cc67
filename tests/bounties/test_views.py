"""The backer's pages, request by request: what each form says, and what money moved (or did not)."""

import uuid
from unittest import mock

import pytest
import stripe
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from bounties.errors import TryAgainLater
from bounties.models import Deposit, DepositStatus, Fund, FundStatus, Pledge, PledgeStatus, Transfer
from bounties.payments.local_gateway import SUCCESS_CARD
from bounties.services.deposits import deposit_create
from bounties.services.ledger import ledger_violations, wallet_for
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory
from tests.money import top_up
from tests.pages_html import field_value

pytestmark = pytest.mark.django_db

DECLINED_CARD = "4000 0000 0000 0002"


def pledge_url(fund):
    return f"/funds/{fund.pk}/pledge/"


def redirects(response, url):
    """The redirect goes to `url` (without fetching it, which would consume its message)."""
    assertRedirects(response, url, fetch_redirect_response=False)


def hidden_key(response):
    """The idempotency key the page's form was served with: a UUID in its canonical form."""
    key = field_value(response.content, "key")
    assert key == str(uuid.UUID(key)), key
    return key


@pytest.fixture
def backer(client, user):
    client.force_login(user)
    return user


# --- Adding money ------------------------------------------------------------------------------


def add_money(client, amount):
    """Submit the add-money page's form as a browser does: with the key the page was served with."""
    return client.post("/wallet/add/", {"amount": amount, "key": hidden_key(client.get("/wallet/add/"))})


def test_add_money_with_the_test_card_credits_the_wallet_once(client, backer):
    # The amount form opens a deposit and sends the backer to the gateway's checkout.
    response = add_money(client, "50")
    deposit = Deposit.objects.get(user=backer)
    assert deposit.amount_cents == 5_000
    redirects(response, f"/payments/local/checkout/{deposit.uuid}/")
    assertContains(client.get(response.url), "$50")
    assert wallet_for(backer).balance == 0  # nothing is credited before the card is paid

    # The test card pays; the wallet says so and holds $50.
    response = client.post(f"/payments/local/checkout/{deposit.uuid}/", {"card": "4242 4242 4242 4242"})
    redirects(response, "/wallet/")
    page = client.get("/wallet/")
    assertContains(page, "Added $50 to your wallet.")
    assertContains(page, "Added $50 by card")
    assert wallet_for(backer).balance == 5_000

    # Paying the same checkout again (a resubmit) charges nothing twice.
    response = client.post(f"/payments/local/checkout/{deposit.uuid}/", {"card": SUCCESS_CARD}, follow=True)
    assertContains(response, "nothing was charged twice")
    assert wallet_for(backer).balance == 5_000
    assert Transfer.objects.filter(kind="deposit").count() == 1
    assert ledger_violations() == []


def test_declined_card_shows_its_reason_and_moves_nothing(client, backer):
    add_money(client, "20")
    deposit = Deposit.objects.get(user=backer)

    response = client.post(f"/payments/local/checkout/{deposit.uuid}/", {"card": DECLINED_CARD})
    assert response.status_code == 402
    assertContains(
        response, "Your card was declined (test card ending 0002). No money moved.", status_code=402
    )
    assertContains(response, "Try another card", status_code=402)
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.DECLINED
    assert wallet_for(backer).balance == 0
    assert not Transfer.objects.exists()
    assert ledger_violations() == []


def test_card_processor_down_says_nothing_was_charged(client, backer, settings, monkeypatch):
    settings.PAYMENT_GATEWAY = "stripe"

    def unreachable(**kwargs):
        raise stripe.APIConnectionError("connection refused")

    monkeypatch.setattr(stripe.checkout.Session, "create", unreachable)
    response = add_money(client, "20")
    assert response.status_code == 502
    assertContains(response, "could not reach the card processor", status_code=502)
    assertContains(response, "No money moved.", status_code=502)
    assert wallet_for(backer).balance == 0 and not Transfer.objects.exists()


def test_unknown_card_number_is_a_form_error(client, backer):
    add_money(client, "20")
    deposit = Deposit.objects.get(user=backer)
    response = client.post(f"/payments/local/checkout/{deposit.uuid}/", {"card": "1234"})
    assertContains(response, "Use test card 4242 4242 4242 4242", status_code=400)
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PENDING


def test_a_resubmitted_add_money_form_opens_the_same_checkout_and_never_charges_twice(client, backer):
    key = hidden_key(client.get("/wallet/add/"))
    first = client.post("/wallet/add/", {"amount": "50", "key": key})
    again = client.post("/wallet/add/", {"amount": "50", "key": key})  # a double click
    deposit = Deposit.objects.get(user=backer)
    redirects(first, f"/payments/local/checkout/{deposit.uuid}/")
    redirects(again, f"/payments/local/checkout/{deposit.uuid}/")

    client.post(f"/payments/local/checkout/{deposit.uuid}/", {"card": SUCCESS_CARD})
    # The back button and "submit" once more, after paying: the same deposit, already paid.
    response = client.post("/wallet/add/", {"amount": "50", "key": key}, follow=True)
    assertContains(response, "nothing was charged twice")
    assert Deposit.objects.filter(user=backer).count() == 1 and wallet_for(backer).balance == 5_000

    # The same page's key with another amount is refused, and the form gets a fresh key.
    response = client.post("/wallet/add/", {"amount": "70", "key": key})
    assertContains(response, "already used for a different deposit", status_code=422)
    assert hidden_key(response) != key
    assert Deposit.objects.filter(user=backer).count() == 1


def test_a_form_resubmitted_after_a_decline_says_so_and_offers_a_fresh_attempt(client, backer):
    key = hidden_key(client.get("/wallet/add/"))
    client.post("/wallet/add/", {"amount": "20", "key": key})
    deposit = Deposit.objects.get(user=backer)
    client.post(f"/payments/local/checkout/{deposit.uuid}/", {"card": DECLINED_CARD})

    response = client.post("/wallet/add/", {"amount": "20", "key": key})
    assertContains(response, "Your card was declined", status_code=402)
    fresh = hidden_key(response)
    assert fresh != key
    redirects(
        client.post("/wallet/add/", {"amount": "20", "key": fresh}),
        f"/payments/local/checkout/{Deposit.objects.latest('pk').uuid}/",
    )
    assert Deposit.objects.filter(user=backer).count() == 2


@pytest.mark.parametrize("amount", ["abc", "-1", "1.005", "", "0.50"])
def test_invalid_amounts_are_form_errors_and_write_nothing(client, backer, fund, amount):
    response = add_money(client, amount)
    assertContains(response, "No money moved.", status_code=400)
    assertContains(response, 'role="alert"', status_code=400)

    key = str(uuid.uuid4())
    response = client.post(pledge_url(fund), {"amount": amount, "key": key})
    assertContains(response, "No money moved.", status_code=400)
    assert not Deposit.objects.exists()
    assert not Pledge.objects.exists()
    assert not Transfer.objects.exists()


# --- Pledging ----------------------------------------------------------------------------------


def test_fund_page_form_is_cacheable_and_leads_to_the_pledge_page(client, user, fund):
    # Anonymous readers get HTML with no CSRF token and no key, so it can be cached for all of them.
    page = client.get(fund.url)
    assertContains(page, f'<form class="pledge-start" method="get" action="{pledge_url(fund)}">')
    assertNotContains(page, "csrfmiddlewaretoken")
    assertNotContains(page, 'name="key"')

    # The pledge page is per user: amount prefilled, a fresh key each time, CSRF, and data-once.
    client.force_login(user)
    first = client.get(pledge_url(fund), {"amount": "25"})
    assertContains(first, 'value="25"')
    assertContains(first, "csrfmiddlewaretoken")
    assertContains(first, "data-once")
    second = client.get(pledge_url(fund), {"amount": "25"})
    assert hidden_key(first) != hidden_key(second)


def test_pledge_redirects_to_its_receipt_and_moves_money_into_escrow(client, backer, fund):
    top_up(backer, 10_000)  # $100 in the wallet
    key = hidden_key(client.get(pledge_url(fund)))

    response = client.post(pledge_url(fund), {"amount": "25", "key": key})
    pledge = Pledge.objects.get(user=backer)
    redirects(response, f"/pledges/{pledge.pk}/")
    receipt = client.get(response.url)
    assertContains(receipt, "Pledged $25 to Audit TrueCrypt. The money is in escrow.")
    assertContains(receipt, "In escrow")

    assert wallet_for(backer).balance == 7_500  # $100 - $25
    state = Fund.objects.get(pk=fund.pk)
    assert (state.pledged_cents, state.backer_count) == (2_500, 1)
    assertContains(client.get("/wallet/"), "Pledged $25 to Audit TrueCrypt")
    assert ledger_violations() == []


def test_double_post_with_the_same_key_pledges_once_and_says_so(client, backer, fund):
    top_up(backer, 10_000)
    key = hidden_key(client.get(pledge_url(fund)))

    first = client.post(pledge_url(fund), {"amount": "25", "key": key})
    second = client.post(pledge_url(fund), {"amount": "25", "key": key}, follow=True)
    assertRedirects(second, first.url)
    assertContains(second, "This pledge already went through; nothing was charged twice.")
    assert Pledge.objects.count() == 1
    assert wallet_for(backer).balance == 7_500  # debited once
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 2_500
    assert ledger_violations() == []


def test_reusing_a_key_for_another_amount_is_refused_with_a_fresh_key(client, backer, fund):
    top_up(backer, 10_000)
    key = str(uuid.uuid4())
    client.post(pledge_url(fund), {"amount": "25", "key": key})

    response = client.post(pledge_url(fund), {"amount": "30", "key": key})
    assertContains(response, "already used for a different pledge. No money moved.", status_code=422)
    assert hidden_key(response) != key
    assert wallet_for(backer).balance == 7_500


def test_short_wallet_offers_the_card_and_the_card_completes_the_pledge(client, backer, fund):
    top_up(backer, 1_000)  # $10 in the wallet, the backer pledges $25
    key = hidden_key(client.get(pledge_url(fund)))

    response = client.post(pledge_url(fund), {"amount": "25", "key": key})
    assertContains(
        response, "Your wallet holds $10; this pledge needs $15 more. No money moved.", status_code=402
    )
    assertContains(response, "Pay the $15 difference by card", status_code=402)
    assertContains(response, 'name="pay_by_card" value="1"', status_code=402)
    assert not Pledge.objects.exists()
    assert wallet_for(backer).balance == 1_000

    # The card button posts the same key and amount: a pending pledge and a $15 deposit.
    response = client.post(pledge_url(fund), {"amount": "25", "key": key, "pay_by_card": "1"})
    pledge = Pledge.objects.get(user=backer)
    deposit = pledge.deposits.get()
    assert (pledge.status, deposit.amount_cents) == (PledgeStatus.PENDING_FUNDS, 1_500)
    redirects(response, f"/payments/local/checkout/{deposit.uuid}/")
    assertContains(client.get(response.url), "$15")

    # Paying lands the $15 and completes the pledge in the same step.
    response = client.post(response.url, {"card": SUCCESS_CARD})
    redirects(response, f"/pledges/{pledge.pk}/")
    assertContains(client.get(response.url), "Pledged $25 to Audit TrueCrypt. The money is in escrow.")
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.ACTIVE
    assert wallet_for(backer).balance == 0  # $10 + $15 - $25
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 2_500

    # The card button pressed again afterwards is a replay.
    again = client.post(pledge_url(fund), {"amount": "25", "key": key, "pay_by_card": "1"}, follow=True)
    assertContains(again, "nothing was charged twice")
    assert Transfer.objects.filter(kind="deposit").count() == 2
    assert ledger_violations() == []


def test_declined_card_for_a_pledge_cancels_it_and_moves_nothing(client, backer, fund):
    top_up(backer, 1_000)
    key = str(uuid.uuid4())
    response = client.post(pledge_url(fund), {"amount": "25", "key": key, "pay_by_card": "1"})

    response = client.post(response.url, {"card": DECLINED_CARD})
    assertContains(response, "declined (test card ending 0002). No money moved.", status_code=402)
    assertContains(response, "Try the pledge again", status_code=402)
    assert Pledge.objects.get().status == PledgeStatus.CANCELLED
    assert wallet_for(backer).balance == 1_000
    assert ledger_violations() == []


def test_closed_fund_says_so_instead_of_the_form(client, backer, fund):
    top_up(backer, 10_000)
    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.AWARDED)

    page = client.get(fund.url)
    assertContains(page, "This fund is not taking pledges.")
    assertNotContains(page, "pledge-start")

    response = client.post(pledge_url(fund), {"amount": "25", "key": str(uuid.uuid4())})
    assertContains(
        response, "This fund is awarded and no longer takes pledges. No money moved.", status_code=409
    )
    assert wallet_for(backer).balance == 10_000


def test_busy_database_answers_503_and_says_retry_is_safe(client, backer, fund):
    with mock.patch("bounties.views.pledge_create", side_effect=TryAgainLater()):
        response = client.post(pledge_url(fund), {"amount": "25", "key": str(uuid.uuid4())})
    assertContains(response, "No money moved.", status_code=503)
    assertContains(response, "Sending this form again is safe", status_code=503)
    assert response["Retry-After"]


def test_anonymous_pledge_goes_to_login_and_back_to_the_fund(client, fund):
    response = client.post(pledge_url(fund), {"amount": "25", "key": str(uuid.uuid4())})
    redirects(response, f"/accounts/login/?next={fund.url}")
    response = client.get(pledge_url(fund), {"amount": "25"})
    redirects(response, f"/accounts/login/?next=/funds/{fund.pk}/pledge/%3Famount%3D25")
    assert client.get("/wallet/").status_code == 302
    assert not Pledge.objects.exists()


def test_unknown_fund_is_404(client, backer):
    assert client.post("/funds/999999/pledge/", {"amount": "25", "key": str(uuid.uuid4())}).status_code == 404


# --- My pledges and withdrawing ----------------------------------------------------------------


def test_my_pledges_lists_them_and_withdraw_returns_the_money(client, backer, fund):
    top_up(backer, 5_000)
    pledge = pledge_create(user=backer, fund_id=fund.pk, amount_cents=2_500, key="w").pledge

    listing = client.get("/pledges/")
    assertContains(listing, "Audit TrueCrypt")
    assertContains(listing, "$25")
    assertContains(listing, "In escrow")
    assertContains(listing, f'action="/pledges/{pledge.pk}/withdraw/"')

    # GET asks first (and moves nothing); the POST withdraws.
    assertContains(client.get(f"/pledges/{pledge.pk}/withdraw/"), "Withdraw $25 from Audit TrueCrypt?")
    assert wallet_for(backer).balance == 2_500
    response = client.post(f"/pledges/{pledge.pk}/withdraw/", follow=True)
    assertRedirects(response, "/pledges/")
    assertContains(response, "Withdrew $25 back to your wallet.")
    assertNotContains(response, f'action="/pledges/{pledge.pk}/withdraw/"')
    assert wallet_for(backer).balance == 5_000
    assertContains(client.get("/wallet/"), "Withdrew $25 from Audit TrueCrypt")

    # A second withdraw is refused, and says nothing moved.
    response = client.post(f"/pledges/{pledge.pk}/withdraw/", follow=True)
    assertContains(response, "nothing to withdraw. No money moved.")
    assert wallet_for(backer).balance == 5_000
    assert ledger_violations() == []


def test_other_users_pledges_and_deposits_are_404(client, backer, fund):
    bob = UserFactory(username="bob")
    top_up(bob, 5_000)
    pledge = pledge_create(user=bob, fund_id=fund.pk, amount_cents=2_500, key="b").pledge
    deposit = deposit_create(user=bob, amount_cents=1_000, gateway="local")

    assert client.get(f"/pledges/{pledge.pk}/").status_code == 404
    assert client.post(f"/pledges/{pledge.pk}/withdraw/").status_code == 404
    assert client.get(f"/payments/local/checkout/{deposit.uuid}/").status_code == 404
    assert client.post(f"/payments/local/checkout/{deposit.uuid}/", {"card": SUCCESS_CARD}).status_code == 404
    assertNotContains(client.get("/pledges/"), "Audit TrueCrypt")

    # Bob's money did not move.
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.ACTIVE
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PENDING
    assert wallet_for(bob).balance == 2_500
    assert ledger_violations() == []


def test_pledging_faster_than_the_limit_says_wait_and_keeps_the_form(client, backer, fund, settings):
    settings.PLEDGE_RATE_LIMIT = "2/d"  # a day: a test never straddles the window's end
    top_up(backer, 10_000)
    for _ in range(2):
        key = hidden_key(client.get(pledge_url(fund)))
        assert client.post(pledge_url(fund), {"amount": "5", "key": key}).status_code == 302
    key = hidden_key(client.get(pledge_url(fund)))

    response = client.post(pledge_url(fund), {"amount": "5", "key": key})

    assertContains(response, "wait a minute", status_code=429)
    assertContains(response, "No money moved.", status_code=429)
    assert response["Retry-After"] == "60"
    assert hidden_key(response) == key  # sending it later is still this one pledge
    assert Pledge.objects.filter(user=backer).count() == 2
