"""Cash-outs: wallet money back to the cards it came from, as worked examples with sums.

Money enters wallets the production way (`tests.money.top_up`: a deposit and its signed
event, which names the payment a refund goes back to). The local gateway refunds at once;
the Stripe gateway is the official library against the local fake (`tests/fakes/stripe_server.py`).
"""

import json
import uuid
from datetime import timedelta

import pytest
import stripe
from django.db import transaction
from django.utils import timezone

from bounties.announcers.registry import sender_for
from bounties.errors import IdempotencyMismatch, InsufficientFunds, InvalidCard, NothingToRefund
from bounties.models import (
    Cashout,
    Deposit,
    DepositStatus,
    Outbox,
    Refund,
    RefundStatus,
    Transfer,
    TransferKind,
    WebhookEvent,
    WebhookOutcome,
)
from bounties.payments.local_gateway import REFUND_FAILS_CARD, SUCCESS_CARD, LocalGateway, check_test_card
from bounties.payments.webhooks import receive
from bounties.services import money_operation
from bounties.services.cashouts import (
    cashout_create,
    cashout_message,
    cashout_open,
    refund_message,
    refund_record,
    refunds_send,
    refunds_send_pending,
)
from bounties.services.deposits import deposit_checkout, deposit_create
from bounties.services.ledger import ledger_violations, wallet_for
from tests.factories import UserFactory
from tests.fakes.stripe_server import SECRET_KEY, WEBHOOK_SECRET, site_on_fake_stripe
from tests.integration import errors_of, run_concurrently
from tests.money import checkout_event, deliver, top_up


def balance(user) -> int:
    return wallet_for(user).balance


def refunds_of(cashout) -> list[tuple[int, int, str]]:
    """(deposit id, amount, status) for each refund of the cash-out, in the order they were made."""
    return list(cashout.refunds.order_by("pk").values_list("deposit_id", "amount_cents", "status"))


def paid_by_card(user, cents, card=SUCCESS_CARD) -> Deposit:
    """A deposit paid on the local gateway's checkout with a test card."""
    deposit = deposit_create(user=user, amount_cents=cents, gateway="local")
    LocalGateway().pay(deposit, card)
    deposit.refresh_from_db()
    return deposit


def make_old(refund: Refund, seconds=60):
    """The refund was made `seconds` ago (the sweep leaves newer ones to the request that made them)."""
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))


# --- Worked examples on the local gateway -------------------------------------------------------


@pytest.mark.django_db
def test_a_cashout_is_split_over_card_payments_newest_first_with_a_partial_refund(user):
    # Alice added 30.00, then 20.00: her wallet holds 50.00.
    older, newer = top_up(user, 3_000), top_up(user, 2_000)
    assert (older.refresh_from_db(), newer.refresh_from_db()) == (None, None)
    assert newer.payment_reference == f"pi_test_{newer.uuid.hex}"  # taken from the signed event

    # She cashes out 35.00: all of the newer payment (20.00), then 15.00 of the older one.
    outcome = cashout_create(user=user, amount_cents=3_500, key="first")
    cashout = outcome.cashout
    assert outcome.replayed is False
    assert refunds_of(cashout) == [(newer.pk, 2_000, "pending"), (older.pk, 1_500, "pending")]
    # The wallet is debited at once, before anything is sent: 50.00 - 35.00 = 15.00.
    assert balance(user) == 1_500
    assert cashout.transfer.kind == TransferKind.CASHOUT
    assert cashout.transfer.idempotency_key == f"cashout:{user.pk}:first"
    assert outcome.message.startswith("$20 is on its way back to the card you added $20 with on ")
    assert ledger_violations() == []

    # After commit the door sends the refunds; the local gateway accepts both.
    sent = refunds_send(cashout.pk)
    assert [(r.amount_cents, r.status) for r in sent] == [(2_000, "succeeded"), (1_500, "succeeded")]
    assert all(r.provider_id.startswith("re_local_") for r in sent)
    assert "$15 was sent back to the card you added $30 with on" in cashout_message(cashout)
    assert refunds_send(cashout.pk) == sent  # nothing pending: sending again sends nothing
    assert ledger_violations() == []

    # A second cash-out of the last 15.00 can only come from what the older payment has left.
    second = cashout_create(user=user, amount_cents=1_500, key="second").cashout
    assert refunds_of(second) == [(older.pk, 1_500, "pending")]
    refunds_send(second.pk)
    # 50.00 in, 35.00 + 15.00 back out: nothing left in the wallet, nothing left to refund.
    assert balance(user) == 0
    assert sum(Refund.objects.filter(deposit=older).values_list("amount_cents", flat=True)) == 3_000
    with pytest.raises(InsufficientFunds) as refused:
        cashout_create(user=user, amount_cents=100, key="third")
    assert refused.value.message == "Your wallet holds $0; this sent back to your card needs $1 more."
    assert ledger_violations() == []


