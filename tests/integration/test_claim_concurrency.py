"""Claims, votes, settlement and payouts under real concurrency on PostgreSQL (RELIABILITY T31 and
the award and settlement rules of `bounties.services.claims` and `bounties.services.settlement`).

Each test releases its threads at once through a `threading.Barrier` (`run_concurrently`),
each on its own database connection, against the real services. Every action on a fund's
money or claims locks the fund row first, so whatever the interleaving:

- a claim is decided once, and the escrow leaves once, by the one AWARD transfer keyed
  `award:{fund}`, to the claimant's payout account, for what the escrow held at that moment;
- no pledge of an awarded fund is settled, and a settlement racing an acceptance ends with
  one outcome for the whole fund (every pledge awarded, or every pledge settled);
- no deadlock or lock timeout escapes as an error (the `retried` fixture counts any that the
  retry hid), and `ledger_violations()` (what `manage.py ledger_check` runs) is empty.

The last two tests hold each row lock a moment so that a wrong lock order deadlocks every time:
a settlement "back to my card" against a deposit to the same wallet, and two settlements
pledging on to each other's fund (both deadlocked, retried, before the settlement locked
accounts and funds in id order).
"""

import collections
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from bounties import selectors
from bounties.errors import (
    ClaimClosed,
    FundNotOpen,
    InsufficientPayout,
    TryAgainLater,
    WithdrawFrozen,
    WithdrawNotAllowed,
)
from bounties.models import (
    Account,
    Cashout,
    Claim,
    ClaimStatus,
    Fund,
    FundStatus,
    Payout,
    Pledge,
    PledgeStatus,
    SettlementChoice,
    Transfer,
    TransferKind,
)
from bounties.services.claims import claim_submit, claim_tally, claim_withdraw, claims_tally, vote_cast
from bounties.services.deposits import deposit_create
from bounties.services.ledger import escrow_for, external_account, ledger_violations, payout_for, wallet_for
from bounties.services.payouts import payout_request
from bounties.services.pledging import PledgeOutcome, pledge_create, pledge_withdraw
from bounties.services.settlement import funds_settle, pledge_settle, settlement_choose
from tests.factories import UserFactory
from tests.integration import errors_of, run_concurrently
from tests.money import back, checkout_event, deliver, top_up

pytestmark = pytest.mark.django_db(transaction=True)

WORK = "https://example.com/audit-report.pdf"
SETTLEMENT_KINDS = (TransferKind.REFUND, TransferKind.BENEFICIARY)


def balance(account) -> int:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def make_due(fund):
    """Every pledge of `fund` past its own escrow date, as if that date had come (the page's has not)."""
    Pledge.objects.filter(fund_id=fund.pk).update(escrow_until=timezone.now() - timedelta(minutes=1))


def claim_on(fund, claimant) -> Claim:
    return claim_submit(user=claimant, fund_id=fund.pk, statement="I did the work.", url=WORK)


