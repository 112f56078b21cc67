"""The double-entry ledger, worked through by hand, and its guards (RELIABILITY T21, T23).

Money only moves as a Transfer whose Entries sum to zero; each Account caches the
sum of its entries. The examples below write out every leg and balance.
"""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bounties.errors import InsufficientFunds
from bounties.models import (
    Account,
    AccountKind,
    Claim,
    ClaimStatus,
    Entry,
    Fund,
    FundStatus,
    Pledge,
    PledgeStatus,
    Transfer,
    TransferKind,
)
from bounties.services.claims import claim_submit, claim_withdraw, vote_cast
from bounties.services.ledger import (
    escrow_for,
    external_account,
    ledger_violations,
    transfer_post,
    wallet_for,
)
from bounties.services.pledging import pledge_create, pledge_withdraw
from bounties.services.settlement import pledge_settle
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db


def legs(transfer):
    """A transfer's entries as {account: amount}."""
    return dict(Entry.objects.filter(transfer=transfer).values_list("account", "amount"))


def balance(account):
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def test_worked_example_deposit_pledge_withdraw(alice, fund):
    # Step 1: Alice adds 50.00 by card. The signed checkout event posts one transfer:
    #   external (the outside world) -5 000, Alice's wallet +5 000.
    deposit = top_up(alice, 5_000)
    wallet, world = wallet_for(alice), external_account()
    deposit.refresh_from_db()
    assert deposit.transfer.kind == TransferKind.DEPOSIT
    assert legs(deposit.transfer) == {world.pk: -5_000, wallet.pk: 5_000}
    assert (balance(world), balance(wallet)) == (-5_000, 5_000)  # only `external` may go negative
    assert ledger_violations() == []

    # Step 2: she pledges 20.00 to the fund: wallet -2 000, the fund's escrow +2 000.
    pledge = pledge_create(user=alice, fund_id=fund.pk, amount_cents=2_000, key="first").pledge
    escrow = escrow_for(Fund.objects.get(pk=fund.pk))
    assert legs(pledge.transfer) == {wallet.pk: -2_000, escrow.pk: 2_000}
    assert (balance(wallet), balance(escrow)) == (3_000, 2_000)
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 2_000  # the fund's total follows its escrow
    assert ledger_violations() == []

    # Step 3: she withdraws it while the fund is open: a new transfer reverses the legs.
    #   Nothing is edited: the pledge transfer stays, and the withdraw transfer is added.
    pledge = pledge_withdraw(user=alice, pledge_id=pledge.pk)
    assert legs(pledge.release_transfer) == {escrow.pk: -2_000, wallet.pk: 2_000}
    assert (balance(wallet), balance(escrow), balance(world)) == (5_000, 0, -5_000)
    assert Transfer.objects.count() == 3 and Entry.objects.count() == 6

    # The books: every transfer sums to zero, so all entries together sum to zero,
    # and each cached balance is the sum of its account's entries.
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0
    for account in (wallet, escrow, world):
        assert balance(account) == Entry.objects.filter(account=account).aggregate(t=Sum("amount"))["t"]
    assert ledger_violations() == []


def test_transfer_post_refuses_unbalanced_zero_and_fractional_legs(alice):
    top_up(alice, 1_000)
    wallet, world = wallet_for(alice), external_account()
    for bad in ([(world, -100), (wallet, 90)], [(world, 0), (wallet, 0)], [(world, -1.5), (wallet, 1.5)]):
        with pytest.raises(ValueError), transaction.atomic():
            transfer_post(kind=TransferKind.DEPOSIT, key=f"bad-{bad}", legs=bad)
    assert Transfer.objects.count() == 1 and balance(wallet) == 1_000


@pytest.mark.parametrize("order", ["ascending", "descending", "debit first"])
def test_transfer_post_updates_balances_in_account_id_order_whatever_order_the_legs_come_in(
    alice, fund, order
):
    # The lock order transfer_post promises (after the fund row): accounts in ascending id
    # order, so two transfers over the same accounts queue behind each other instead of
    # deadlocking (tests/integration/test_ledger_concurrency.py races them).
    top_up(alice, 1_000)
    wallet, world = wallet_for(alice), external_account()
    escrow = escrow_for(Fund.objects.get(pk=fund.pk))
    given = [(wallet, -300), (escrow, 200), (world, 100)]
    if order != "debit first":
        given.sort(key=lambda leg: leg[0].pk, reverse=order == "descending")
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        transfer_post(kind=TransferKind.AWARD, key="ordered", legs=given)
    updated = [
        int(pk)
        for query in queries
        for pk in re.findall(r'^UPDATE "bounties_account" .*"bounties_account"\."id" = (\d+)', query["sql"])
    ]
    assert updated == sorted([wallet.pk, escrow.pk, world.pk])
    assert (balance(wallet), balance(escrow), balance(world)) == (700, 200, -900)