@pytest.mark.django_db
def test_the_same_key_replays_and_another_body_under_it_is_refused(user):
    top_up(user, 5_000)
    first = cashout_create(user=user, amount_cents=1_200, key="k")
    again = cashout_create(user=user, amount_cents=1_200, key="k")
    assert (again.replayed, again.cashout.pk) == (True, first.cashout.pk)
    with pytest.raises(IdempotencyMismatch):
        cashout_create(user=user, amount_cents=1_300, key="k")
    # One cash-out, one debit of 12.00, one refund.
    assert Cashout.objects.count() == 1 and Refund.objects.count() == 1
    assert Transfer.objects.filter(kind=TransferKind.CASHOUT).count() == 1
    assert balance(user) == 3_800
    # The same key from the settlement's inner step (same amount) is the same cash-out too.
    with transaction.atomic():
        assert cashout_open(user=user, amount_cents=1_200, key="k").pk == first.cashout.pk
    assert ledger_violations() == []


@pytest.mark.django_db
def test_more_than_the_card_payments_can_refund_is_refused_and_nothing_moves(user):
    # 10.00 by card with a payment reference, and 20.00 from before references were recorded
    # (its event named no payment): the wallet holds 30.00, of which 10.00 can go to a card.
    top_up(user, 1_000)
    unreferenced = deposit_create(user=user, amount_cents=2_000, gateway="local")
    event = checkout_event(unreferenced)
    del event["data"]["object"]["payment_intent"]
    assert deliver(event)[0] == 200
    assert balance(user) == 3_000
    before = (Transfer.objects.count(), Cashout.objects.count(), Refund.objects.count())

    with pytest.raises(NothingToRefund) as refused:
        cashout_create(user=user, amount_cents=2_500, key="too-much")
    error = refused.value
    assert (error.code, error.status, error.details) == (
        "nothing_to_refund",
        409,
        {"refundable_cents": 1_000},
    )
    assert error.user_message == (
        "Only money added by card can go back to a card: $10 of your wallet can go back to your card now. "
        "No money moved."
    )
    assert balance(user) == 3_000
    assert (Transfer.objects.count(), Cashout.objects.count(), Refund.objects.count()) == before
    # More than the wallet holds is the wallet's refusal.
    with pytest.raises(InsufficientFunds):
        cashout_create(user=user, amount_cents=4_000, key="more-than-held")
    # What can go back, goes back.
    assert refunds_of(cashout_create(user=user, amount_cents=1_000, key="ok").cashout)[0][1] == 1_000
    assert ledger_violations() == []


