"""Pledging, worked through step by step with the sums asserted at each one."""

import pytest
from django.db import transaction
from wagtail.models import PageViewRestriction

from bounties.errors import (
    FundNotOpen,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    NotFound,
    WithdrawNotAllowed,
)
from bounties.models import Fund, FundStatus, Pledge, PledgeStatus, Transfer
from bounties.services.ledger import ledger_violations, wallet_for
from bounties.services.pledging import pledge_create, pledge_withdraw
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db


def test_pledge_moves_wallet_money_into_escrow_once_per_key(fund):
    alice = UserFactory(username="alice")
    top_up(alice, 10_000)  # $100 in Alice's wallet
    assert wallet_for(alice).balance == 10_000

    outcome = pledge_create(user=alice, fund_id=fund.pk, amount_cents=2_500, key="k1")
    assert not outcome.replayed
    assert wallet_for(alice).balance == 7_500  # $25 left the wallet...
    fund_state = Fund.objects.get(pk=fund.pk)
    assert (fund_state.pledged_cents, fund_state.backer_count) == (2_500, 1)  # ...and sits in escrow

    replay = pledge_create(user=alice, fund_id=fund.pk, amount_cents=2_500, key="k1")
    assert replay.replayed and replay.pledge.pk == outcome.pledge.pk
    assert wallet_for(alice).balance == 7_500  # the replay moved nothing
    assert Transfer.objects.filter(kind="pledge").count() == 1

    with pytest.raises(IdempotencyMismatch):
        pledge_create(user=alice, fund_id=fund.pk, amount_cents=5_000, key="k1")
    assert wallet_for(alice).balance == 7_500
    assert ledger_violations() == []


def test_refusals_move_nothing(fund, make_fund):
    bob = UserFactory(username="bob")
    top_up(bob, 1_000)
    with pytest.raises(InsufficientFunds) as short:
        pledge_create(user=bob, fund_id=fund.pk, amount_cents=1_500, key="a")
    assert short.value.details["shortfall_cents"] == 500
    with pytest.raises(InvalidAmount):
        pledge_create(user=bob, fund_id=fund.pk, amount_cents=0, key="b")
    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.AWARDED)
    with pytest.raises(FundNotOpen):
        pledge_create(user=bob, fund_id=fund.pk, amount_cents=100, key="c")
    assert wallet_for(bob).balance == 1_000
    assert not Pledge.objects.exists()
    assert ledger_violations() == []


def test_withdraw_returns_money_while_open_only(fund):
    carol = UserFactory(username="carol")
    top_up(carol, 5_000)
    pledge = pledge_create(user=carol, fund_id=fund.pk, amount_cents=3_000, key="w").pledge
    pledge_withdraw(user=carol, pledge_id=pledge.pk)
    assert wallet_for(carol).balance == 5_000
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.WITHDRAWN
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 0
    with pytest.raises(WithdrawNotAllowed):
        pledge_withdraw(user=carol, pledge_id=pledge.pk)
    assert ledger_violations() == []


def test_service_cannot_nest_inside_another_unit_of_work(fund, user):
    with pytest.raises(RuntimeError), transaction.atomic():
        pledge_create(user=user, fund_id=fund.pk, amount_cents=100, key="nested")


def test_a_fund_that_is_not_published_takes_no_pledge_whatever_the_door(make_fund):
    """A creator's proposal under review (or a fund an editor unpublished) has a `Fund` row that
    says "open": the web and API doors hide it, and the service refuses it too, as a fund that is
    not there, so no other caller (a script, a future door) can put money into it."""
    draft = make_fund(title="Proposal under review", live=False)
    carol = UserFactory(username="carol")
    top_up(carol, 5_000)
    with pytest.raises(NotFound) as refused:
        pledge_create(user=carol, fund_id=draft.pk, amount_cents=2_500, key="draft")
    assert refused.value.code == "not_found" and "No money moved" in refused.value.user_message
    assert wallet_for(carol).balance == 5_000
    assert not Pledge.objects.exists()
    assert ledger_violations() == []


@pytest.mark.parametrize("restricted", ["fund", "its index"])
def test_a_fund_behind_a_view_restriction_takes_no_pledge(make_fund, restricted):
    """A restriction on the fund or on a page above it hides the fund from the public: the service
    answers as for a fund that is not there, whichever door the pledge came through."""
    fund = make_fund(title="Members only")
    page = fund if restricted == "fund" else fund.get_parent()
    PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
    carol = UserFactory(username="carol")
    top_up(carol, 5_000)
    with pytest.raises(NotFound):
        pledge_create(user=carol, fund_id=fund.pk, amount_cents=2_500, key="members")
    assert wallet_for(carol).balance == 5_000 and not Pledge.objects.exists()
    assert ledger_violations() == []
