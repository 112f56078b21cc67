"""Pledges under real concurrency on PostgreSQL (RELIABILITY T1, T2, T3, T7, T8, T17).

Each test releases its threads (10 to 50; ≥ 32 for the load races) at once through
a `threading.Barrier`, each on its own database connection, against the real
services: pledges, withdrawals, signed webhook deposits, card-pledge completion and
the pending-pledge sweep. Money enters wallets only through signed webhook events
(`top_up`). After each race the books are proved with `ledger_violations()` (what
`manage.py ledger_check` runs), and the `retried` fixture proves no deadlock
(SQLSTATE 40P01) happened even when the retry would have hidden it.

Every race runs twice: on the two-statement SQL pledge PostgreSQL uses
(`bounties/services/ledger.py`) and on the ORM pledge SQLite uses (`FUNDFILL_PLEDGE_SQL=false`).
"""

import collections
import itertools

import pytest
from django.db.models import Sum

import bounties.services
import bounties.services.deposits
from bounties.errors import IdempotencyMismatch, InsufficientFunds, TryAgainLater
from bounties.models import Account, Fund, Pledge, PledgeStatus, Transfer, TransferKind
from bounties.services.deposits import deposit_create
from bounties.services.ledger import escrow_for, ledger_violations, wallet_for
from bounties.services.pledging import (
    PledgeOutcome,
    pledge_complete_pending,
    pledge_create,
    pledge_create_with_card,
    pledge_withdraw,
)
from tests.factories import UserFactory
from tests.integration import errors_of, run_concurrently
from tests.money import checkout_event, deliver, top_up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, params=[True, False], ids=["sql", "orm"])
def pledge_path(request, settings):
    settings.FUNDFILL_PLEDGE_SQL = request.param
    return request.param


def balance(account) -> int:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def live_cents(fund_id) -> int:
    active = Pledge.objects.filter(fund_id=fund_id, status=PledgeStatus.ACTIVE)
    return active.aggregate(total=Sum("amount_cents"))["total"] or 0


def open_funds(make_fund, n):
    """`n` open funds, each with its escrow account already made (as after its first pledge)."""
    funds = [make_fund() for _ in range(n)]
    for fund in funds:
        escrow_for(fund.state)
    return funds


def overdraft_race(user, funds, threads=50, amount=1_000):
    """`threads` pledges of `amount` at once from one wallet, spread over `funds`; returns the results."""
    return run_concurrently(
        [
            lambda i=i: pledge_create(
                user=user, fund_id=funds[i % len(funds)].pk, amount_cents=amount, key=f"race-{i}"
            )
            for i in range(threads)
        ]
    )