@pytest.mark.django_db
def test_a_failed_refund_is_reversed_to_the_wallet_and_the_user_is_told(user):
    # Paid with Stripe's test card 4000 0000 0000 5126: the charge succeeds, refunds to it fail.
    assert check_test_card("4000 0000 0000 5126") == REFUND_FAILS_CARD
    deposit = paid_by_card(user, 2_500, card=REFUND_FAILS_CARD)
    assert deposit.status == DepositStatus.SUCCEEDED
    assert deposit.payment_reference == f"pi_local_{deposit.uuid.hex}_refund_fails"

    cashout = cashout_create(user=user, amount_cents=1_000, key="back").cashout
    assert balance(user) == 1_500
    (refund,) = refunds_send(cashout.pk)

    assert refund.status == RefundStatus.FAILED
    assert refund.failure_reason == "the card has expired or was cancelled"
    assert refund.reversal_transfer.kind == TransferKind.CASHOUT_REVERSAL
    assert refund.reversal_transfer.idempotency_key == f"cashout-reversal:{refund.pk}"
    # 25.00 - 10.00 sent + 10.00 returned: the wallet holds 25.00 again.
    assert balance(user) == 2_500
    assert refund_message(refund) == (
        "Your card refund of $10 failed (the card has expired or was cancelled); the money is back in your wallet."
    )
    assert cashout_message(cashout) == refund_message(refund)
    assert ledger_violations() == []

    # Recording the answer again, either way, changes nothing.
    transfers = Transfer.objects.count()
    for ok in (False, True):
        again = refund_record(refund.pk, ok=ok, provider_id="re_other", reason="something else")
        assert (again.status, again.failure_reason) == ("failed", "the card has expired or was cancelled")
    assert (Transfer.objects.count(), balance(user)) == (transfers, 2_500)
    # A failed refund leaves its payment refundable again (in full: nothing of it went back).
    retry = cashout_create(user=user, amount_cents=2_500, key="again").cashout
    assert refunds_of(retry) == [(deposit.pk, 2_500, "pending")]
    assert ledger_violations() == []


@pytest.mark.django_db
def test_a_failed_refund_emails_its_owner_a_receipt_once(user, settings):
    settings.ANNOUNCERS = "console"
    paid_by_card(user, 2_500, card=REFUND_FAILS_CARD)
    cashout = cashout_create(user=user, amount_cents=1_000, key="back").cashout
    (refund,) = refunds_send(cashout.pk)
    assert refund.status == RefundStatus.FAILED
    refund_record(refund.pk, ok=False, reason="again")  # the same answer again: nothing more

    # Private, like every receipt: one email to the owner, never a public post.
    (row,) = Outbox.objects.filter(event="refund_failed")
    assert (row.channel, row.recipient, row.dedupe_key) == (
        "email",
        user.email,
        f"refund:{refund.pk}:failed:email:{user.email}",
    )
    email = sender_for(row).build(row)
    assert email.subject == (
        "Fundfill receipt: Your card refund of $10 failed (the card has expired or was cancelled); the "
        "money is back in your wallet."
    )
    assert refund_message(refund) in email.body and "/wallet/" in email.body
    assert "List-Unsubscribe" not in email.extra_headers  # a receipt is never switched off
    assert ledger_violations() == []


@pytest.mark.django_db
def test_a_refund_accepted_then_failed_later_is_reversed_once(user):
    top_up(user, 2_000)
    cashout = cashout_create(user=user, amount_cents=2_000, key="k").cashout
    (refund,) = refunds_send(cashout.pk)
    assert (refund.status, balance(user)) == ("succeeded", 0)
    # Stripe says later that the refund to a closed card failed.
    for _ in range(2):
        refund = refund_record(refund.pk, ok=False, reason="the card was reported lost or stolen")
    assert (refund.status, balance(user)) == ("failed", 2_000)
    assert Transfer.objects.filter(kind=TransferKind.CASHOUT_REVERSAL).count() == 1
    assert ledger_violations() == []


def refund_update(refund_obj, event_type="refund.failed") -> dict:
    return {
        "id": f"evt_test_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "data": {"object": refund_obj},
    }