def test_overdraft_is_refused_and_rolls_back(alice, fund):
    # 10.00 in the wallet; a 10.01 debit would take it to -1: the conditional UPDATE refuses it.
    top_up(alice, 1_000)
    wallet, escrow = wallet_for(alice), escrow_for(Fund.objects.get(pk=fund.pk))
    with pytest.raises(InsufficientFunds) as refusal, transaction.atomic():
        transfer_post(kind=TransferKind.PLEDGE, key="too-much", legs=[(wallet, -1_001), (escrow, 1_001)])
    assert refusal.value.details == {"shortfall_cents": 1, "balance_cents": 1_000}
    assert not Transfer.objects.filter(idempotency_key="too-much").exists()  # rolled back with the caller
    assert (balance(wallet), balance(escrow)) == (1_000, 0)
    assert ledger_violations() == []


# --- T23: ledger rows are immutable -------------------------------------------------------------


@pytest.mark.parametrize("model, change", [(Entry, {"amount": 1}), (Transfer, {"memo": "edited"})])
def test_ledger_rows_refuse_save_update_and_delete(alice, model, change):
    top_up(alice, 1_000)
    row = model.objects.first()
    with pytest.raises(TypeError, match="immutable"):
        row.save()
    with pytest.raises(TypeError, match="immutable"):
        row.delete()
    with pytest.raises(TypeError, match="immutable"):
        model.objects.filter(pk=row.pk).update(**change)
    with pytest.raises(TypeError, match="immutable"):
        model.objects.filter(pk=row.pk).delete()
    assert ledger_violations() == []


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE bounties_entry SET amount = amount + 1",
        "DELETE FROM bounties_entry",
        "UPDATE bounties_transfer SET memo = 'edited'",
        "DELETE FROM bounties_transfer",
    ],
)
def test_raw_sql_changes_to_ledger_rows_are_refused_by_the_database(alice, sql):
    top_up(alice, 1_000)
    before = list(Entry.objects.values_list("pk", "amount")), list(Transfer.objects.values_list("pk", "memo"))
    with pytest.raises(DatabaseError, match="ledger rows are immutable"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)  # the BEFORE UPDATE OR DELETE trigger raises
    after = list(Entry.objects.values_list("pk", "amount")), list(Transfer.objects.values_list("pk", "memo"))
    assert after == before


# --- Balanced by the database: the deferred constraint trigger (PostgreSQL) ----------------------
# The suite runs on PostgreSQL (SQLite has no deferred constraint triggers; tests/integration/test_sqlite.py
# covers the embedded default), so these run on every build.


def insert_entries(transfer, legs):
    """Write entries by hand, one INSERT per leg: nothing in Python checks the sum."""
    with connection.cursor() as cursor:
        for account, amount in legs:
            cursor.execute(
                "INSERT INTO bounties_entry (transfer_id, account_id, amount) VALUES (%s, %s, %s)",
                [transfer.pk, account.pk, amount],
            )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "write, total",
    [
        # One leg through the ORM, bypassing transfer_post: 5.00 appears from nowhere.
        (
            lambda transfer, world, wallet: Entry.objects.create(
                transfer=transfer, account=wallet, amount=500
            ),
            500,
        ),
        # Two legs by raw SQL that do not cancel: 5.00 in, 4.00 out.
        (lambda transfer, world, wallet: insert_entries(transfer, [(world, -400), (wallet, 500)]), 100),
    ],
    ids=["orm-one-leg", "raw-sql-legs-off-by-100"],
)
def test_the_database_refuses_an_unbalanced_transfer_at_commit(write, total):
    alice = UserFactory(username="alice")
    wallet, world = wallet_for(alice), external_account()
    with pytest.raises(
        IntegrityError, match=rf"transfer \d+ is unbalanced: its entries sum to {total}, not 0"
    ):
        with transaction.atomic():
            transfer = Transfer.objects.create(kind=TransferKind.DEPOSIT, idempotency_key="by-hand")
            write(transfer, world, wallet)
            # Deferred: the statement itself succeeded; the refusal comes at COMMIT.
            assert Entry.objects.filter(transfer=transfer).aggregate(t=Sum("amount"))["t"] == total
    # COMMIT failed, so the whole transaction rolled back: no transfer, no entry.
    assert not Transfer.objects.filter(idempotency_key="by-hand").exists()
    assert Entry.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_leg_added_to_a_committed_transfer():
    alice = UserFactory(username="alice")
    deposit = top_up(alice, 1_000)  # committed: world -1 000, wallet +1 000
    deposit.refresh_from_db()
    wallet = wallet_for(alice)
    with pytest.raises(IntegrityError, match=f"transfer {deposit.transfer_id} is unbalanced"):
        with transaction.atomic():
            insert_entries(deposit.transfer, [(wallet, 1)])
    assert Entry.objects.filter(transfer=deposit.transfer_id).count() == 2
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_a_transfer_written_leg_by_leg_commits_once_it_balances():
    alice = UserFactory(username="alice")
    wallet, world = wallet_for(alice), external_account()
    with transaction.atomic():
        transfer = Transfer.objects.create(kind=TransferKind.DEPOSIT, idempotency_key="by-hand")
        insert_entries(transfer, [(world, -500)])  # unbalanced for a moment: the check waits for COMMIT
        insert_entries(transfer, [(wallet, 500)])
    # Committed: both legs stored, summing to zero.
    assert legs(transfer) == {world.pk: -500, wallet.pk: 500}