def test_t1_overdraft_race_exactly_ten_of_fifty_pledges_succeed(make_fund, retried):
    alice = UserFactory(username="alice")
    top_up(alice, 10_000)  # $100 arrives through a signed checkout.session.completed event
    funds = open_funds(make_fund, 5)
    wallet = wallet_for(alice)

    results = overdraft_race(alice, funds, threads=50, amount=1_000)

    won = [r for r in results if isinstance(r, PledgeOutcome)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert errors_of(results, InsufficientFunds) == []  # no exception but the refusal that is due
    assert not retried, dict(retried)  # not even a retried deadlock or serialisation failure
    assert (len(won), len(refused)) == (10, 40)
    assert not any(outcome.replayed for outcome in won)
    assert balance(wallet) == 0  # never negative: the CHECK constraint would have refused it anyway
    assert Pledge.objects.count() == Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 10
    for fund in funds:
        state = Fund.objects.get(pk=fund.pk)
        assert state.pledged_cents == balance(escrow_for(state)) == live_cents(fund.pk)
    assert ledger_violations() == []


def test_t3_control_without_the_guard_the_overdraft_race_reproduces(make_fund, settings):
    """The harness can see the bug: with the conditional UPDATE and fund lock switched off
    (read balance, 20 ms pause, write it back), the same race loses updates."""
    settings.FUNDFILL_FAULTS = ("unguarded",)
    alice = UserFactory(username="alice")
    top_up(alice, 10_000)
    funds = open_funds(make_fund, 5)
    wallet = wallet_for(alice)

    results = overdraft_race(alice, funds, threads=50, amount=1_000)

    won = sum(isinstance(r, PledgeOutcome) for r in results)
    violations = ledger_violations()
    print(f"unguarded: {won} pledges succeeded on 10 000¢, wallet {balance(wallet)}¢, {violations[:3]}")
    assert errors_of(results, InsufficientFunds) == []
    # Money for 10 pledges, yet more went through: the cached wallet balance lost updates.
    assert won > 10
    assert any("caches balance" in v for v in violations), violations


def test_t2_hot_fund_with_replays_mixed_in(make_fund, retried):
    """48 threads hit one fund: 32 send four new keys each, 16 re-send another thread's keys."""
    backers = [UserFactory(username=f"backer{b}") for b in range(16)]
    for backer in backers:
        top_up(backer, 10_000)
    (fund,) = open_funds(make_fund, 1)
    amounts = [100, 200, 300, 400]

    def pledges(thread, order):
        backer = backers[thread % 16]  # threads t and t + 16 share a backer (and t + 32 replays t)
        return [
            pledge_create(user=backer, fund_id=fund.pk, amount_cents=amounts[j], key=f"t{thread}-k{j}")
            for j in order
        ]

    originals = [lambda t=t: pledges(t, range(4)) for t in range(32)]
    replays = [lambda t=t: pledges(t, reversed(range(4))) for t in range(16)]  # same keys, same bodies
    results = run_concurrently(originals + replays)

    assert errors_of(results) == []  # nothing was refused: every backer could afford every pledge
    assert not retried, dict(retried)
    outcomes = list(itertools.chain.from_iterable(results))
    assert len(outcomes) == 48 * 4
    by_key = collections.defaultdict(set)
    for outcome in outcomes:
        by_key[(outcome.pledge.user_id, outcome.pledge.key)].add(outcome.pledge.pk)
    assert len(by_key) == 32 * 4 and all(len(pks) == 1 for pks in by_key.values())
    fresh = [o for o in outcomes if not o.replayed]
    assert len(fresh) == 32 * 4  # each key was pledged once; the other 64 answers were replays
    assert len(fresh) == Pledge.objects.count() == Transfer.objects.filter(kind=TransferKind.PLEDGE).count()

    state = Fund.objects.get(pk=fund.pk)
    assert state.pledged_cents == balance(escrow_for(state)) == live_cents(fund.pk) == 16 * 2 * 1_000
    assert state.backer_count == 16
    for backer in backers:  # two threads of new keys each, debited once per key
        assert balance(wallet_for(backer)) == 10_000 - 2 * sum(amounts)
    assert ledger_violations() == []


def test_t7_same_key_ten_times_in_parallel_moves_money_once(make_fund):
    bob = UserFactory(username="bob")
    top_up(bob, 5_000)
    (fund,) = open_funds(make_fund, 1)

    results = run_concurrently(
        [lambda: pledge_create(user=bob, fund_id=fund.pk, amount_cents=1_000, key="dbl") for _ in range(10)]
    )

    assert errors_of(results) == []  # none raised
    assert len({r.pledge.pk for r in results}) == 1  # every answer is the same pledge
    assert sorted(r.replayed for r in results) == [False] + [True] * 9
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 1
    assert balance(wallet_for(bob)) == 4_000
    assert ledger_violations() == []


def test_same_key_in_parallel_from_a_wallet_that_holds_one_pledge_is_that_pledge_for_all(make_fund):
    """The double-clicked pledge form, when the wallet holds exactly its amount: the one that waited
    for the fund lock finds the wallet empty, and must answer with the pledge its twin made, not
    refuse it as short of money (a web journey saw 402 for the second click)."""
    bob = UserFactory(username="bob")
    top_up(bob, 1_000)
    (fund,) = open_funds(make_fund, 1)

    results = run_concurrently(
        [lambda: pledge_create(user=bob, fund_id=fund.pk, amount_cents=1_000, key="exact") for _ in range(6)]
    )

    assert errors_of(results) == []
    assert len({r.pledge.pk for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * 5
    assert balance(wallet_for(bob)) == 0 and Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 1
    assert ledger_violations() == []


def test_a_new_backers_first_pledges_in_parallel_count_them_once(make_fund):
    """Ten first pledges of one backer to one fund at once: the fund counts one backer. Whether the
    backer is new is read after the fund lock is won, so each waiter sees the pledges committed
    by the ones before it."""
    bob = UserFactory(username="bob")
    top_up(bob, 10_000)
    (fund,) = open_funds(make_fund, 1)

    results = run_concurrently(
        [
            lambda i=i: pledge_create(user=bob, fund_id=fund.pk, amount_cents=1_000, key=f"first-{i}")
            for i in range(10)
        ]
    )

    assert errors_of(results) == []
    row = Fund.objects.get(pk=fund.pk)
    assert (row.backer_count, row.pledged_cents) == (1, 10_000)
    assert ledger_violations() == []


def test_t8_same_key_different_bodies_in_parallel_one_wins_rest_refused(make_fund):
    """The same key sent at once to 4 funds with different amounts: one pledge, the rest get 422."""
    carol = UserFactory(username="carol")
    top_up(carol, 50_000)
    funds = open_funds(make_fund, 4)

    results = run_concurrently(
        [
            lambda i=i: pledge_create(
                user=carol, fund_id=funds[i % 4].pk, amount_cents=1_000 + 100 * i, key="same"
            )
            for i in range(32)
        ]
    )

    won = [r for r in results if isinstance(r, PledgeOutcome)]
    assert errors_of(results, IdempotencyMismatch) == []
    assert len(won) == 1 and not won[0].replayed
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == Pledge.objects.count() == 1
    assert balance(wallet_for(carol)) == 50_000 - won[0].pledge.amount_cents
    assert ledger_violations() == []


def test_t17_opposite_order_withdraw_and_pledge_never_deadlock(make_fund, retried):
    """Each backer withdraws from A while pledging to B and, in another thread, the reverse.

    Lock order is fund first, then accounts by id, so no deadlock should happen at all;
    any retried 40001/40P01/55P03 is counted, and none may escape as an error.
    """
    backers = [UserFactory(username=f"backer{b}") for b in range(16)]
    fund_a, fund_b = open_funds(make_fund, 2)
    held = {}  # (backer, fund) -> the pledge each thread starts by withdrawing
    for backer in backers:
        top_up(backer, 10_000)
        for fund in (fund_a, fund_b):
            outcome = pledge_create(user=backer, fund_id=fund.pk, amount_cents=500, key=f"pre-{fund.pk}")
            held[backer.pk, fund.pk] = outcome.pledge
    rounds = 3

    def swap(backer, source, target):
        """Withdraw from `source` and pledge the money to `target`; then the other way round."""
        pledge, start = held[backer.pk, source.pk], source.pk
        for r in range(rounds):
            pledge_withdraw(user=backer, pledge_id=pledge.pk)
            key = f"swap-from-{start}-{r}"
            pledge = pledge_create(user=backer, fund_id=target.pk, amount_cents=500, key=key).pledge
            source, target = target, source

    calls = []
    for backer in backers:  # two threads per backer, moving money in opposite directions at once
        calls.append(lambda b=backer: swap(b, fund_a, fund_b))
        calls.append(lambda b=backer: swap(b, fund_b, fund_a))
    results = run_concurrently(calls)

    print(f"T17: {len(calls) * rounds * 2} operations, retried database errors: {dict(retried)}")
    assert [r for r in results if isinstance(r, TryAgainLater)] == []
    assert errors_of(results) == []
    assert retried["40P01"] == 0  # no deadlock at all, thanks to the fixed lock order
    for fund in (fund_a, fund_b):
        state = Fund.objects.get(pk=fund.pk)
        # An odd number of swaps: each thread's last pledge sits on the fund it did not start from.
        assert state.pledged_cents == balance(escrow_for(state)) == live_cents(fund.pk) == 16 * 500
        assert state.backer_count == 16
    for backer in backers:
        assert balance(wallet_for(backer)) == 10_000 - 2 * 500
    assert Pledge.objects.filter(status=PledgeStatus.WITHDRAWN).count() == len(calls) * rounds
    assert ledger_violations() == []


def test_deposits_racing_pledges_from_the_same_wallet(make_fund, retried):
    """12 deposits land (each event delivered twice at once) while 24 pledges spend the same wallet."""
    dave = UserFactory(username="dave")
    top_up(dave, 3_000)
    funds = open_funds(make_fund, 3)
    deposits = [deposit_create(user=dave, amount_cents=1_000, gateway="local") for _ in range(12)]
    events = [checkout_event(deposit) for deposit in deposits]

    webhook_calls = [lambda e=e: deliver(e) for e in events for _ in range(2)]
    pledge_calls = [
        lambda i=i: pledge_create(user=dave, fund_id=funds[i % 3].pk, amount_cents=500, key=f"p{i}")
        for i in range(24)
    ]
    results = run_concurrently(webhook_calls + pledge_calls)

    answers, pledge_results = results[:24], results[24:]
    assert errors_of(results, InsufficientFunds) == []
    assert retried["40P01"] == 0, f"deadlocks (retried): {dict(retried)}"
    assert all(status == 200 for status, _ in answers)
    assert sum(not body["replay"] for _, body in answers) == 12  # each event applied once
    won = sum(isinstance(r, PledgeOutcome) for r in pledge_results)
    assert balance(wallet_for(dave)) == 3_000 + 12 * 1_000 - won * 500
    assert Transfer.objects.filter(kind=TransferKind.DEPOSIT).count() == 13
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == won
    assert ledger_violations() == []


def test_card_payments_completing_pledges_while_the_same_user_pledges(make_fund, retried):
    """6 card pledges' payments land (each completing its pledge in the webhook's transaction)
    while 24 wallet pledges from the same user run: each card pledge completes or is cancelled
    with the money kept, and nothing is refused but for insufficient funds."""
    erin = UserFactory(username="erin")
    top_up(erin, 2_000)
    card_fund, *funds = open_funds(make_fund, 3)
    cards = [
        pledge_create_with_card(
            user=erin, fund_id=card_fund.pk, amount_cents=3_000, key=f"card-{i}", gateway="local"
        )
        for i in range(6)
    ]
    assert all(c.deposit.amount_cents == 1_000 for c in cards)  # 3 000 asked, 2 000 in the wallet

    webhook_calls = [lambda c=c: deliver(checkout_event(c.deposit)) for c in cards]
    pledge_calls = [
        lambda i=i: pledge_create(user=erin, fund_id=funds[i % 2].pk, amount_cents=500, key=f"p{i}")
        for i in range(24)
    ]
    results = run_concurrently(webhook_calls + pledge_calls)

    assert errors_of(results, InsufficientFunds) == []
    assert all(status == 200 for status, _ in results[:6])
    assert retried["40P01"] == 0, f"deadlocks (retried): {dict(retried)}"
    statuses = [Pledge.objects.get(pk=c.pledge.pk).status for c in cards]
    assert set(statuses) <= {PledgeStatus.ACTIVE, PledgeStatus.CANCELLED}
    completed = statuses.count(PledgeStatus.ACTIVE)
    won = sum(isinstance(r, PledgeOutcome) for r in results[6:])
    assert balance(wallet_for(erin)) == 2_000 + 6 * 1_000 - completed * 3_000 - won * 500
    assert Fund.objects.get(pk=card_fund.pk).pledged_cents == completed * 3_000
    assert ledger_violations() == []


def test_pending_pledge_sweep_racing_the_same_users_pledges(make_fund, monkeypatch, retried):
    """The scheduled sweep completes paid card pledges while their owner pledges from the wallet."""
    erin = UserFactory(username="erin")
    top_up(erin, 2_000)
    card_fund, *funds = open_funds(make_fund, 3)
    cards = [
        pledge_create_with_card(
            user=erin, fund_id=card_fund.pk, amount_cents=3_000, key=f"card-{i}", gateway="local"
        )
        for i in range(6)
    ]
    # The payments land but their pledges stay pending (as if the completion step were lost).
    with monkeypatch.context() as patch:
        patch.setattr(bounties.services.deposits, "_pledge_complete", lambda pledge_id: None)
        for card in cards:
            deliver(checkout_event(card.deposit))
    assert balance(wallet_for(erin)) == 8_000

    sweeps = [pledge_complete_pending for _ in range(4)]
    pledge_calls = [
        lambda i=i: pledge_create(user=erin, fund_id=funds[i % 2].pk, amount_cents=500, key=f"p{i}")
        for i in range(24)
    ]
    results = run_concurrently(sweeps + pledge_calls)

    assert errors_of(results, InsufficientFunds) == []
    assert retried["40P01"] == 0, f"deadlocks (retried): {dict(retried)}"
    statuses = [Pledge.objects.get(pk=c.pledge.pk).status for c in cards]
    assert set(statuses) <= {PledgeStatus.ACTIVE, PledgeStatus.CANCELLED}
    completed = statuses.count(PledgeStatus.ACTIVE)
    assert all(0 <= done <= 6 for done in results[:4])
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE, fund=card_fund.pk).count() == completed
    won = sum(isinstance(r, PledgeOutcome) for r in results[4:])
    assert balance(wallet_for(erin)) == 8_000 - completed * 3_000 - won * 500
    assert Fund.objects.get(pk=card_fund.pk).pledged_cents == completed * 3_000
    assert ledger_violations() == []