@pytest.mark.django_db
def test_a_signed_refund_failed_event_returns_the_money_once_and_only_its_own_amount(user):
    top_up(user, 2_000)
    cashout = cashout_create(user=user, amount_cents=1_500, key="k").cashout
    (refund,) = refunds_send(cashout.pk)
    assert (refund.status, balance(user)) == ("succeeded", 500)

    # Days later the card turns out closed. The event's amount is not ours to trust: 15.00 comes back.
    failed = {
        "id": refund.provider_id,
        "object": "refund",
        "status": "failed",
        "failure_reason": "lost_or_stolen_card",
        "amount": 900_000,
    }
    event = refund_update(failed)
    assert deliver(event) == (200, {"received": True, "replay": False})
    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == ("failed", "the card was reported lost or stolen")
    assert balance(user) == 2_000
    assert WebhookEvent.objects.get(event_id=event["id"]).outcome == WebhookOutcome.APPLIED

    # The same event again, another event saying the same, and events that change nothing.
    assert deliver(event)[1]["replay"] is True
    for obj in (
        failed,
        failed | {"status": "succeeded"},
        failed | {"id": "re_someone_elses"},
        {"id": refund.provider_id, "object": "charge"},
    ):
        other = refund_update(obj, event_type="charge.refund.updated")
        assert deliver(other)[0] == 200
        assert WebhookEvent.objects.get(event_id=other["id"]).outcome != WebhookOutcome.APPLIED
    assert balance(user) == 2_000
    assert Transfer.objects.filter(kind=TransferKind.CASHOUT_REVERSAL).count() == 1
    assert ledger_violations() == []


@pytest.mark.django_db
def test_refunds_are_sent_only_after_commit(user):
    top_up(user, 1_000)
    cashout = cashout_create(user=user, amount_cents=1_000, key="k").cashout
    with pytest.raises(RuntimeError, match="outside any transaction"):
        with transaction.atomic():
            refunds_send(cashout.pk)
    with pytest.raises(RuntimeError, match="outside any transaction"):
        money_operation(refunds_send_pending)()
    assert Refund.objects.get().status == RefundStatus.PENDING


@pytest.mark.django_db
def test_a_settlement_refused_inside_its_transaction_moves_nothing_and_keeps_the_rest(user):
    """The inner step's refusal rolls back only its own writes (a savepoint), not its caller's."""
    top_up(user, 1_000)
    other = UserFactory(username="bob")

    @money_operation
    def settle():
        wallet_for(other)  # the caller's own write, which must survive
        try:
            cashout_open(user=user, amount_cents=5_000, key="settle:1")
        except InsufficientFunds:
            return "kept in the wallet"

    assert settle() == "kept in the wallet"
    assert wallet_for(other).pk and not Cashout.objects.exists()
    assert balance(user) == 1_000
    assert ledger_violations() == []


@pytest.mark.django_db
def test_an_event_names_the_payment_only_by_a_well_formed_id(user):
    """Only the id is taken from the event: anything else is stored as no reference (not refundable)."""
    for bad in ["pi_1; DROP TABLE", "x" * 300, 12345, {"id": "pi_ok\n"}]:
        deposit = deposit_create(user=user, amount_cents=500, gateway="local")
        event = checkout_event(deposit)
        event["data"]["object"]["payment_intent"] = bad
        assert deliver(event)[0] == 200
        deposit.refresh_from_db()
        assert (deposit.status, deposit.payment_reference) == ("succeeded", "")
    expanded = deposit_create(user=user, amount_cents=500, gateway="local")
    event = checkout_event(expanded)
    event["data"]["object"]["payment_intent"] = {"id": "pi_3Expanded", "object": "payment_intent"}
    deliver(event)
    expanded.refresh_from_db()
    assert expanded.payment_reference == "pi_3Expanded"
    with pytest.raises(InvalidCard):
        check_test_card("4000 0000 0000 5127")


