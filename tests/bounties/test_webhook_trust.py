"""Webhook trust (RELIABILITY T26) and signed-but-odd events.

A correctly signed event is still only the provider's word: the credit is always the
deposit's own amount in the site's currency, once, and only from `pending`. An event
that disagrees is recorded and the deposit flagged for staff, answered 2xx so the
provider stops resending. Every event here is signed with the real scheme and POSTed
to the HTTP endpoint, as Stripe does.
"""

import json
import logging
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from bounties.models import Deposit, DepositStatus, Transfer, TransferKind, WebhookEvent, WebhookOutcome
from bounties.payments import webhook_secret
from bounties.services.deposits import deposit_create
from bounties.services.ledger import external_account, ledger_violations, transfer_post, wallet_for
from tests.factories import UserFactory
from tests.money import checkout_event, failed_event, sign

pytestmark = pytest.mark.django_db

WEBHOOK_URL = "/payments/stripe/webhook/"
# The constant the local gateway used to sign with: it was in the source, so anyone could.
PUBLISHED_SECRET = "whsec_local_gateway_not_a_real_secret"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dora(db):
    return UserFactory(username="dora")


@pytest.fixture
def deposit(dora):
    """Dora opens a $5.00 deposit."""
    return deposit_create(user=dora, amount_cents=500, gateway="local")


def post(client, event, *, secret=None, timestamp=None):
    """POST `event` (a dict, a list, or the raw body) with a real `Stripe-Signature` header."""
    payload = event if isinstance(event, str) else json.dumps(event)
    header = sign(payload, secret=secret, timestamp=timestamp)
    return client.post(WEBHOOK_URL, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def wallet_cents(user) -> int:
    return wallet_for(user).balance


def security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "fundfill.security"]


def outcome_of(event) -> tuple[str, str]:
    row = WebhookEvent.objects.get(event_id=event["id"])
    return row.outcome, row.note


def snapshot():
    """Everything a webhook could change."""
    return (
        list(WebhookEvent.objects.values_list("event_id", flat=True)),
        list(Deposit.objects.values_list("pk", "status", "amount_cents", "transfer_id", "needs_review")),
        list(Transfer.objects.values_list("pk", flat=True)),
    )


# --- The credit is the deposit's own amount, in the site's currency ------------------------------


@pytest.mark.parametrize(
    "amount, currency",
    [
        (50_000_000_000, "jpy"),  # the example: $5 credited as 500 million dollars
        (50_000_000_000, "usd"),
        (100, "usd"),  # less than was asked for
        (500, "eur"),  # the right number in another currency
        (500, "USD "),
        (None, "usd"),
        ("500", "usd"),
        (500.0, "usd"),
        (True, "usd"),
    ],
)
def test_an_event_that_disagrees_with_the_deposit_is_recorded_and_flagged_not_credited(
    client, dora, deposit, amount, currency, caplog
):
    event = checkout_event(deposit)
    event["data"]["object"].update(amount_total=amount, currency=currency)
    with caplog.at_level(logging.WARNING, logger="fundfill.security"):
        response = post(client, event)

    assert response.status_code == 200  # 2xx: Stripe stops resending it
    assert wallet_cents(dora) == 0
    deposit.refresh_from_db()
    assert (deposit.status, deposit.amount_cents, deposit.transfer) == (DepositStatus.PENDING, 500, None)
    assert deposit.needs_review and event["id"] in deposit.review_note
    outcome, note = outcome_of(event)
    assert outcome == WebhookOutcome.FLAGGED and "not credited" in note
    (line,) = security_lines(caplog)
    assert f"deposit {deposit.pk}" in line and event["id"] in line
    assert not Transfer.objects.filter(kind=TransferKind.DEPOSIT).exists()
    assert ledger_violations() == []


def test_a_payment_intent_with_another_amount_is_flagged_too(client, dora, deposit):
    event = checkout_event(deposit, event_type="payment_intent.succeeded")
    event["data"]["object"] = {
        "id": "pi_test_1",
        "object": "payment_intent",
        "amount": 500,
        "amount_received": 50_000,
        "currency": "usd",
        "metadata": {"deposit": str(deposit.uuid)},
    }
    assert post(client, event).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.PENDING and deposit.needs_review
    assert wallet_cents(dora) == 0


