"""The Stripe path end to end, against a local fake that speaks Stripe's HTTP API.

The official `stripe` library makes the calls (`STRIPE_API_BASE` points it at the
fake); signed `checkout.session.completed` events go through the real webhook
view. Covers checkout creation, exactly-once crediting (T11), forged deliveries
(T13) and a create that times out and is retried (T10).
"""

import threading
import time

import pytest
import stripe
from django.db import connection
from django.test import Client

from bounties.errors import PaymentUnavailable
from bounties.models import Deposit, DepositStatus, Transfer, TransferKind, WebhookEvent
from bounties.services.deposits import deposit_checkout, deposit_create
from bounties.services.ledger import ledger_violations, wallet_for
from tests.factories import UserFactory
from tests.fakes.stripe_server import SECRET_KEY, WEBHOOK_SECRET, site_on_fake_stripe

WEBHOOK_URL = "/payments/stripe/webhook/"
SUCCESS_URL = "https://fundfill.example/wallet/?added=1"
CANCEL_URL = "https://fundfill.example/wallet/add/"


@pytest.fixture
def fake_stripe(settings):
    """A running fake Stripe with the site configured for it; the library's globals restored after."""
    with site_on_fake_stripe(settings) as fake:
        yield fake


def short_timeouts(*, retries: int, timeout: float = 1.5):
    """Make the library give up on a slow answer quickly (restored by the fixture)."""
    stripe.default_http_client = stripe.RequestsClient(timeout=timeout)
    stripe.max_network_retries = retries


def start_deposit(user, cents):
    deposit = deposit_create(user=user, amount_cents=cents, gateway="stripe")
    return deposit_checkout(deposit, success_url=SUCCESS_URL, cancel_url=CANCEL_URL)


def deliver(client, signed):
    return client.post(WEBHOOK_URL, signed.payload, content_type="application/json", **signed.django_headers)


def money_state(user):
    return (
        wallet_for(user).balance,
        list(Deposit.objects.filter(user=user).values_list("status", flat=True)),
        Transfer.objects.count(),
        WebhookEvent.objects.count(),
    )


@pytest.mark.django_db
def test_checkout_is_created_through_the_official_library(fake_stripe):
    alice = UserFactory(username="alice")
    deposit = start_deposit(alice, 2_500)

    (request,) = fake_stripe.posts()
    assert request.header("Authorization") == f"Bearer {SECRET_KEY}"
    assert "PythonBindings" in request.header("User-Agent")
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert request.idempotency_key == f"deposit:{deposit.uuid}"
    params = request.params
    assert params["mode"] == "payment"
    (item,) = params["line_items"]
    assert item["quantity"] == "1"
    assert item["price_data"]["unit_amount"] == "2500"
    assert item["price_data"]["currency"] == "usd"
    assert params["metadata"] == {"deposit": str(deposit.uuid)}
    assert params["payment_intent_data"]["metadata"] == {"deposit": str(deposit.uuid)}
    assert params["client_reference_id"] == str(deposit.uuid)
    assert (params["success_url"], params["cancel_url"]) == (SUCCESS_URL, CANCEL_URL)

    (session,) = fake_stripe.sessions.values()
    assert (session["amount_total"], session["currency"], session["status"]) == (2_500, "usd", "open")
    deposit.refresh_from_db()
    assert deposit.provider_id == session["id"] and deposit.provider_id.startswith("cs_test_")
    assert deposit.checkout_url == session["url"]
    # Nothing is credited until the signed event says the payment succeeded.
    assert deposit.status == DepositStatus.PENDING
    assert wallet_for(alice).balance == 0
    assert not Transfer.objects.exists()


@pytest.mark.django_db
def test_signed_completion_credits_the_wallet_exactly_once(fake_stripe, client):
    bob = UserFactory(username="bob")
    deposit = start_deposit(bob, 4_000)

    first = fake_stripe.checkout_completed(deposit.provider_id, WEBHOOK_SECRET)
    response = deliver(client, first)
    assert response.status_code == 200 and response.json() == {"received": True, "replay": False}
    assert wallet_for(bob).balance == 4_000

    again = deliver(client, first)  # the same event redelivered
    assert again.status_code == 200 and again.json()["replay"] is True
    other = fake_stripe.checkout_completed(deposit.provider_id, WEBHOOK_SECRET)  # a new event id
    assert other.id != first.id
    assert deliver(client, other).status_code == 200

    assert wallet_for(bob).balance == 4_000
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.SUCCEEDED
    assert Transfer.objects.filter(kind=TransferKind.DEPOSIT).count() == 1
    assert deposit.transfer.idempotency_key == f"deposit:{deposit.pk}"
    assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == sorted([first.id, other.id])
    assert ledger_violations() == []