@pytest.mark.django_db
def test_the_ledger_check_sees_a_cashout_whose_records_disagree_with_its_money(user):
    deposit = top_up(user, 2_000)
    cashout = cashout_create(user=user, amount_cents=1_500, key="k").cashout
    (refund,) = refunds_send(cashout.pk)
    assert ledger_violations() == []

    # Marked failed with no reversal: the records say the money is back, the ledger says it left.
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED)
    problems = ledger_violations()
    assert f"refund {refund.pk} failed but its money was not returned to the wallet" in problems
    assert any(p.startswith("external account is -500 but") for p in problems), problems

    # More refunded than the payment was for, and refunds that no longer add up to the cash-out.
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.SUCCEEDED, amount_cents=2_500)
    problems = ledger_violations()
    assert f"deposit {deposit.pk} (succeeded, 2000) has 2500 refunded" in problems
    assert f"cash-out {cashout.pk} is for 1500 but its refunds sum to 2500" in problems


# --- Through the Stripe gateway, against the fake -----------------------------------------------


@pytest.fixture
def fake_stripe(settings):
    """A running fake Stripe with the site on `stripe`; the library's globals restored after."""
    with site_on_fake_stripe(settings) as fake:
        yield fake


def paid_on_stripe(fake, user, cents) -> Deposit:
    """A Stripe Checkout deposit, paid: the fake's signed `checkout.session.completed` through the webhook."""
    deposit = deposit_create(user=user, amount_cents=cents, gateway="stripe")
    deposit_checkout(
        deposit, success_url="https://fundfill.example/w/", cancel_url="https://fundfill.example/"
    )
    signed = fake.checkout_completed(deposit.provider_id, WEBHOOK_SECRET)
    assert receive(signed.payload.encode(), signed.signature) == (200, {"received": True, "replay": False})
    deposit.refresh_from_db()
    return deposit


def one_refund_per_key(fake) -> dict[str, int]:
    """How many refunds Stripe made under each idempotency key (replays and refusals make none)."""
    made = {}
    for request in fake.posts("/v1/refunds"):
        made.setdefault(request.idempotency_key, 0)
        if request.status == 200 and not request.replayed:
            made[request.idempotency_key] += 1
    return made


@pytest.mark.django_db
def test_stripe_refunds_the_payment_intents_and_a_failed_refund_comes_back_to_the_wallet(fake_stripe, user):
    older, newer = paid_on_stripe(fake_stripe, user, 4_000), paid_on_stripe(fake_stripe, user, 1_000)
    assert newer.payment_reference == fake_stripe.sessions[newer.provider_id]["payment_intent"]
    assert newer.payment_reference in fake_stripe.payment_intents

    # 30.00 back: 10.00 of the newer payment (its card is closed: the refund fails), then 20.00 of the older.
    fake_stripe.fail_next_refund("expired_or_canceled_card")
    cashout = cashout_create(user=user, amount_cents=3_000, key="k").cashout
    assert balance(user) == 2_000
    first, second = refunds_send(cashout.pk)

    posts = fake_stripe.posts("/v1/refunds")
    assert [(p.params["payment_intent"], p.params["amount"], p.idempotency_key) for p in posts] == [
        (newer.payment_reference, "1000", f"refund:{first.uuid}"),
        (older.payment_reference, "2000", f"refund:{second.uuid}"),
    ]
    assert all(p.header("Authorization") == f"Bearer {SECRET_KEY}" for p in posts)
    assert (first.status, first.provider_id) == ("failed", posts[0].response["id"])
    assert first.failure_reason == "the card has expired or was cancelled"
    assert (second.status, second.provider_id) == ("succeeded", posts[1].response["id"])
    assert fake_stripe.refunded(newer.payment_reference) == 0
    assert fake_stripe.refunded(older.payment_reference) == 2_000
    # 50.00 - 30.00 + 10.00 returned: 30.00 in the wallet.
    assert balance(user) == 3_000
    assert cashout_message(cashout).startswith(
        "Your card refund of $10 failed (the card has expired or was cancelled); the money is back in your wallet. "
        "$20 was sent back to the card you added $40 with on "
    )
    assert ledger_violations() == []