def test_the_genuine_event_after_a_forged_one_credits_the_deposit_amount_once(client, dora, deposit):
    forged = checkout_event(deposit, amount_cents=50_000_000_000)
    forged["data"]["object"]["currency"] = "jpy"
    assert post(client, forged).status_code == 200
    genuine = checkout_event(deposit)
    assert post(client, genuine).status_code == 200

    assert wallet_cents(dora) == 500
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.SUCCEEDED and deposit.amount_cents == 500
    assert deposit.needs_review  # staff still see that a disagreeing event came
    assert outcome_of(genuine)[0] == WebhookOutcome.APPLIED
    assert ledger_violations() == []


# --- At most once, and only from pending ---------------------------------------------------------


def test_a_paid_event_for_a_declined_deposit_is_not_credited(client, dora, deposit, caplog):
    assert post(client, failed_event(deposit)).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.DECLINED

    late = checkout_event(deposit)
    with caplog.at_level(logging.WARNING, logger="fundfill.security"):
        assert post(client, late).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.DECLINED and deposit.transfer is None
    assert deposit.needs_review
    assert wallet_cents(dora) == 0
    assert outcome_of(late)[0] == WebhookOutcome.FLAGGED
    assert len(security_lines(caplog)) == 1
    assert ledger_violations() == []


def test_an_expired_checkout_moves_pending_to_expired_and_is_never_credited_after(client, dora, deposit):
    expired = checkout_event(deposit, event_type="checkout.session.expired")
    expired["data"]["object"].update(status="expired", payment_status="unpaid")
    assert post(client, expired).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.EXPIRED
    assert outcome_of(expired)[0] == WebhookOutcome.APPLIED

    late = checkout_event(deposit)
    assert post(client, late).status_code == 200
    assert post(client, failed_event(deposit)).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.EXPIRED and deposit.needs_review
    assert wallet_cents(dora) == 0
    assert ledger_violations() == []


@pytest.mark.parametrize(
    "event_type", ["checkout.session.expired", "checkout.session.async_payment_failed", "paid again"]
)
def test_a_credited_deposit_never_changes_state_again(client, dora, deposit, event_type):
    assert post(client, checkout_event(deposit)).status_code == 200
    assert wallet_cents(dora) == 500
    if event_type == "paid again":
        late = checkout_event(deposit, amount_cents=99_999)
    elif event_type == "checkout.session.expired":
        late = checkout_event(deposit, event_type=event_type)
    else:
        late = failed_event(deposit)
    assert post(client, late).status_code == 200

    deposit.refresh_from_db()
    assert (deposit.status, deposit.amount_cents) == (DepositStatus.SUCCEEDED, 500)
    assert deposit.decline_reason == ""
    assert wallet_cents(dora) == 500
    assert Transfer.objects.filter(kind=TransferKind.DEPOSIT).count() == 1
    # A late failure or expiry is stale and ignored; a second paid event for another amount is flagged.
    expected = WebhookOutcome.FLAGGED if event_type == "paid again" else WebhookOutcome.IGNORED
    assert outcome_of(late)[0] == expected
    assert ledger_violations() == []


def test_a_deposit_amount_cannot_be_changed_after_it_is_opened(deposit):
    deposit.amount_cents = 50_000
    with pytest.raises(TypeError, match="amount"):
        deposit.save()
    with pytest.raises(TypeError, match="amount"):
        Deposit.objects.filter(pk=deposit.pk).update(amount_cents=50_000)
    with pytest.raises(DatabaseError, match="amount"), transaction.atomic():
        with connection.cursor() as cursor:  # the database refuses it too
            cursor.execute("UPDATE bounties_deposit SET amount_cents = 50000")
    assert Deposit.objects.get(pk=deposit.pk).amount_cents == 500


def test_the_database_lets_a_deposit_leave_pending_only_once(client, deposit):
    assert post(client, failed_event(deposit)).status_code == 200
    for sql in (
        "UPDATE bounties_deposit SET status = 'succeeded'",
        "UPDATE bounties_deposit SET status = 'pending'",
    ):
        with pytest.raises(DatabaseError, match="leaves pending only once"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    Deposit.objects.filter(pk=deposit.pk).update(needs_review=True)  # other columns stay editable
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.DECLINED


# --- No signing secret in the code -------------------------------------------------------------


def test_an_event_signed_with_the_published_secret_is_refused(client, dora, deposit, caplog):
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="fundfill.security"):
        response = post(client, checkout_event(deposit), secret=PUBLISHED_SECRET)
    assert response.status_code == 400
    assert snapshot() == before and wallet_cents(dora) == 0
    assert len(security_lines(caplog)) == 1


