"""The support actions as services: each moves money through the bounty services (or says why
not), once however often it is asked, leaves the ledger sound, and writes who and why to
Wagtail's audit log in the same transaction."""

import pytest
from wagtail.models import ModelLogEntry

from bounties import selectors as bounty_selectors
from bounties.errors import BountiesError, InsufficientFunds, NothingToRefund, PayoutNotAllowed
from bounties.models import (
    Cashout,
    Outbox,
    Payout,
    PayoutStatus,
    Pledge,
    PledgeStatus,
    Refund,
    RefundStatus,
    Transfer,
)
from bounties.services.cashouts import refund_retry, refunds_send
from bounties.services.ledger import ledger_violations
from bounties.services.payouts import payout_retry
from bounties.services.pledging import pledge_create
from finance import services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def entries(obj, action):
    return list(ModelLogEntry.objects.for_instance(obj).filter(action=action).order_by("pk"))


# --- Complete a pending pledge ------------------------------------------------------------------------


def test_completing_a_paid_pledge_moves_its_money_into_escrow_once(paid_pledge, fiona, fund):
    # Bob's $25 is in his wallet, his pledge still pending.
    assert bounty_selectors.wallet_balance(user=paid_pledge.user) == 2_500

    outcome = services.support_pledge_complete(pledge_id=paid_pledge.pk, staff=fiona, why="Webhook lost")

    # The $25 moved from the wallet into the fund's escrow; the pledge is active.
    assert outcome.moved and "$25 moved from the wallet into escrow" in outcome.message
    paid_pledge.refresh_from_db()
    assert paid_pledge.status == PledgeStatus.ACTIVE
    assert bounty_selectors.wallet_balance(user=paid_pledge.user) == 0
    fund.fund.refresh_from_db()
    assert fund.fund.pledged_cents == 2_500
    assert ledger_violations() == []
    # Who and why, in the audit log.
    (entry,) = entries(paid_pledge, "finance.pledge_complete")
    assert entry.user == fiona and entry.data["why"] == "Webhook lost"
    assert entry.message == "Pledge completed by Finance: “Webhook lost”"

    # A double submit: nothing moves again, nothing is logged again, and it says so.
    transfers = Transfer.objects.count()
    again = services.support_pledge_complete(pledge_id=paid_pledge.pk, staff=fiona, why="Webhook lost")
    assert not again.moved and again.replayed and "no money moved" in again.message
    assert Transfer.objects.count() == transfers
    assert len(entries(paid_pledge, "finance.pledge_complete")) == 1


def test_completing_a_pledge_still_waiting_for_its_payment_moves_nothing_and_says_so(waiting_pledge, fiona):
    outcome = services.support_pledge_complete(pledge_id=waiting_pledge.pk, staff=fiona, why="Customer asked")

    assert not outcome.moved and "still waiting for its card payment: no money moved" in outcome.message
    assert Pledge.objects.get(pk=waiting_pledge.pk).status == PledgeStatus.PENDING_FUNDS
    assert Transfer.objects.count() == 0
    assert entries(waiting_pledge, "finance.pledge_complete")[0].data["moved"] is False


@pytest.mark.parametrize("why", ["", "   \n "])
def test_no_reason_or_no_finance_membership_is_refused_before_anything_moves(paid_pledge, fiona, editor, why):
    with pytest.raises(services.SupportRefused):
        services.support_pledge_complete(pledge_id=paid_pledge.pk, staff=fiona, why=why)
    with pytest.raises(services.SupportRefused):
        services.support_pledge_complete(pledge_id=paid_pledge.pk, staff=editor, why="I want to")
    assert Pledge.objects.get(pk=paid_pledge.pk).status == PledgeStatus.PENDING_FUNDS
    assert ModelLogEntry.objects.filter(action__startswith="finance.").count() == 0


# --- Retry a failed refund ----------------------------------------------------------------------------------