@pytest.mark.django_db
def test_stripe_refusing_a_refund_is_a_failure_reversed_to_the_wallet(fake_stripe, user):
    deposit = paid_on_stripe(fake_stripe, user, 2_000)
    # Staff refunded 15.00 of it in Stripe's dashboard, so Stripe refuses our 20.00.
    stripe.Refund.create(payment_intent=deposit.payment_reference, amount=1_500)
    cashout = cashout_create(user=user, amount_cents=2_000, key="k").cashout
    (refund,) = refunds_send(cashout.pk)
    assert refund.status == RefundStatus.FAILED
    assert refund.failure_reason == (
        "the card processor refused it: Refund amount ($20.00) is greater than unrefunded amount on charge ($5.00)"
    )
    assert balance(user) == 2_000
    assert ledger_violations() == []


@pytest.mark.django_db
def test_stripe_down_leaves_the_refund_pending_and_the_sweep_sends_it_exactly_once(fake_stripe, user):
    paid_on_stripe(fake_stripe, user, 3_000)
    stripe.max_network_retries = 0
    fake_stripe.fail_next(500, path="/v1/refunds")  # Stripe down: nothing done
    cashout = cashout_create(user=user, amount_cents=1_000, key="k").cashout
    (refund,) = refunds_send(cashout.pk)
    assert refund.status == RefundStatus.PENDING and not fake_stripe.refunds
    assert balance(user) == 2_000  # the money is on its way out, not back in the wallet
    assert refund_message(refund).startswith("$10 is on its way back to the card")
    assert ledger_violations() == []

    assert refunds_send_pending() == 0  # too new: left to the request that made it
    make_old(refund)
    assert refunds_send_pending() == 1
    assert refunds_send_pending() == 0
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert one_refund_per_key(fake_stripe) == {f"refund:{refund.uuid}": 1}
    assert len(fake_stripe.refunds) == 1 and balance(user) == 2_000
    assert ledger_violations() == []


@pytest.mark.django_db
def test_a_lost_answer_is_resent_by_the_sweep_under_the_same_key_and_refunds_once(fake_stripe, user):
    paid_on_stripe(fake_stripe, user, 3_000)
    stripe.default_http_client = stripe.RequestsClient(timeout=1.0)
    stripe.max_network_retries = 0
    fake_stripe.delay_next(4.0, path="/v1/refunds")  # Stripe refunds, but its answer never arrives
    cashout = cashout_create(user=user, amount_cents=3_000, key="k").cashout
    (refund,) = refunds_send(cashout.pk)
    assert refund.status == RefundStatus.PENDING and len(fake_stripe.refunds) == 1

    make_old(refund)
    assert refunds_send_pending() == 1
    refund.refresh_from_db()
    (made,) = fake_stripe.refunds.values()
    assert (refund.status, refund.provider_id) == ("succeeded", made["id"])
    assert [p.replayed for p in fake_stripe.posts("/v1/refunds")] == [False, True]
    assert one_refund_per_key(fake_stripe) == {f"refund:{refund.uuid}": 1}
    assert balance(user) == 0
    assert ledger_violations() == []


@pytest.mark.django_db
def test_a_refund_whose_answer_was_lost_and_failed_later_is_found_by_its_key(fake_stripe, client, user):
    paid_on_stripe(fake_stripe, user, 3_000)
    stripe.default_http_client = stripe.RequestsClient(timeout=1.0)
    stripe.max_network_retries = 0
    fake_stripe.delay_next(4.0, path="/v1/refunds")  # Stripe refunds; we never hear back
    cashout = cashout_create(user=user, amount_cents=1_200, key="k").cashout
    (refund,) = refunds_send(cashout.pk)
    assert (refund.status, refund.provider_id) == ("pending", "")
    (made,) = fake_stripe.refunds.values()
    assert made["metadata"]["refund_key"] == f"refund:{refund.uuid}"

    # The card is closed: Stripe's signed refund.failed reaches the real webhook view.
    signed = fake_stripe.refund_failed(made["id"], WEBHOOK_SECRET, reason="expired_or_canceled_card")
    response = client.post(
        "/payments/stripe/webhook/", signed.payload, content_type="application/json", **signed.django_headers
    )
    assert response.status_code == 200
    refund.refresh_from_db()
    assert (refund.status, refund.provider_id) == ("failed", made["id"])
    assert balance(user) == 3_000
    # The sweep has nothing left to send for it.
    make_old(refund)
    assert refunds_send_pending() == 0
    assert len(fake_stripe.posts("/v1/refunds")) == 1
    assert ledger_violations() == []