def test_the_local_secret_is_derived_from_secret_key_and_is_not_in_the_source(settings):
    secret = webhook_secret()
    assert secret.startswith("whsec_") and secret != PUBLISHED_SECRET
    sources = [*(ROOT / "bounties").rglob("*.py"), *(ROOT / "fundfill").rglob("*.py")]
    assert not any(secret in path.read_text() for path in sources)
    settings.SECRET_KEY = "another-site-" + "x" * 40
    assert webhook_secret() != secret  # another site's key signs nothing here


@pytest.mark.parametrize("stripe_secret", ["whsec_live_configured_0123456789", ""])
def test_the_stripe_gateway_never_accepts_the_local_secret(client, settings, dora, deposit, stripe_secret):
    local_secret = webhook_secret()
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_WEBHOOK_SECRET = stripe_secret
    before = snapshot()
    for secret in (local_secret, PUBLISHED_SECRET, ""):
        assert post(client, checkout_event(deposit), secret=secret).status_code == 400
    assert snapshot() == before
    if stripe_secret:
        assert post(client, checkout_event(deposit), secret=stripe_secret).status_code == 200
        assert wallet_cents(dora) == 500


# --- Signed but odd events: recorded and 2xx, never a 500 ------------------------------------------


def _odd(deposit, change):
    event = checkout_event(deposit)
    change(event, event["data"]["object"])
    return event


ODD_WITH_ID = {
    "deposit reference not a uuid": lambda e, o: o["metadata"].update(deposit="not-a-uuid"),
    "client_reference_id not a uuid": lambda e, o: (
        o.pop("metadata"),
        o.update(client_reference_id="1; DROP TABLE"),
    ),
    "deposit reference a number": lambda e, o: o["metadata"].update(deposit=12),
    "metadata a list": lambda e, o: o.update(metadata=["deposit"], client_reference_id=None),
    "unknown deposit": lambda e, o: o["metadata"].update(deposit=str(uuid.uuid4())),
    "no data": lambda e, o: e.pop("data"),
    "data a list": lambda e, o: e.update(data=[o]),
    "data.object a list": lambda e, o: e["data"].update(object=[o]),
    "data.object a string": lambda e, o: e["data"].update(object="cs_test"),
    "type not a string": lambda e, o: e.update(type=["checkout.session.completed"]),
    "no type": lambda e, o: e.pop("type"),
    "NUL in the type": lambda e, o: e.update(type="checkout.session.completed\x00"),
}


# Naming no deposit of ours, or no event type we handle: ignored. The rest cannot be read: unusable.
IGNORED_ODDITIES = {"metadata a list", "unknown deposit", "type not a string", "no type", "NUL in the type"}


@pytest.mark.parametrize("oddity", list(ODD_WITH_ID))
def test_a_signed_event_we_cannot_use_is_recorded_and_acknowledged(client, dora, deposit, oddity):
    event = _odd(deposit, ODD_WITH_ID[oddity])
    response = post(client, event)
    assert response.status_code == 200
    assert wallet_cents(dora) == 0
    row = WebhookEvent.objects.get(event_id=event["id"])
    expected = WebhookOutcome.IGNORED if oddity in IGNORED_ODDITIES else WebhookOutcome.UNUSABLE
    assert (row.outcome, bool(row.note)) == (expected, True)
    assert post(client, event).json()["replay"] is True  # and a redelivery is a replay...
    assert wallet_cents(dora) == 0  # ...that credits nothing either
    assert ledger_violations() == []


def test_a_nul_elsewhere_in_a_good_event_is_stored_replaced_and_the_event_applied(client, dora, deposit):
    event = checkout_event(deposit)
    event["data"]["object"]["customer_details"] = {"name": "Dora\x00", "na\x00me": 1}
    assert post(client, event).status_code == 200  # PostgreSQL refuses NUL in text and jsonb
    row = WebhookEvent.objects.get(event_id=event["id"])
    assert row.outcome == WebhookOutcome.APPLIED
    assert row.payload["data"]["object"]["customer_details"] == {"name": "Dora\ufffd", "na\ufffdme": 1}
    assert wallet_cents(dora) == 500


ODD_WITHOUT_ID = {
    "no id": lambda deposit: {k: v for k, v in checkout_event(deposit).items() if k != "id"},
    "NUL in the id": lambda deposit: checkout_event(deposit, event_id="evt_\x00null"),
    "id a number": lambda deposit: {**checkout_event(deposit), "id": 12},
    "empty id": lambda deposit: checkout_event(deposit) | {"id": ""},
    "id too long": lambda deposit: checkout_event(deposit, event_id="evt_" + "x" * 300),
    "a list": lambda deposit: [checkout_event(deposit)],
    "a string": lambda deposit: "evt_test",
    "not JSON": lambda deposit: "{not json",
    "NaN (not JSON either)": lambda deposit: json.dumps(checkout_event(deposit) | {"created": float("nan")}),
}