def test_retrying_a_failed_refund_sends_it_to_the_other_card_once(failed_refund, fiona):
    erin = failed_refund.cashout.user
    # After the failure: $80 in the wallet ($50 + $30, the $30 returned).
    assert bounty_selectors.wallet_balance(user=erin) == 8_000

    outcome = services.support_refund_retry(refund_id=failed_refund.pk, staff=fiona, why="Card closed")

    # $30 left the wallet and went to the $50 card (not the one that refused); the bank took it.
    assert outcome.moved and "$30 was accepted by the card's bank" in outcome.message
    assert bounty_selectors.wallet_balance(user=erin) == 5_000
    (retry,) = Refund.objects.filter(cashout=outcome.obj)
    assert retry.status == RefundStatus.SUCCEEDED and retry.deposit_id != failed_refund.deposit_id
    assert retry.amount_cents == 3_000
    assert ledger_violations() == []
    (entry,) = entries(failed_refund, "finance.refund_retry")
    assert entry.user == fiona and entry.data == {
        "why": "Card closed",
        "cashout": outcome.obj.pk,
        "amount_cents": 3_000,
    }

    # Double submit: the same cash-out, no second debit, no second entry.
    again = services.support_refund_retry(refund_id=failed_refund.pk, staff=fiona, why="Card closed")
    assert again.replayed and not again.moved and again.obj == outcome.obj
    assert bounty_selectors.wallet_balance(user=erin) == 5_000
    assert Cashout.objects.filter(user=erin).count() == 2
    assert len(entries(failed_refund, "finance.refund_retry")) == 1


def test_a_refund_retry_service_of_its_own_is_one_keyed_operation(failed_refund):
    first = refund_retry(refund_id=failed_refund.pk)
    second = refund_retry(refund_id=failed_refund.pk)
    assert not first.replayed and second.replayed and first.cashout == second.cashout
    assert first.cashout.key == f"retry-refund:{failed_refund.pk}"
    assert [r.status for r in refunds_send(first.cashout.pk)] == [RefundStatus.SUCCEEDED]
    assert ledger_violations() == []


def test_a_refund_retry_refuses_when_no_other_card_can_take_it_or_the_wallet_spent_it(failed_refund, fund):
    erin = failed_refund.cashout.user
    # Erin pledges $60 of her $80: $20 is left, less than the $30 to send again.
    pledge_create(user=erin, fund_id=fund.pk, amount_cents=6_000, key="spend")
    before = Transfer.objects.count()
    with pytest.raises(InsufficientFunds):
        refund_retry(refund_id=failed_refund.pk)
    assert Transfer.objects.count() == before

    # A refund that has not failed is not retried.
    ok = Refund.objects.create(cashout=failed_refund.cashout, deposit=failed_refund.deposit, amount_cents=1)
    with pytest.raises(NothingToRefund, match="has not failed"):
        refund_retry(refund_id=ok.pk)


def test_a_refund_retry_with_no_other_card_says_to_contact_the_user(db):
    from bounties.payments.local_gateway import REFUND_FAILS_SUFFIX
    from bounties.services.cashouts import cashout_create
    from bounties.services.deposits import deposit_create
    from tests.money import checkout_event, deliver

    gina = UserFactory(username="gina")
    deposit = deposit_create(user=gina, amount_cents=3_000, gateway="local")
    event = checkout_event(deposit)
    event["data"]["object"]["payment_intent"] += REFUND_FAILS_SUFFIX
    deliver(event)
    (refund,) = refunds_send(cashout_create(user=gina, amount_cents=3_000, key="c").cashout.pk)
    with pytest.raises(NothingToRefund, match="No other card payment of gina") as refusal:
        refund_retry(refund_id=refund.pk)
    assert "Contact them" in refusal.value.user_message
    assert bounty_selectors.wallet_balance(user=gina) == 3_000
    assert ledger_violations() == []


# --- Retry a failed payout -----------------------------------------------------------------------------------