def test_votes_crossing_the_threshold_with_pledges_withdrawals_tallies_and_settlements(make_fund, retried):
    # Eight backers of $10 each: $80 eligible, so the fifth approval ($50 > $40) accepts.
    fund = make_fund()
    claimant = UserFactory(username="claimant")
    backers = [UserFactory(username=f"backer{b}") for b in range(8)]
    held = [back(backer, fund, 1_000) for backer in backers]
    claim = claim_on(fund, claimant)
    assert (claim.status, claim.eligible_cents) == (ClaimStatus.VOTING, 8_000)
    make_due(fund)  # settlement would move these pledges if the fund had no claim
    # Late backers with money in their wallets, pledging while the vote runs (no weight on it).
    late = [UserFactory(username=f"late{b}") for b in range(6)]
    for person in late:
        top_up(person, 500)

    calls = []
    calls += [lambda b=b: vote_cast(user=b, claim_id=claim.pk, approve=True) for b in backers]
    calls += [
        lambda p=p: pledge_create(user=p, fund_id=fund.pk, amount_cents=500, key="during-vote") for p in late
    ]
    calls += [
        lambda b=b, p=p: pledge_withdraw(user=b, pledge_id=p.pk) for b, p in zip(backers, held, strict=True)
    ]
    calls += [lambda: claim_tally(claim_id=claim.pk) for _ in range(3)]
    calls += [lambda: claims_tally() for _ in range(2)]
    calls += [lambda p=p: pledge_settle(pledge_id=p.pk) for p in held]
    calls += [lambda: funds_settle() for _ in range(3)]
    results = run_concurrently(calls)

    print(f"{len(calls)} calls; retried database errors: {dict(retried)}")
    refusals = (ClaimClosed, FundNotOpen, WithdrawFrozen, WithdrawNotAllowed)
    assert errors_of(results, *refusals) == []  # nothing but the refusals that are due
    assert [r for r in results if isinstance(r, TryAgainLater)] == []  # no deadlock escaped
    assert retried["40P01"] == 0, dict(retried)  # fund row first, everywhere: none to retry
    # Withdrawals are frozen while the vote runs, and closed once the fund is awarded.
    withdrawals = results[8 + len(late) : 8 + len(late) + len(held)]
    assert all(isinstance(r, WithdrawFrozen | WithdrawNotAllowed) for r in withdrawals), withdrawals

    # Decided exactly once: accepted by the votes, the rest of the votes refused as closed.
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.ACCEPTED
    votes = results[:8]
    counted = [r for r in votes if not isinstance(r, BaseException)]
    assert len(counted) == 5 and all(isinstance(r, ClaimClosed) for r in votes if r not in counted)
    assert [o.claim.status for o in counted].count(ClaimStatus.ACCEPTED) == 1
    assert claim.approve_cents == 5_000
    assert Claim.objects.filter(fund_id=fund.pk).count() == 1

    # The escrow moved exactly once: one AWARD transfer, keyed by the fund, for everything it held.
    awards = Transfer.objects.filter(kind=TransferKind.AWARD)
    assert list(awards.values_list("idempotency_key", flat=True)) == [f"award:{fund.pk}"]
    assert claim.award_transfer_id == awards.get().pk
    state = Fund.objects.get(pk=fund.pk)
    assert state.status == FundStatus.AWARDED
    awarded = Pledge.objects.filter(fund_id=fund.pk, status=PledgeStatus.AWARDED)
    escrow_at_award = awarded.aggregate(t=Sum("amount_cents"))["t"]
    pledged_late = sum(isinstance(r, PledgeOutcome) for r in results)  # before the award: in the escrow
    assert escrow_at_award == 8_000 + 500 * pledged_late
    assert balance(payout_for(claimant)) == escrow_at_award
    assert balance(escrow_for(state)) == 0
    assert set(Pledge.objects.filter(fund_id=fund.pk).values_list("status", flat=True)) == {
        PledgeStatus.AWARDED
    }
    assert set(awarded.values_list("release_transfer", flat=True)) == {claim.award_transfer_id}
    # No settlement of an awarded fund, and nothing left for the scheduled pass.
    assert not Transfer.objects.filter(fund_id=fund.pk, kind__in=SETTLEMENT_KINDS).exists()
    assert not Transfer.objects.filter(kind=TransferKind.WITHDRAW).exists()
    assert funds_settle() == 0
    assert ledger_violations() == []


def race_calls(claim, claimant, voter, pledges):
    """The decisive vote, the claim's withdrawal, a tally, two settle passes and each pledge settled twice."""
    calls = [
        lambda: vote_cast(user=voter, claim_id=claim.pk, approve=True),
        lambda: claim_withdraw(user=claimant, claim_id=claim.pk),
        lambda: claim_tally(claim_id=claim.pk),
        funds_settle,
        funds_settle,
    ]
    return calls + [lambda p=p: pledge_settle(pledge_id=p.pk) for p in pledges for _ in range(2)]


