"""The payment webhook (RELIABILITY T11, T12, T13): duplicates, reordering, crashes, forgeries.

Events are Stripe-shaped `checkout.session.*` events signed with the real
`stripe.WebhookSignature` scheme and fed to `webhooks.receive` (or POSTed to the
HTTP endpoint), so `stripe.Webhook.construct_event` verifies every one.
"""

import json
import logging
import time

import pytest
from django.test import Client

import bounties.services.deposits
from bounties.models import Deposit, DepositStatus, Transfer, TransferKind, WebhookEvent
from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
from bounties.payments.webhooks import receive
from bounties.services.deposits import deposit_create, deposit_create_once
from bounties.services.ledger import ledger_violations, wallet_for
from tests.factories import UserFactory
from tests.integration import errors_of, run_concurrently
from tests.money import checkout_event, deliver, failed_event, sign

WEBHOOK_URL = "/payments/stripe/webhook/"


@pytest.fixture
def erin(db):
    return UserFactory(username="erin")


@pytest.fixture
def deposit(erin):
    return deposit_create(user=erin, amount_cents=2_500, gateway="local")


def wallet_cents(user) -> int:
    return wallet_for(user).balance


def deposits_credited() -> int:
    return Transfer.objects.filter(kind=TransferKind.DEPOSIT).count()


def snapshot():
    """Everything a webhook could change."""
    return (
        list(WebhookEvent.objects.values_list("event_id", flat=True)),
        list(Deposit.objects.values_list("pk", "status", "amount_cents", "transfer_id")),
        list(Transfer.objects.values_list("pk", flat=True)),
    )


# --- T11: duplicate delivery ----------------------------------------------------------------


def test_same_event_delivered_twice_in_sequence_credits_once(erin, deposit):
    event = checkout_event(deposit)
    assert deliver(event) == (200, {"received": True, "replay": False})
    assert wallet_cents(erin) == 2_500  # credited once...
    assert deliver(event) == (200, {"received": True, "replay": True})  # 2xx, so Stripe stops resending
    assert wallet_cents(erin) == 2_500  # ...and the replay credits nothing
    assert WebhookEvent.objects.filter(event_id=event["id"]).count() == 1
    assert deposits_credited() == 1
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_same_event_delivered_five_times_at_once_credits_once():
    erin = UserFactory(username="erin")
    deposit = deposit_create(user=erin, amount_cents=2_500, gateway="local")
    event = checkout_event(deposit)

    results = run_concurrently([lambda: deliver(event) for _ in range(5)])

    assert errors_of(results) == []
    assert all(status == 200 for status, _ in results)
    assert sorted(body["replay"] for _, body in results) == [False] + [True] * 4
    assert wallet_cents(erin) == 2_500
    assert WebhookEvent.objects.count() == 1 and deposits_credited() == 1
    assert ledger_violations() == []


def test_two_event_ids_for_one_checkout_session_credit_once(erin, deposit):
    """`checkout.session.completed` and `…async_payment_succeeded` for one payment: one credit."""
    assert deliver(checkout_event(deposit))[0] == 200
    second = checkout_event(deposit, event_type="checkout.session.async_payment_succeeded")
    assert deliver(second) == (200, {"received": True, "replay": False})  # a new event id: applied...
    assert wallet_cents(erin) == 2_500  # ...but the deposit was already credited
    assert WebhookEvent.objects.count() == 2 and deposits_credited() == 1
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_distinct_event_ids_for_one_payment_at_once_credit_once():
    erin = UserFactory(username="erin")
    deposit = deposit_create(user=erin, amount_cents=2_500, gateway="local")
    events = [checkout_event(deposit) for _ in range(8)]  # 8 different event ids, one payment

    results = run_concurrently([lambda e=e: deliver(e) for e in events])

    assert errors_of(results) == [] and all(status == 200 for status, _ in results)
    assert wallet_cents(erin) == 2_500
    assert WebhookEvent.objects.count() == 8 and deposits_credited() == 1
    assert ledger_violations() == []


# --- T12: out of order and partial failure --------------------------------------------------------


def test_failure_event_after_success_does_not_undo_it(erin, deposit):
    deliver(checkout_event(deposit))
    assert deliver(failed_event(deposit))[0] == 200  # stale: ignored, but acknowledged
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.SUCCEEDED and deposit.decline_reason == ""
    assert wallet_cents(erin) == 2_500
    assert ledger_violations() == []


