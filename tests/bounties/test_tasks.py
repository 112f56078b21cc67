"""The pending-pledge sweep runs by itself: the worker's schedule calls `bounties.tasks.pledge_complete_pending`."""

from pydoc import locate

import pytest
from django_q.models import Schedule

import bounties.services.deposits
from bounties import tasks
from bounties.models import PledgeStatus
from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
from bounties.selectors import wallet_balance
from bounties.services.pledging import pledge_create_with_card
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
