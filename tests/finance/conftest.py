"""Stuck money for the Finance tests, each kind made the way production makes it.

- a card pledge whose payment never arrived (`pledge_create_with_card`, then 20 minutes pass);
- a card pledge whose payment was credited but whose completion was lost (`credit_only`: the
  credit the webhook makes, without the pledge step it runs in the same transaction, as a
  credit from before that step existed, or by an operator, would leave it);
- a deposit paid for another amount (a signed event that disagrees: flagged, not credited);
- a card refund refused by the bank (the local gateway's refund-fails card);
- a manual payout Finance marked failed.
"""

import pytest
from django.contrib.auth.models import Group

from bounties.models import Deposit, Pledge
from bounties.payments.local_gateway import REFUND_FAILS_SUFFIX
from bounties.services.cashouts import cashout_create, refunds_send
from bounties.services.deposits import deposit_create
from bounties.services.payouts import payout_fail, payout_request
from bounties.services.pledging import pledge_create_with_card
from tests.bounties.test_payouts import after_hold, award
from tests.factories import UserFactory
from tests.finance.stuck import backdate, credit_only, finance_member
from tests.money import checkout_event, deliver, top_up


@pytest.fixture
def fiona(db):
    return finance_member("fiona")


@pytest.fixture
def editor(db):
    """An editor: into the admin and able to edit pages, but not in Finance."""
    edith = UserFactory(username="edith")
    edith.groups.add(Group.objects.get(name="Editors"))
    return edith


@pytest.fixture
def waiting_pledge(fund):
    """Carol pledged $40 with her card 20 minutes ago and never paid."""
    carol = UserFactory(username="carol")
    outcome = pledge_create_with_card(
        user=carol, fund_id=fund.pk, amount_cents=4_000, key="w", gateway="local"
    )
    backdate(Pledge, outcome.pledge.pk, 20)
    return Pledge.objects.get(pk=outcome.pledge.pk)


@pytest.fixture
def paid_pledge(fund):
    """Bob pledged $25 with his card 30 minutes ago; the payment reached his wallet, the pledge did not."""
    bob = UserFactory(username="bob")
    outcome = pledge_create_with_card(user=bob, fund_id=fund.pk, amount_cents=2_500, key="p", gateway="local")
    credit_only(outcome.deposit)
    backdate(Pledge, outcome.pledge.pk, 30)
    return Pledge.objects.get(pk=outcome.pledge.pk)


@pytest.fixture
def mismatched_deposit(db):
    """Dan opened a $50 deposit; the provider says $5 was paid: flagged, nothing credited."""
    dan = UserFactory(username="dan")
    deposit = deposit_create(user=dan, amount_cents=5_000, gateway="local")
    status, _ = deliver(checkout_event(deposit, amount_cents=500))
    assert status == 200
    return Deposit.objects.get(pk=deposit.pk)


@pytest.fixture
def failed_refund(db):
    """Erin added $50 with one card, then $30 with a card whose refunds fail; she cashed out $30,
    which went to the newest card and was refused: the $30 is back in her wallet."""
    erin = UserFactory(username="erin")
    top_up(erin, 5_000)
    deposit = deposit_create(user=erin, amount_cents=3_000, gateway="local")
    event = checkout_event(deposit)
    event["data"]["object"]["payment_intent"] += REFUND_FAILS_SUFFIX
    assert deliver(event)[0] == 200
    outcome = cashout_create(user=erin, amount_cents=3_000, key="cash-1")
    (refund,) = refunds_send(outcome.cashout.pk)
    assert refund.status == "failed" and refund.deposit_id == deposit.pk
    return refund


@pytest.fixture
def failed_payout(fund, db):
    """Wendy was awarded $300 and asked for it; Finance (frank) marked the manual payout failed."""
    wendy = UserFactory(username="wendy")
    award(wendy, 30_000, fund=fund)
    payout = payout_request(user=wendy, amount_cents=30_000, key="pay-1", now=after_hold()).payout
    return payout_fail(payout_id=payout.pk, staff=finance_member("frank"), reason="Bank account closed")
