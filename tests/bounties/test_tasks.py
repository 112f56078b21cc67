"""The pending-pledge sweep runs by itself: the worker's schedule calls `bounties.tasks.pledge_complete_pending`."""

from datetime import timedelta
from pydoc import locate

import pytest
from django_q.models import Schedule

import bounties.services.deposits
from bounties import tasks
from bounties.models import Claim, ClaimStatus, PledgeStatus
from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
from bounties.selectors import balances, wallet_balance
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.pledging import pledge_create, pledge_create_with_card
from tests.factories import UserFactory
from tests.money import top_up


@pytest.mark.django_db
def test_the_schedule_calls_the_task_by_its_one_name():
    schedule = Schedule.objects.get(name="complete pending pledges")  # bounties/migrations 0002, 0006
    assert (schedule.func, schedule.minutes, schedule.repeats) == (
        "bounties.tasks.pledge_complete_pending",
        1,
        -1,
    )
    assert locate(schedule.func) is tasks.pledge_complete_pending


# Real transactions: each completion is its own durable money operation, as in the worker.
@pytest.mark.django_db(transaction=True)
def test_the_task_completes_a_card_pledge_whose_completion_was_lost(make_fund, monkeypatch):
    fund, backer = make_fund(), UserFactory(username="hana")
    top_up(backer, 1_000)
    outcome = pledge_create_with_card(
        user=backer, fund_id=fund.pk, amount_cents=5_000, key="k", gateway="local"
    )
    # The $40 lands, but its pledge is not completed with it (as if that step were lost).
    with monkeypatch.context() as patch:
        patch.setattr(bounties.services.deposits, "_pledge_complete", lambda pledge_id: None)
        LocalGateway().pay(outcome.deposit, SUCCESS_CARD)
    assert wallet_balance(user=backer) == 5_000

    assert tasks.pledge_complete_pending() == 1
    assert tasks.pledge_complete_pending() == 0  # a second run moves nothing

    outcome.pledge.refresh_from_db()
    assert outcome.pledge.status == PledgeStatus.ACTIVE
    assert wallet_balance(user=backer) == 0  # $10 + $40 - $50, into escrow once


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "func"),
    [
        ("tally claims", "bounties.tasks.claims_tally"),
        ("settle funds", "bounties.tasks.funds_settle"),
        ("send card refunds and payouts", "bounties.tasks.money_out_send"),
    ],
)
def test_the_claim_cycle_runs_every_minute_after_migrate(name, func):
    schedule = Schedule.objects.get(name=name)  # bounties/migrations 0008
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (func, "I", 1, -1)
    assert callable(locate(schedule.func))


@pytest.mark.django_db(transaction=True)
def test_the_tally_task_decides_a_claim_whose_window_closed_once(make_fund):
    fund, backer, claimant = make_fund(), UserFactory(username="hana"), UserFactory(username="ivo")
    top_up(backer, 4_000)
    pledge_create(user=backer, fund_id=fund.pk, amount_cents=4_000, key="k")
    claim = claim_submit(user=claimant, fund_id=fund.pk, statement="Done.", url="https://example.com/w")
    vote_cast(user=backer, claim_id=claim.pk, approve=False, reason="Not yet.")  # decided at once: rejected
    second = claim_submit(user=claimant, fund_id=fund.pk, statement="Done now.", url="https://example.com/w2")
    assert tasks.claims_tally() == 0  # its window is open
    Claim.objects.filter(pk=second.pk).update(closes_at=second.closes_at - timedelta(hours=73))

    assert tasks.claims_tally() == 1  # nobody voted: silence is not consent
    assert tasks.claims_tally() == 0
    assert Claim.objects.get(pk=second.pk).status == ClaimStatus.REJECTED
    assert balances(user=claimant).payout_cents == 0