@pytest.mark.parametrize("oddity", list(ODD_WITHOUT_ID))
def test_a_signed_event_without_a_usable_id_is_logged_and_acknowledged(client, dora, deposit, oddity, caplog):
    event = ODD_WITHOUT_ID[oddity](deposit)
    payload = event if oddity.startswith(("not JSON", "NaN")) else json.dumps(event)
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="fundfill.security"):
        response = post(client, payload)
    assert response.status_code == 200
    assert snapshot() == before and wallet_cents(dora) == 0
    (line,) = security_lines(caplog)
    assert "no usable id" in line


# --- Timestamps: refused 5 minutes either side of now ----------------------------------------------


def test_an_event_timestamped_more_than_five_minutes_ahead_is_refused(client, dora, deposit, caplog):
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="fundfill.security"):
        response = post(client, checkout_event(deposit), timestamp=int(time.time()) + 301)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_signature"
    assert snapshot() == before and wallet_cents(dora) == 0
    (line,) = security_lines(caplog)
    assert line.startswith("rejected webhook") and "future" in line

    assert post(client, checkout_event(deposit), timestamp=int(time.time()) + 240).status_code == 200
    assert wallet_cents(dora) == 500


# --- ledger_check proves each credited deposit ---------------------------------------------------


def test_ledger_check_names_a_deposit_credited_with_another_amount(dora):
    # Two $5.00 deposits: one credited $6.00 and one $4.00, behind the services' back.
    # Every transfer balances and the sums agree ($10.00 in, $10.00 out of the world), so
    # only a per-deposit check can see it.
    first = deposit_create(user=dora, amount_cents=500, gateway="local")
    second = deposit_create(user=dora, amount_cents=500, gateway="local")
    wallet, world = wallet_for(dora), external_account()
    with transaction.atomic():
        for deposit, cents in ((first, 600), (second, 400)):
            credit = transfer_post(
                kind=TransferKind.DEPOSIT,
                key=f"deposit:{deposit.pk}",
                legs=[(world, -cents), (wallet, cents)],
            )
            Deposit.objects.filter(pk=deposit.pk).update(status=DepositStatus.SUCCEEDED, transfer=credit)

    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert failure.value.returncode == 1
    report = err.getvalue()
    assert f"VIOLATION: deposit {first.pk}: its transfer credits 600 but it was opened for 500" in report
    assert f"VIOLATION: deposit {second.pk}: its transfer credits 400 but it was opened for 500" in report


def test_ledger_check_names_a_deposit_transfer_on_a_deposit_that_is_not_credited(dora):
    deposit = deposit_create(user=dora, amount_cents=500, gateway="local")
    with transaction.atomic():
        credit = transfer_post(
            kind=TransferKind.DEPOSIT,
            key=f"deposit:{deposit.pk}",
            legs=[(external_account(), -500), (wallet_for(dora), 500)],
        )
        Deposit.objects.filter(pk=deposit.pk).update(status=DepositStatus.DECLINED, transfer=credit)
    problems = ledger_violations()
    assert f"deposit {deposit.pk} is declined but has a deposit transfer" in problems


# --- The Money admin shows what needs review --------------------------------------------------------


def test_flagged_deposits_are_marked_and_filterable_in_the_money_admin(admin_client, client, dora, deposit):
    other = deposit_create(user=dora, amount_cents=700, gateway="local")
    post(client, checkout_event(other))
    forged = checkout_event(deposit, amount_cents=50_000_000_000)
    post(client, forged)

    listing = admin_client.get(reverse("money_deposits:index"))
    assert listing.status_code == 200 and "Needs review" in listing.content.decode()
    flagged = admin_client.get(reverse("money_deposits:index"), {"needs_review": "true"})
    rows = flagged.context["object_list"]
    assert [d.pk for d in rows] == [deposit.pk]

    page = admin_client.get(reverse("money_deposits:inspect", args=(deposit.pk,))).content.decode()
    assert "Needs review" in page and forged["id"] in page
    events = admin_client.get(reverse("money_webhook_events:index"), {"outcome": "flagged"})
    assert [e.event_id for e in events.context["object_list"]] == [forged["id"]]
