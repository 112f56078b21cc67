"""The Finance reads on their edges: which deposits count as paid but not credited, when a card
pledge becomes stuck, an award in a winner's money story, and the story's fixed query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bounties.models import Pledge
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.deposits import deposit_create
from finance import selectors
from tests.factories import UserFactory
from tests.finance.stuck import backdate
from tests.money import back, checkout_event, deliver, failed_event, top_up

pytestmark = pytest.mark.django_db


def test_only_a_paid_event_that_credited_nothing_makes_a_deposit_uncredited(mismatched_deposit):
    ann = UserFactory(username="ann")
    top_up(ann, 1_000)  # paid and credited
    declined = deposit_create(user=ann, amount_cents=2_000, gateway="local")
    deliver(failed_event(declined))  # declined: nobody paid
    unpaid = deposit_create(user=ann, amount_cents=3_000, gateway="local")
    event = checkout_event(unpaid)
    event["data"]["object"]["payment_status"] = "unpaid"  # completed, but not paid yet
    deliver(event)
    waiting = deposit_create(user=ann, amount_cents=4_000, gateway="local")  # no event yet

    assert list(selectors.uncredited_deposits()) == [mismatched_deposit]
    assert list(selectors.flagged_deposits()) == [mismatched_deposit]
    assert waiting not in selectors.uncredited_deposits()


def test_a_card_pledge_is_stuck_after_fifteen_minutes(waiting_pledge):
    now = timezone.now()
    backdate(Pledge, waiting_pledge.pk, 14)
    assert list(selectors.stuck_pledges(now=now)) == []
    assert list(selectors.stuck_pledges(now=now + timedelta(minutes=2))) == [waiting_pledge]


def test_an_award_is_in_the_winners_story(fund):
    for name, cents in (("ten", 1_000), ("ninety", 9_000)):
        back(UserFactory(username=name), fund, cents)
    winner = UserFactory(username="winner")
    claim = claim_submit(user=winner, fund_id=fund.pk, statement="Done.", url="https://example.com/w")
    vote_cast(user=UserFactory(username="ninety"), claim_id=claim.pk, approve=True)

    story = selectors.money_story(user=winner)
    (award,) = story.events
    assert (award.what, award.amount_cents, award.status) == (
        "Award from Audit TrueCrypt",
        10_000,
        "In the payout balance",
    )
    (transfer,) = award.transfers
    assert award.keys == [("key", transfer.idempotency_key)]
    assert sorted(entry.amount for entry in transfer.entries.all()) == [-10_000, 10_000]
    assert (story.wallet_cents, story.escrow_cents, story.payout_cents) == (0, 0, 10_000)


def test_the_story_reads_in_a_fixed_number_of_queries(fund, failed_refund):
    erin = failed_refund.cashout.user

    def queries():
        with CaptureQueriesContext(connection) as captured:
            selectors.money_story(user=erin)
        return len(captured)

    before = queries()
    for n in range(3):
        back(erin, fund, 100 + n)
    assert queries() == before