def test_check_constraints_refuse_negative_balances_and_zero_entries(alice, fund):
    top_up(alice, 1_000)
    wallet, escrow = wallet_for(alice), escrow_for(Fund.objects.get(pk=fund.pk))
    for account in (wallet, escrow):
        with pytest.raises(IntegrityError), transaction.atomic():
            Account.objects.filter(pk=account.pk).update(balance=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(transfer=Transfer.objects.get(), account=wallet, amount=0)
    with pytest.raises(IntegrityError), transaction.atomic():  # one wallet per user
        Account.objects.create(kind=AccountKind.WALLET, user=alice)
    assert balance(wallet) == 1_000 and balance(escrow) == 0
    assert ledger_violations() == []


# --- manage.py ledger_check ---------------------------------------------------------------------------


def test_ledger_check_passes_on_clean_books_and_names_each_violation(alice, fund):
    top_up(alice, 5_000)
    pledge_create(user=alice, fund_id=fund.pk, amount_cents=2_000, key="p")
    out = StringIO()
    call_command("ledger_check", stdout=out, stderr=StringIO())  # no exception: exit status 0
    assert "Ledger OK" in out.getvalue()

    # Corrupt two cached numbers behind the ledger's back (no entries written).
    wallet = wallet_for(alice)
    Account.objects.filter(pk=wallet.pk).update(balance=F("balance") + 1)
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=F("pledged_cents") + 500)
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert failure.value.returncode == 1  # manage.py exits 1
    report = err.getvalue()
    assert f"VIOLATION: Wallet of user {alice.pk} (account {wallet.pk}) caches balance 3001" in report
    assert "but its entries sum to 3000" in report
    assert (
        f"VIOLATION: fund {fund.pk}: pledged_cents is 2500 but its active and awarded pledges sum to 2000"
        in report
    )
    assert "2 ledger violation(s)" in str(failure.value)


# --- ledger_check: the claim cycle's invariants, each broken by hand ---------------------------------


def ledger_check_report() -> str:
    """What `manage.py ledger_check` prints to stderr when it fails (it must: exit status 1)."""
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert failure.value.returncode == 1
    return err.getvalue()


@pytest.fixture
def claimed(fund):
    """Bob ($60) and Carol ($40) back the fund and Dan claims it: a claim under vote on $100."""
    bob, carol, dan = (UserFactory(username=name) for name in ("bob", "carol", "dan"))
    pledges = {}
    for backer, cents in ((bob, 6_000), (carol, 4_000)):
        top_up(backer, cents)
        pledges[backer.username] = pledge_create(
            user=backer, fund_id=fund.pk, amount_cents=cents, key="p"
        ).pledge
    claim = claim_submit(user=dan, fund_id=fund.pk, statement="Done.", url="https://example.com/work")
    return claim, bob, carol, pledges


@pytest.mark.parametrize("status", [FundStatus.AWARDED, FundStatus.FAILED])
def test_ledger_check_names_a_closed_fund_that_still_holds_escrow(alice, fund, status):
    top_up(alice, 2_000)
    pledge_create(user=alice, fund_id=fund.pk, amount_cents=2_000, key="p")
    # The fund is marked closed behind the services' back: its pledge's money is still in escrow.
    Fund.objects.filter(pk=fund.pk).update(status=status)

    assert f"VIOLATION: fund {fund.pk} is {status} but its escrow still holds 2000" in ledger_check_report()