def test_settlement_racing_an_acceptance_ends_with_one_outcome(make_fund, retried):
    """The decisive vote races the claimant withdrawing the claim (which reopens the fund, so its
    due pledges settle), with every settlement path running at once. Either the vote wins and
    every pledge is awarded, or the withdrawal wins and every pledge is settled; never both."""
    outcomes = collections.Counter()
    for round_ in range(6):
        fund = make_fund()
        claimant = UserFactory(username=f"claimant{round_}")
        # $60 and $40: $60 approving accepts at once.
        big, small = UserFactory(username=f"big{round_}"), UserFactory(username=f"small{round_}")
        pledges = [back(big, fund, 6_000), back(small, fund, 4_000)]
        claim = claim_on(fund, claimant)
        make_due(fund)

        results = run_concurrently(race_calls(claim, claimant, big, pledges))
        funds_settle()  # the next scheduled pass: settles whatever is due by now

        assert errors_of(results, ClaimClosed) == []
        vote, withdrawal = results[:2]
        # Exactly one of the two went through: the other found the claim closed.
        assert isinstance(vote, ClaimClosed) != isinstance(withdrawal, ClaimClosed), (vote, withdrawal)
        statuses = set(Pledge.objects.filter(fund_id=fund.pk).values_list("status", flat=True))
        awards = Transfer.objects.filter(fund_id=fund.pk, kind=TransferKind.AWARD).count()
        settlements = Transfer.objects.filter(fund_id=fund.pk, kind__in=SETTLEMENT_KINDS).count()
        claim.refresh_from_db()
        if isinstance(withdrawal, ClaimClosed):
            outcomes["awarded"] += 1
            assert claim.status == ClaimStatus.ACCEPTED
            assert statuses == {PledgeStatus.AWARDED} and (awards, settlements) == (1, 0)
            assert balance(payout_for(claimant)) == 10_000
        else:
            outcomes["settled"] += 1
            assert claim.status == ClaimStatus.WITHDRAWN
            assert statuses == {PledgeStatus.REFUNDED} and (awards, settlements) == (0, 2)
            assert Payout.objects.count() == 0 and balance(payout_for(claimant)) == 0
        assert balance(escrow_for(Fund.objects.get(pk=fund.pk))) == 0
    print(f"outcomes over the rounds: {dict(outcomes)}; retried database errors: {dict(retried)}")
    assert retried["40P01"] == 0, dict(retried)
    assert ledger_violations() == []


def test_concurrent_requests_for_the_whole_award_pay_it_out_once(make_fund, retried):
    """The winner of a real claim asks for the whole payout balance ten times at once, each with
    its own key: one request is paid, nine are refused, and the balance never goes below 0."""
    fund = make_fund()
    winner = UserFactory(username="wendy")
    backer = UserFactory(username="backer")
    back(backer, fund, 7_500)
    claim = claim_on(fund, winner)
    assert vote_cast(user=backer, claim_id=claim.pk, approve=True).claim.status == ClaimStatus.ACCEPTED
    whole = selectors.payout_balance(user=winner)
    assert whole == 7_500
    later = timezone.now() + timedelta(days=30)  # past the hold against card disputes

    results = run_concurrently(
        [
            lambda i=i: payout_request(user=winner, amount_cents=whole, key=f"all-{i}", now=later)
            for i in range(10)
        ]
    )

    assert errors_of(results, InsufficientPayout) == []
    paid = [r for r in results if not isinstance(r, BaseException)]
    assert len(paid) == 1 and not paid[0].replayed
    assert Payout.objects.count() == Transfer.objects.filter(kind=TransferKind.PAYOUT).count() == 1
    assert selectors.payout_balance(user=winner) == 0
    assert retried["40P01"] == 0, dict(retried)
    assert ledger_violations() == []


