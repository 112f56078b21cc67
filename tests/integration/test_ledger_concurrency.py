"""Transfers between the same accounts in opposite directions, at once, with no fund lock to order them.

Pledges and withdrawals lock their fund row first, so the fund already orders them; a
transfer between two wallets (or a future settlement moving escrow to a beneficiary
while a refund moves it back) has only `transfer_post`'s promise: balances are updated
in account-id order. These tests hold each thread's first row lock for a moment, so
that two transfers locking their accounts in opposite orders deadlock every time:
only the fixed order lets every one commit with no deadlock to retry.
"""

import time

import pytest
from django.db import connection

from bounties.models import Account, TransferKind
from bounties.services import money_operation
from bounties.services.ledger import ledger_violations, transfer_post, wallet_for
from tests.factories import UserFactory
from tests.integration import errors_of, run_concurrently
from tests.money import top_up

pytestmark = pytest.mark.django_db(transaction=True)


def hold_each_account_lock(execute, sql, params, many, context):
    """After each balance UPDATE (a row lock taken), wait, so the other thread takes its first lock too."""
    result = execute(sql, params, many, context)
    if sql.startswith('UPDATE "bounties_account"'):
        time.sleep(0.05)
    return result


def balance(account) -> int:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def test_opposite_direction_transfers_between_two_wallets_never_deadlock(retried):
    # Alice and Bob each hold 100.00 (signed webhook deposits).
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    for user in (alice, bob):
        top_up(user, 10_000)
    alice_wallet, bob_wallet = wallet_for(alice), wallet_for(bob)

    def move(i, source, target, cents):
        # Legs debit first, so without the sort each direction would lock its own source first.
        @money_operation
        def post():
            with connection.execute_wrapper(hold_each_account_lock):
                return transfer_post(
                    kind=TransferKind.AWARD, key=f"move-{i}", legs=[(source, -cents), (target, cents)]
                )

        return post

    # Eight transfers at once: four of 3.00 from Alice to Bob, four of 1.00 from Bob to Alice.
    calls = [
        move(i, alice_wallet, bob_wallet, 300) if i % 2 == 0 else move(i, bob_wallet, alice_wallet, 100)
        for i in range(8)
    ]
    results = run_concurrently(calls)

    assert errors_of(results) == []  # every transfer committed, none refused as TryAgainLater
    assert retried["40P01"] == 0, f"deadlocks (retried): {dict(retried)}"
    assert not retried, dict(retried)  # nothing else had to be retried either
    # Alice: 10 000 - 4 × 300 + 4 × 100 = 9 200; Bob: 10 000 + 4 × 300 - 4 × 100 = 10 800.
    assert (balance(alice_wallet), balance(bob_wallet)) == (9_200, 10_800)
    assert ledger_violations() == []