def test_ledger_check_names_a_claim_whose_tally_disagrees_with_its_votes(fund, claimed):
    claim, _, carol, _ = claimed
    vote_cast(user=carol, claim_id=claim.pk, approve=False, reason="Not done.")  # $40 of $100: still open
    assert ledger_violations() == []
    Claim.objects.filter(pk=claim.pk).update(approve_cents=5_000)  # a tally that was incremented, and drifted

    assert f"VIOLATION: claim {claim.pk}: tally 5000/4000 but its votes say 0/4000" in ledger_check_report()


def test_ledger_check_names_an_accepted_claim_that_was_never_paid(fund, claimed):
    claim, *_ = claimed
    Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.ACCEPTED)  # accepted, but no award moved

    report = ledger_check_report()
    assert f"VIOLATION: claim {claim.pk} is accepted and has award transfer None" in report
    assert f"VIOLATION: claim {claim.pk} was accepted but fund {fund.pk} is voting" in report


def test_ledger_check_names_a_settled_pledge_without_its_release_transfer(fund, claimed):
    claim, _, _, pledges = claimed
    claim_withdraw(user=claim.user, claim_id=claim.pk)  # the fund reopens
    bob_pledge = pledges["bob"]
    Pledge.objects.filter(pk=bob_pledge.pk).update(escrow_until=timezone.now() - timedelta(minutes=1))
    assert pledge_settle(pledge_id=bob_pledge.pk).status == PledgeStatus.REFUNDED
    assert ledger_violations() == []
    Pledge.objects.filter(pk=bob_pledge.pk).update(release_transfer=None)

    assert (
        f"VIOLATION: pledge {bob_pledge.pk} left escrow but has no release transfer" in ledger_check_report()
    )


def test_ledger_check_names_an_award_that_its_pledges_do_not_add_up_to(fund, claimed):
    claim, bob, _, pledges = claimed
    claim = vote_cast(user=bob, claim_id=claim.pk, approve=True).claim  # $60 of $100 accepts at once
    assert claim.status == ClaimStatus.ACCEPTED and ledger_violations() == []
    award = claim.award_transfer
    # Carol's pledge put back to active, as if the award had never taken it (the award took $100).
    Pledge.objects.filter(pk=pledges["carol"].pk).update(status=PledgeStatus.ACTIVE)

    report = ledger_check_report()
    assert (
        f"VIOLATION: award transfer {award.pk} took 10000 from escrow, paid 10000 to winners, and its "
        "awarded pledges sum to 6000"
    ) in report
    assert f"VIOLATION: pledge {pledges['carol'].pk} is active but has a release transfer" in report
    assert f"VIOLATION: fund {fund.pk}: escrow holds 0 but live pledges sum to 4000" in report


def test_ledger_check_names_payout_money_that_came_from_neither_an_award_nor_a_payout(fund, claimed):
    claim, bob, _, _ = claimed
    dan = claim.user
    vote_cast(user=bob, claim_id=claim.pk, approve=True)  # $60 of $100 accepts: Dan's payout holds $100
    assert ledger_violations() == []
    # Five dollars moved from Bob's wallet into Dan's payout account by a balanced transfer of the
    # wrong kind: every cached balance still equals its entries, but payout money is only ever an
    # award, less payouts, plus payouts that failed and came back.
    top_up(bob, 500)
    payout = Account.objects.get(kind=AccountKind.PAYOUT, user=dan)
    with transaction.atomic():
        stray = transfer_post(
            kind=TransferKind.WITHDRAW, key="stray", legs=[(wallet_for(bob), -500), (payout, 500)]
        )

    report = ledger_check_report()
    assert (
        f"VIOLATION: transfer {stray.pk} (Pledge withdrawn) moves 500 into Payout of user {dan.pk} "
        f"(account {payout.pk}): only awards, payouts and returned payouts move payout money"
    ) in report
    assert (
        f"VIOLATION: Payout of user {dan.pk} (account {payout.pk}) holds 10500 but its awards (10000) "
        "less payouts (0) plus returned payouts (0) come to 10000"
    ) in report


def test_ledger_check_names_an_award_that_takes_money_out_of_a_payout_account(fund, claimed):
    claim, bob, _, _ = claimed
    dan = claim.user
    vote_cast(user=bob, claim_id=claim.pk, approve=True)  # Dan's payout holds $100
    payout = Account.objects.get(kind=AccountKind.PAYOUT, user=dan)
    # An "award" written by hand that sends $3 of Dan's payout money to Bob's wallet.
    with transaction.atomic():
        backwards = transfer_post(
            kind=TransferKind.AWARD, key="backwards", legs=[(payout, -300), (wallet_for(bob), 300)]
        )

    assert (
        f"VIOLATION: transfer {backwards.pk} (Award) moves -300 on Payout of user {dan.pk} "
        f"(account {payout.pk}): that kind only ever credits a payout account"
    ) in ledger_check_report()