def hold_each_account_lock(execute, sql, params, many, context):
    """After each account row lock (a balance UPDATE or a SELECT … FOR UPDATE), wait a moment, so
    that the other thread takes its first lock too (as in test_ledger_concurrency)."""
    result = execute(sql, params, many, context)
    if sql.startswith('UPDATE "bounties_account"') or (
        sql.startswith('SELECT "bounties_account"') and "FOR UPDATE" in sql
    ):
        time.sleep(0.05)
    return result


def test_back_to_the_card_settlement_and_a_deposit_to_that_wallet_never_deadlock(make_fund, retried):
    """A pledge settled "back to my card" moves escrow → wallet, then wallet → external (the
    cash-out), in one transaction; a card deposit to the same wallet moves external → wallet.
    Both must take the accounts in id order, or each holds the row the other waits for."""
    external_account()  # the oldest account, as in production: its id is below every wallet's
    fund = make_fund()
    backer = UserFactory(username="backer")
    pledge = back(backer, fund, 2_000)  # card money, so it can go back to the card
    settlement_choose(user=backer, pledge_id=pledge.pk, choice=SettlementChoice.CARD)
    make_due(fund)
    deposit = deposit_create(user=backer, amount_cents=500, gateway="local")

    def held(call):
        def run():
            with connection.execute_wrapper(hold_each_account_lock):
                return call()

        return run

    results = run_concurrently(
        [held(lambda: pledge_settle(pledge_id=pledge.pk)), held(lambda: deliver(checkout_event(deposit)))]
    )

    assert errors_of(results) == []
    assert retried["40P01"] == 0, f"deadlocks (retried): {dict(retried)}"
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.REFUNDED
    assert Cashout.objects.get(pledge=pledge).amount_cents == 2_000
    assert balance(wallet_for(backer)) == 500  # the pledge went back to the card, the deposit stayed
    assert ledger_violations() == []


def hold_each_fund_lock(execute, sql, params, many, context):
    """After each fund row lock (`lock_fund`), wait a moment, so that the other thread takes its first too."""
    result = execute(sql, params, many, context)
    if sql.startswith('SELECT "bounties_fund"') and "FOR UPDATE" in sql:
        time.sleep(0.05)
    return result


def test_settlements_pledging_on_to_each_others_fund_never_deadlock(make_fund, retried):
    """A pledge on fund A settles by being pledged on to B while one on B is pledged on to A: each
    settlement locks both funds, so both must lock them in the same (id) order."""
    fund_a, fund_b = make_fund(), make_fund()
    xavier, yvonne = UserFactory(username="xavier"), UserFactory(username="yvonne")
    on_a, on_b = back(xavier, fund_a, 1_000), back(yvonne, fund_b, 3_000)
    escrow_for(fund_a.state), escrow_for(fund_b.state)
    settlement_choose(user=xavier, pledge_id=on_a.pk, choice=SettlementChoice.FUND, fund_id=fund_b.pk)
    settlement_choose(user=yvonne, pledge_id=on_b.pk, choice=SettlementChoice.FUND, fund_id=fund_a.pk)
    make_due(fund_a), make_due(fund_b)

    def held(pledge):
        def run():
            with connection.execute_wrapper(hold_each_fund_lock):
                return pledge_settle(pledge_id=pledge.pk)

        return run

    results = run_concurrently([held(on_a), held(on_b)])

    assert errors_of(results) == []
    assert retried["40P01"] == 0, f"deadlocks (retried): {dict(retried)}"
    assert {r.status for r in results} == {PledgeStatus.REPLEDGED}
    # Each fund now holds the other's money, in a pledge of its own (not yet due).
    assert balance(escrow_for(Fund.objects.get(pk=fund_a.pk))) == 3_000
    assert balance(escrow_for(Fund.objects.get(pk=fund_b.pk))) == 1_000
    assert ledger_violations() == []