@pytest.mark.django_db
def test_forged_or_stale_events_get_400_and_change_nothing(fake_stripe, client):
    carol = UserFactory(username="carol")
    deposit = start_deposit(carol, 1_000)
    before = money_state(carol)
    good = fake_stripe.checkout_completed(deposit.provider_id, WEBHOOK_SECRET)

    wrong_secret = fake_stripe.sign(good.event, "whsec_someone_else")
    stale = fake_stripe.sign(good.event, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)
    tampered = good.payload.replace('"amount_total": 1000', '"amount_total": 900000')
    assert tampered != good.payload
    attempts = [
        (wrong_secret.payload, wrong_secret.django_headers),
        (stale.payload, stale.django_headers),
        (tampered, good.django_headers),
        (good.payload, {}),  # no Stripe-Signature header
        ("not json", {"HTTP_STRIPE_SIGNATURE": good.signature}),
    ]
    for body, headers in attempts:
        response = client.post(WEBHOOK_URL, body, content_type="application/json", **headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_signature"
    assert client.get(WEBHOOK_URL).status_code == 405
    assert money_state(carol) == before

    assert deliver(client, good).status_code == 200  # the genuine one still works afterwards
    assert wallet_for(carol).balance == 1_000
    assert ledger_violations() == []


@pytest.mark.django_db
def test_t10_create_timed_out_then_retried_by_the_library_makes_one_session(fake_stripe, client):
    dave = UserFactory(username="dave")
    short_timeouts(retries=2)
    fake_stripe.delay_next(5.0)  # Stripe makes the session, but its answer arrives too late

    deposit = start_deposit(dave, 1_500)

    posts = fake_stripe.posts()
    # The library retried on its own, once (only the first answer was slow), with the same key:
    # Stripe made one session and answered the retry from it.
    assert [(p.idempotency_key, p.replayed) for p in posts] == [
        (f"deposit:{deposit.uuid}", False),
        (f"deposit:{deposit.uuid}", True),
    ]
    assert fake_stripe.session_count() == 1
    (session,) = fake_stripe.sessions.values()
    assert deposit.provider_id == session["id"]

    deliver(client, fake_stripe.checkout_completed(session["id"], WEBHOOK_SECRET))
    assert wallet_for(dave).balance == 1_500
    assert ledger_violations() == []


@pytest.mark.django_db
def test_t10_create_timed_out_then_retried_by_us_makes_one_session(fake_stripe, client):
    erin = UserFactory(username="erin")
    short_timeouts(retries=0)
    fake_stripe.delay_next(5.0)
    deposit = deposit_create(user=erin, amount_cents=3_000, gateway="stripe")

    with pytest.raises(PaymentUnavailable) as unavailable:
        deposit_checkout(deposit, success_url=SUCCESS_URL, cancel_url=CANCEL_URL)
    assert isinstance(unavailable.value.__cause__, stripe.APIConnectionError)
    deposit.refresh_from_db()
    assert deposit.provider_id is None  # we never heard back...
    assert fake_stripe.session_count() == 1  # ...but Stripe made the session

    deposit_checkout(deposit, success_url=SUCCESS_URL, cancel_url=CANCEL_URL)  # "try again"

    assert fake_stripe.session_count() == 1
    assert [r.replayed for r in fake_stripe.posts()] == [False, True]
    (session,) = fake_stripe.sessions.values()
    assert deposit.provider_id == session["id"]
    deliver(client, fake_stripe.checkout_completed(session["id"], WEBHOOK_SECRET))
    deliver(client, fake_stripe.checkout_completed(session["id"], WEBHOOK_SECRET))
    assert wallet_for(erin).balance == 3_000
    assert Transfer.objects.filter(kind=TransferKind.DEPOSIT).count() == 1
    assert ledger_violations() == []


@pytest.mark.django_db
def test_stripe_errors_reach_the_caller_and_move_no_money(fake_stripe):
    frank = UserFactory(username="frank")
    deposit = deposit_create(user=frank, amount_cents=2_000, gateway="stripe")
    deposit_checkout(deposit, success_url=SUCCESS_URL, cancel_url=CANCEL_URL)
    # The same idempotency key with other parameters is refused by Stripe, not turned into a second session.
    with pytest.raises(PaymentUnavailable) as refused:
        deposit_checkout(deposit, success_url=SUCCESS_URL + "&other", cancel_url=CANCEL_URL)
    assert isinstance(refused.value.__cause__, stripe.IdempotencyError)
    assert fake_stripe.session_count() == 1

    short_timeouts(retries=0)
    fake_stripe.fail_next(500)
    other = deposit_create(user=frank, amount_cents=500, gateway="stripe")
    with pytest.raises(PaymentUnavailable) as failed:
        deposit_checkout(other, success_url=SUCCESS_URL, cancel_url=CANCEL_URL)
    assert isinstance(failed.value.__cause__, stripe.APIError)
    other.refresh_from_db()
    assert (other.provider_id, other.status) == (None, DepositStatus.PENDING)
    assert wallet_for(frank).balance == 0 and not Transfer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_credit_once(fake_stripe):
    """T11: the same event five times at once, and a second event id racing it."""
    grace = UserFactory(username="grace")
    deposit = start_deposit(grace, 7_700)
    same = fake_stripe.checkout_completed(deposit.provider_id, WEBHOOK_SECRET)
    other = fake_stripe.checkout_completed(deposit.provider_id, WEBHOOK_SECRET)
    deliveries = [same] * 5 + [other] * 2
    barrier = threading.Barrier(len(deliveries))
    statuses = []

    def post(signed):
        try:
            barrier.wait(timeout=10)
            statuses.append(deliver(Client(), signed).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(signed,)) for signed in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200] * len(deliveries)
    assert wallet_for(grace).balance == 7_700
    assert Transfer.objects.filter(kind=TransferKind.DEPOSIT).count() == 1
    assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == sorted([same.id, other.id])
    assert ledger_violations() == []