def test_success_after_a_decline_is_flagged_not_credited(erin, deposit):
    """A declined deposit is final (T26): a later paid event credits nothing and asks staff to look."""
    deliver(failed_event(deposit, message="Insufficient funds on card."))
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.DECLINED and wallet_cents(erin) == 0
    assert deliver(checkout_event(deposit))[0] == 200  # acknowledged, so Stripe stops resending
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.DECLINED and deposit.needs_review
    assert wallet_cents(erin) == 0
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_crash_after_the_event_id_insert_rolls_back_the_event_row_too(monkeypatch):
    """No "seen but not applied": the redelivery after a crash credits the wallet."""
    erin = UserFactory(username="erin")
    deposit = deposit_create(user=erin, amount_cents=2_500, gateway="local")
    event = checkout_event(deposit)
    real_post = bounties.services.deposits.transfer_post
    crashes = []

    def crash_once(**kwargs):
        if not crashes:
            # The event row is already written in this transaction when the credit fails.
            assert WebhookEvent.objects.filter(event_id=event["id"]).exists()
            crashes.append(kwargs["key"])
            raise RuntimeError("handler crashed mid-credit")
        return real_post(**kwargs)

    monkeypatch.setattr(bounties.services.deposits, "transfer_post", crash_once)

    with pytest.raises(RuntimeError, match="crashed"):  # the HTTP view answers 500: Stripe retries
        deliver(event)
    assert crashes == [f"deposit:{deposit.pk}"]
    assert not WebhookEvent.objects.exists()  # rolled back with the credit
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PENDING
    assert wallet_cents(erin) == 0 and deposits_credited() == 0

    assert deliver(event) == (200, {"received": True, "replay": False})  # Stripe's redelivery
    assert wallet_cents(erin) == 2_500
    assert WebhookEvent.objects.count() == 1 and deposits_credited() == 1
    assert ledger_violations() == []


# --- T13: forged or replayed --------------------------------------------------------------------


def _forgeries(event):
    payload = json.dumps(event)
    tampered = payload.replace('"amount_total": 2500', '"amount_total": 250000')
    assert tampered != payload
    return {
        "bad signature": (payload, f"t={int(time.time())},v1={'0' * 64}"),
        "modified body": (tampered, sign(payload)),
        "wrong secret": (payload, sign(payload, secret="whsec_test_mode_secret_in_live_mode")),
        "older than 300 s": (payload, sign(payload, timestamp=int(time.time()) - 301)),
        "missing header": (payload, None),
        "empty header": (payload, ""),
    }


@pytest.mark.parametrize(
    "forgery",
    ["bad signature", "modified body", "wrong secret", "older than 300 s", "missing header", "empty header"],
)
def test_forged_or_stale_events_get_400_and_change_nothing(erin, deposit, forgery, caplog):
    payload, header = _forgeries(checkout_event(deposit))[forgery]
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="fundfill.security"):
        status, body = receive(payload.encode(), header)
    assert status == 400 and body["error"]["code"] == "bad_signature"
    assert snapshot() == before
    assert wallet_cents(erin) == 0
    security = [r.getMessage() for r in caplog.records if r.name == "fundfill.security"]
    assert len(security) == 1 and security[0].startswith("rejected webhook")  # one security log line


def test_a_signed_event_just_inside_the_tolerance_is_accepted(erin, deposit):
    payload = json.dumps(checkout_event(deposit))
    status, _ = receive(payload.encode(), sign(payload, timestamp=int(time.time()) - 280))
    assert status == 200 and wallet_cents(erin) == 2_500


def test_http_endpoint_verifies_signature_without_csrf(erin, deposit):
    client = Client(enforce_csrf_checks=True)  # a provider has no CSRF cookie: the signature is the auth
    payload = json.dumps(checkout_event(deposit))

    bad = client.post(
        WEBHOOK_URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=deadbeef"
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_signature"
    missing = client.post(WEBHOOK_URL, data=payload, content_type="application/json")
    assert missing.status_code == 400
    assert wallet_cents(erin) == 0 and not WebhookEvent.objects.exists()

    good = client.post(
        WEBHOOK_URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )
    assert good.status_code == 200 and good.json() == {"received": True, "replay": False}
    assert wallet_cents(erin) == 2_500
    again = client.post(
        WEBHOOK_URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )
    assert again.status_code == 200 and again.json() == {"received": True, "replay": True}
    assert wallet_cents(erin) == 2_500 and deposits_credited() == 1
    assert client.get(WEBHOOK_URL).status_code == 405  # POST only
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_the_same_deposit_key_ten_times_at_once_makes_one_deposit_and_credits_once():
    erin = UserFactory(username="erin")

    def attempt():
        found, replayed = deposit_create_once(user=erin, amount_cents=2_500, gateway="local", key="dep-1")
        LocalGateway().pay(found, SUCCESS_CARD)  # what the API does for a new or still-pending deposit
        return found.pk, replayed

    results = run_concurrently([attempt for _ in range(10)])

    assert errors_of(results) == []
    assert len({pk for pk, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 9
    assert Deposit.objects.filter(user=erin).count() == 1
    assert wallet_cents(erin) == 2_500 and deposits_credited() == 1
    assert ledger_violations() == []