@pytest.mark.django_db
def test_a_day_old_pending_refund_is_looked_up_before_it_is_sent_again(fake_stripe, user):
    """Stripe forgets idempotency keys after about 24 hours: a resend then would refund twice."""
    deposit = paid_on_stripe(fake_stripe, user, 3_000)
    stripe.default_http_client = stripe.RequestsClient(timeout=1.0)
    stripe.max_network_retries = 0
    fake_stripe.delay_next(4.0, path="/v1/refunds")  # Stripe refunds; we never hear back
    cashout = cashout_create(user=user, amount_cents=1_000, key="k").cashout
    (lost,) = refunds_send(cashout.pk)
    stripe.Refund.create(payment_intent=deposit.payment_reference, amount=500)  # one staff made, not ours

    make_old(lost, seconds=25 * 3600)
    assert refunds_send_pending() == 1
    lost.refresh_from_db()
    made = [
        r for r in fake_stripe.refunds.values() if r["metadata"].get("refund_key") == f"refund:{lost.uuid}"
    ]
    assert [(r["id"], r["amount"]) for r in made] == [(lost.provider_id, 1_000)]
    assert lost.status == RefundStatus.SUCCEEDED
    # Ours once and staff's once: found by its key, ours was not sent again (the fake never forgets a
    # key, so a resend would show here as a third, replayed, post).
    assert len(fake_stripe.posts("/v1/refunds")) == 2
    assert fake_stripe.refunded(deposit.payment_reference) == 1_500
    assert ledger_violations() == []


# --- Concurrency on PostgreSQL ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_cashouts_of_the_whole_balance_one_succeeds():
    alice = UserFactory(username="alice")
    top_up(alice, 3_000)
    top_up(alice, 2_000)

    results = run_concurrently(
        [lambda i=i: cashout_create(user=alice, amount_cents=5_000, key=f"all-{i}") for i in range(2)]
    )

    assert errors_of(results, InsufficientFunds) == []
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1 and sum(isinstance(r, InsufficientFunds) for r in results) == 1
    assert balance(alice) == 0
    assert Cashout.objects.count() == 1
    assert sorted(Refund.objects.values_list("amount_cents", flat=True)) == [2_000, 3_000]
    refunds_send(won[0].cashout.pk)
    assert set(Refund.objects.values_list("status", flat=True)) == {"succeeded"}
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_partial_cashouts_never_refund_a_payment_twice():
    """Four cash-outs of 20.00 at once from 60.00: three go through, split so no payment is over-refunded."""
    bob = UserFactory(username="bob")
    for cents in (2_500, 1_500, 2_000):
        top_up(bob, cents)

    results = run_concurrently(
        [lambda i=i: cashout_create(user=bob, amount_cents=2_000, key=f"part-{i}") for i in range(4)]
    )

    assert errors_of(results, InsufficientFunds) == []
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert balance(bob) == 0
    per_deposit = {
        d.pk: (d.amount_cents, sum(d.refunds.values_list("amount_cents", flat=True)))
        for d in Deposit.objects.filter(user=bob)
    }
    assert all(refunded == amount for amount, refunded in per_deposit.values()), json.dumps(per_deposit)
    assert ledger_violations() == []