def test_retrying_a_failed_payout_asks_for_it_again_once(failed_payout, fiona):
    wendy = failed_payout.user
    assert bounty_selectors.payout_balance(user=wendy) == 30_000  # returned when it failed

    outcome = services.support_payout_retry(payout_id=failed_payout.pk, staff=fiona, why="New bank details")

    new = outcome.obj
    assert outcome.moved and new.pk != failed_payout.pk and new.status == PayoutStatus.REQUESTED
    assert new.amount_cents == 30_000 and new.key == f"retry-payout:{failed_payout.pk}"
    assert bounty_selectors.payout_balance(user=wendy) == 0
    assert "approve it in the payout queue" in outcome.message
    assert ledger_violations() == []
    (entry,) = entries(failed_payout, "finance.payout_retry")
    assert entry.user == fiona and entry.data["why"] == "New bank details" and entry.data["payout"] == new.pk
    (request,) = entries(new, "bounties.payout.request")
    assert request.user == fiona and request.data["retry_of"] == failed_payout.pk

    again = services.support_payout_retry(payout_id=failed_payout.pk, staff=fiona, why="New bank details")
    assert again.replayed and again.obj == new and Payout.objects.filter(user=wendy).count() == 2
    assert bounty_selectors.payout_balance(user=wendy) == 0


def test_only_a_failed_payout_is_retried_and_only_by_finance(failed_payout, fiona, editor):
    with pytest.raises(PayoutNotAllowed):
        payout_retry(payout_id=failed_payout.pk, staff=editor)
    new = payout_retry(payout_id=failed_payout.pk, staff=fiona).payout
    with pytest.raises(PayoutNotAllowed, match="only a failed one"):
        payout_retry(payout_id=new.pk, staff=fiona)


# --- Contact the user --------------------------------------------------------------------------------------


def test_contacting_the_user_queues_one_private_email_and_logs_why(waiting_pledge, fiona):
    outcome = services.support_contact(
        kind="pledge",
        object_id=waiting_pledge.pk,
        template="pledge_pending",
        staff=fiona,
        why="Pending for 20 minutes",
        note="Reply if you need help.",
    )

    assert not outcome.moved and "Email to carol@example.com queued" in outcome.message
    (row,) = Outbox.objects.filter(event="support_contact")
    assert row.channel == "email" and row.recipient == "carol@example.com"  # only to her: never announced
    assert "your pledge of $40" in row.payload["message"] and row.payload["message"].endswith(
        "Reply if you need help."
    )
    (entry,) = entries(waiting_pledge, "finance.contact")
    assert entry.data == {"why": "Pending for 20 minutes", "template": "pledge_pending"}

    again = services.support_contact(
        kind="pledge", object_id=waiting_pledge.pk, template="pledge_pending", staff=fiona, why="again"
    )
    assert again.replayed and "already sent" in again.message
    assert Outbox.objects.filter(event="support_contact").count() == 1
    assert len(entries(waiting_pledge, "finance.contact")) == 1


def test_the_support_email_is_built_from_the_payload(waiting_pledge, fiona):
    from bounties.announcers.registry import sender_for

    services.support_contact(
        kind="pledge", object_id=waiting_pledge.pk, template="pledge_pending", staff=fiona, why="x"
    )
    email = sender_for(Outbox.objects.get(event="support_contact")).build(
        Outbox.objects.get(event="support_contact")
    )
    assert email.subject == "Your pledge on Fundfill is waiting for your card payment"
    assert "Hello carol, your pledge of $40" in email.body and "unsubscribe" not in email.body.lower()


def test_contact_with_an_unknown_row_or_template_is_refused(fiona, waiting_pledge):
    for kind, pk, template in (
        ("pledge", 10**9, "pledge_pending"),
        ("wallet", waiting_pledge.pk, "pledge_pending"),
        ("pledge", waiting_pledge.pk, "nope"),
        ("pledge", waiting_pledge.pk, "refund_failed"),  # a template about another kind of row
    ):
        with pytest.raises(BountiesError):
            services.support_contact(kind=kind, object_id=pk, template=template, staff=fiona, why="x")
    assert Outbox.objects.filter(event="support_contact").count() == 0
