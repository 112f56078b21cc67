"""Settlement when nobody wins: each pledge by its backer's choice, under the terms it was made with."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from bounties.errors import SettlementInvalid
from bounties.models import (
    Account,
    AccountKind,
    Cashout,
    EventKind,
    FailurePolicy,
    Fund,
    FundPage,
    FundStatus,
    FundTerms,
    Outbox,
    Pledge,
    PledgeStatus,
    Refund,
    RefundStatus,
    TimelineEvent,
    Transfer,
)
from bounties.payments.local_gateway import REFUND_FAILS_CARD, SUCCESS_CARD, LocalGateway
from bounties.selectors import balances, terms_history
from bounties.services.cashouts import cashout_message
from bounties.services.claims import claim_submit
from bounties.services.deposits import deposit_create
from bounties.services.ledger import escrow_for, ledger_violations
from bounties.services.pledging import pledge_create
from bounties.services.settlement import funds_settle, pledge_settle, settlement_choose
from tests.factories import UserFactory
from tests.money import back

PAST = timedelta(minutes=1)


def escrow_passes(fund):
    """The fund's (and its pledges') escrow date is now in the past."""
    past = timezone.now() - PAST
    FundPage.objects.filter(pk=fund.pk).update(pledge_deadline=past, escrow_until=past)
    Pledge.objects.filter(fund_id=fund.pk).update(escrow_until=past)


def test_refund_policy_returns_each_pledge_to_its_wallet_and_the_fund_fails(fund):
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    back(ada, fund, 2_500)
    back(bob, fund, 4_000)
    escrow_passes(fund)

    assert funds_settle() == 2

    assert (balances(user=ada).wallet_cents, balances(user=bob).wallet_cents) == (2_500, 4_000)
    state = Fund.objects.get(pk=fund.pk)
    assert (state.status, state.pledged_cents, state.backer_count) == (FundStatus.FAILED, 0, 0)
    assert escrow_for(state).balance == 0
    assert set(Pledge.objects.values_list("status", flat=True)) == {PledgeStatus.REFUNDED}
    assert TimelineEvent.objects.filter(fund_id=fund.pk, kind=EventKind.FAILED).count() == 1
    assert ledger_violations() == []


def test_settling_twice_moves_nothing_the_second_time(fund):
    ada = UserFactory(username="ada")
    pledge = back(ada, fund, 2_500)
    escrow_passes(fund)
    funds_settle()
    transfers = Transfer.objects.count()

    assert funds_settle() == 0
    pledge_settle(pledge_id=pledge.pk)
    call_command("settle_funds")

    assert Transfer.objects.count() == transfers
    assert balances(user=ada).wallet_cents == 2_500
    assert Transfer.objects.filter(idempotency_key=f"settle:{pledge.pk}").count() == 1


def test_a_failed_fund_stages_fund_failed_once(fund, settings):
    settings.ANNOUNCERS = "console"
    back(UserFactory(username="ada"), fund, 2_500)
    back(UserFactory(username="bob"), fund, 4_000)
    escrow_passes(fund)
    rows = Outbox.objects.filter(event="fund_failed", channel="console")
    assert not rows.exists()

    assert funds_settle() == 2  # both pledges settled: the fund fails
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.FAILED
    funds_settle()  # a second pass, and the command: the fund is failed already
    call_command("settle_funds")

    assert list(rows.values_list("dedupe_key", "payload")) == [
        (f"fund:{fund.pk}:failed:console", {"fund": fund.pk})
    ]


def test_nothing_settles_before_the_pledges_own_escrow_date(fund):
    ada = UserFactory(username="ada")
    back(ada, fund, 2_500)
    assert funds_settle() == 0
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN


def test_nothing_settles_while_a_claim_is_under_vote(fund):
    ada, claimant = UserFactory(username="ada"), UserFactory(username="claimant")
    back(ada, fund, 2_500)
    claim_submit(user=claimant, fund_id=fund.pk, statement="Done.", url="https://example.com/work")
    Pledge.objects.filter(fund_id=fund.pk).update(escrow_until=timezone.now() - PAST)

    assert funds_settle() == 0
    assert Pledge.objects.get(user=ada).status == PledgeStatus.ACTIVE


def test_beneficiary_policy_pays_the_beneficiary_by_default(make_fund):
    fund = make_fund(failure_policy=FailurePolicy.BENEFICIARY, beneficiary_name="EFF")
    ada = UserFactory(username="ada")
    back(ada, fund, 3_000)
    escrow_passes(fund)

    funds_settle()

    beneficiary = Account.objects.get(kind=AccountKind.BENEFICIARY, fund_id=fund.pk)
    assert beneficiary.balance == 3_000
    assert balances(user=ada).wallet_cents == 0
    assert Pledge.objects.get(user=ada).status == PledgeStatus.TO_BENEFICIARY
    assert ledger_violations() == []


def test_a_backer_may_choose_their_wallet_over_the_beneficiary(make_fund):
    fund = make_fund(failure_policy=FailurePolicy.BENEFICIARY, beneficiary_name="EFF")
    ada = UserFactory(username="ada")
    pledge = back(ada, fund, 3_000)
    settlement_choose(user=ada, pledge_id=pledge.pk, choice="wallet")
    escrow_passes(fund)

    funds_settle()

    assert balances(user=ada).wallet_cents == 3_000
    assert ledger_violations() == []


def test_pledged_to_another_open_fund(fund, make_fund):
    other = make_fund(title="Bypass TouchID")
    ada = UserFactory(username="ada")
    pledge = back(ada, fund, 3_000)
    settlement_choose(user=ada, pledge_id=pledge.pk, choice="fund", fund_id=other.pk)
    escrow_passes(fund)

    funds_settle()

    onward = Pledge.objects.get(fund_id=other.pk, user=ada)
    assert (onward.status, onward.amount_cents) == (PledgeStatus.ACTIVE, 3_000)
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.REPLEDGED
    assert escrow_for(Fund.objects.get(pk=other.pk)).balance == 3_000
    assert balances(user=ada).wallet_cents == 0
    assert ledger_violations() == []


def test_a_chosen_fund_that_closed_meanwhile_leaves_the_money_in_the_wallet(fund, make_fund):
    other = make_fund(title="Bypass TouchID")
    ada = UserFactory(username="ada")
    pledge = back(ada, fund, 3_000)
    settlement_choose(user=ada, pledge_id=pledge.pk, choice="fund", fund_id=other.pk)
    Fund.objects.filter(pk=other.pk).update(status=FundStatus.AWARDED)
    escrow_passes(fund)

    funds_settle()

    settled = Pledge.objects.get(pk=pledge.pk)
    assert balances(user=ada).wallet_cents == 3_000
    assert "is in your wallet instead" in settled.note
    assert not Pledge.objects.filter(fund_id=other.pk).exists()
    assert ledger_violations() == []


@pytest.mark.parametrize(
    ("choice", "kwargs"),
    [("beneficiary", {}), ("fund", {}), ("fund", {"fund_id": "self"}), ("lottery", {})],
)
def test_unusable_choices_are_refused(fund, choice, kwargs):
    ada = UserFactory(username="ada")
    pledge = back(ada, fund, 1_000)  # the fund's policy is refund: no beneficiary
    if kwargs.get("fund_id") == "self":
        kwargs = {"fund_id": fund.pk}
    with pytest.raises(SettlementInvalid):
        settlement_choose(user=ada, pledge_id=pledge.pk, choice=choice, **kwargs)
    assert Pledge.objects.get(pk=pledge.pk).settlement_choice == ""


def test_terms_changed_after_a_pledge_do_not_change_it(fund):
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    first = back(ada, fund, 1_000)
    old_escrow = first.escrow_until
    fund.failure_policy, fund.beneficiary_name = FailurePolicy.BENEFICIARY, "EFF"
    fund.escrow_until = old_escrow + timedelta(days=30)
    fund.save_revision().publish()
    second = back(bob, fund, 1_000)

    first.refresh_from_db()
    assert (first.escrow_until, first.failure_policy, first.beneficiary_name) == (old_escrow, "refund", "")
    assert (second.escrow_until, second.failure_policy, second.beneficiary_name) == (
        old_escrow + timedelta(days=30),
        "beneficiary",
        "EFF",
    )
    history = list(terms_history(fund_id=fund.pk))
    assert [t.failure_policy for t in history][-1] == "beneficiary"
    assert FundTerms.objects.filter(fund_id=fund.pk).count() == len(history)

    # When the old date passes, only the first pledge is due, and it goes back to the wallet.
    Pledge.objects.filter(pk=first.pk).update(escrow_until=timezone.now() - PAST)
    funds_settle()
    assert balances(user=ada).wallet_cents == 1_000
    assert Pledge.objects.get(pk=second.pk).status == PledgeStatus.ACTIVE
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN
    assert ledger_violations() == []


def test_publishing_unchanged_terms_adds_no_history(fund):
    fund.save_revision().publish()
    count = FundTerms.objects.filter(fund_id=fund.pk).count()
    fund.title = "A new title"
    fund.save_revision().publish()
    assert FundTerms.objects.filter(fund_id=fund.pk).count() == count


def paid_by_card(user, cents, card):
    deposit = deposit_create(user=user, amount_cents=cents, gateway="local")
    LocalGateway().pay(deposit, card)
    return deposit


@pytest.mark.django_db(transaction=True)
def test_back_to_my_card_refunds_the_card_payment(make_fund):
    fund, ada = make_fund(), UserFactory(username="ada")
    paid_by_card(ada, 2_500, SUCCESS_CARD)
    pledge = pledge_create(user=ada, fund_id=fund.pk, amount_cents=2_500, key="k").pledge
    settlement_choose(user=ada, pledge_id=pledge.pk, choice="card")
    escrow_passes(fund)

    funds_settle()

    refund = Refund.objects.get(cashout__pledge=pledge)
    assert (refund.status, refund.amount_cents) == (RefundStatus.SUCCEEDED, 2_500)
    assert balances(user=ada).wallet_cents == 0
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.REFUNDED
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_back_to_my_card_that_fails_leaves_the_money_in_the_wallet_and_says_so(make_fund):
    fund, ada = make_fund(), UserFactory(username="ada")
    paid_by_card(ada, 2_500, REFUND_FAILS_CARD)
    pledge = pledge_create(user=ada, fund_id=fund.pk, amount_cents=2_500, key="k").pledge
    settlement_choose(user=ada, pledge_id=pledge.pk, choice="card")
    escrow_passes(fund)

    funds_settle()

    cashout = Cashout.objects.get(pledge=pledge)
    assert cashout.refunds.get().status == RefundStatus.FAILED
    assert balances(user=ada).wallet_cents == 2_500
    assert "back in your wallet" in cashout_message(cashout)
    # And she is told by email too: the refund_failed receipt, once.
    (told,) = Outbox.objects.filter(event="refund_failed")
    assert (told.recipient, told.payload["amount_cents"]) == (ada.email, 2_500)
    assert ledger_violations() == []
