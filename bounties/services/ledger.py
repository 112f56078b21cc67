"""Posting transfers to the double-entry ledger, and proving its invariants.

`transfer_post` is the one way money moves: it writes a balanced transfer, its
entries, and the cached balances in the caller's transaction, debiting with a
conditional UPDATE so a balance can never go below zero, even under races.
"""

from collections.abc import Sequence

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum

from bounties import faults
from bounties.errors import InsufficientFunds
from bounties.models import (
    Account,
    AccountKind,
    Deposit,
    DepositStatus,
    Entry,
    Fund,
    Pledge,
    PledgeStatus,
    Transfer,
    TransferKind,
)
from bounties.money import format_cents


def _require_transaction():
    if not connection.in_atomic_block:
        raise RuntimeError("Ledger writes must run inside a money operation (a transaction).")


def _account(kind, **owner):
    try:
        with transaction.atomic():
            account, _ = Account.objects.get_or_create(kind=kind, **owner)
    except IntegrityError:  # created concurrently by another transaction
        account = Account.objects.get(kind=kind, **owner)
    return account


def wallet_for(user) -> Account:
    return _account(AccountKind.WALLET, user=user)


def payout_for(user) -> Account:
    return _account(AccountKind.PAYOUT, user=user)


def escrow_for(fund: Fund) -> Account:
    return _account(AccountKind.ESCROW, fund=fund)


def external_account() -> Account:
    return _account(AccountKind.EXTERNAL)


def pledge_accounts(user, fund_id) -> tuple[Account, Account]:
    """The backer's wallet and the fund's escrow, in one query (each created on first use)."""
    found = {
        account.kind: account
        for account in Account.objects.filter(
            Q(kind=AccountKind.WALLET, user=user) | Q(kind=AccountKind.ESCROW, fund_id=fund_id)
        )
    }
    wallet = found.get(AccountKind.WALLET) or wallet_for(user)
    escrow = found.get(AccountKind.ESCROW) or _account(AccountKind.ESCROW, fund_id=fund_id)
    return wallet, escrow


def transfer_post(
    *, kind: str, key: str, legs: Sequence[tuple[Account, int]], memo: str = "", user=None, fund=None
) -> Transfer:
    """Write one balanced transfer. Raises InsufficientFunds if a debit would overdraw an account.

    Balances are updated in account-id order (the fixed lock order), after the
    caller has locked the fund, so concurrent transfers cannot deadlock.
    """
    _require_transaction()
    amounts = [amount for _, amount in legs]
    if sum(amounts) != 0 or any(not isinstance(a, int) or a == 0 for a in amounts):
        raise ValueError(f"Unbalanced or zero legs for transfer {key!r}: {amounts}")
    transfer = Transfer.objects.create(kind=kind, idempotency_key=key, memo=memo, user=user, fund=fund)
    for account, amount in sorted(legs, key=lambda leg: leg[0].pk):
        if faults.active("unguarded"):
            _unguarded_update(account, amount, kind)
            continue
        rows = Account.objects.filter(pk=account.pk)
        if amount < 0 and account.kind != AccountKind.EXTERNAL:
            rows = rows.filter(balance__gte=-amount)
        if rows.update(balance=F("balance") + amount) == 0:
            balance = Account.objects.values_list("balance", flat=True).get(pk=account.pk)
            raise _insufficient(account, kind, balance=balance, debit=-amount)
    Entry.objects.bulk_create(
        Entry(transfer=transfer, account=account, amount=amount) for account, amount in legs
    )
    return transfer


def _insufficient(account: Account, kind: str, *, balance: int, debit: int) -> InsufficientFunds:
    """The refusal in words a backer can act on: what the wallet holds and how much more it needs."""
    message = None
    if account.kind == AccountKind.WALLET:
        what = TransferKind(kind).label.lower()
        message = f"Your wallet holds {format_cents(balance)}; this {what} needs {format_cents(debit - balance)} more."
    return InsufficientFunds(message, shortfall_cents=debit - balance, balance_cents=balance)


def _unguarded_update(account, amount, kind):
    """The bug the conditional UPDATE prevents: check, pause, write back (control tests only)."""
    balance = Account.objects.values_list("balance", flat=True).get(pk=account.pk)
    if amount < 0 and account.kind != AccountKind.EXTERNAL and balance < -amount:
        raise _insufficient(account, kind, balance=balance, debit=-amount)
    faults.pause()
    Account.objects.filter(pk=account.pk).update(balance=balance + amount)


# --- Proof -------------------------------------------------------------------------------------


def ledger_violations() -> list[str]:
    """Every broken invariant, in words; an empty list means the books are right."""
    problems = []

    for row in Entry.objects.values("transfer").annotate(total=Sum("amount")).exclude(total=0):
        problems.append(f"transfer {row['transfer']} is unbalanced: entries sum to {row['total']}")
    for pk in Transfer.objects.annotate(n=Count("entries")).filter(n=0).values_list("pk", flat=True):
        problems.append(f"transfer {pk} has no entries")
    total = Entry.objects.aggregate(total=Sum("amount"))["total"] or 0
    if total != 0:
        problems.append(f"all entries sum to {total}, not 0")

    sums = dict(Entry.objects.values_list("account").annotate(total=Sum("amount")))
    for account in Account.objects.all():
        if account.balance != sums.get(account.pk, 0):
            problems.append(
                f"{account} (account {account.pk}) caches balance {account.balance} but its entries sum to "
                f"{sums.get(account.pk, 0)}"
            )
        if account.kind != AccountKind.EXTERNAL and account.balance < 0:
            problems.append(f"{account} (account {account.pk}) is negative: {account.balance}")

    active = Q(pledges__status=PledgeStatus.ACTIVE)
    funds = Fund.objects.annotate(
        live_cents=Sum("pledges__amount_cents", filter=active),
        live_backers=Count("pledges__user", filter=active, distinct=True),
    )
    escrows = dict(Account.objects.filter(kind=AccountKind.ESCROW).values_list("fund", "balance"))
    for fund in funds:
        live = fund.live_cents or 0
        if escrows.get(fund.pk, 0) != live:
            problems.append(
                f"fund {fund.pk}: escrow holds {escrows.get(fund.pk, 0)} but live pledges sum to {live}"
            )
        if fund.pledged_cents != live:
            problems.append(
                f"fund {fund.pk}: pledged_cents is {fund.pledged_cents} but live pledges sum to {live}"
            )
        if fund.backer_count != fund.live_backers:
            problems.append(
                f"fund {fund.pk}: backer_count is {fund.backer_count} but {fund.live_backers} back it"
            )

    money_moved = ~Q(status__in=[PledgeStatus.PENDING_FUNDS, PledgeStatus.CANCELLED])
    for pledge in Pledge.objects.filter(money_moved, transfer__isnull=True).values_list("pk", flat=True):
        problems.append(f"pledge {pledge} holds money but has no pledge transfer")
    for pledge in Pledge.objects.filter(~money_moved, transfer__isnull=False).values_list("pk", flat=True):
        problems.append(f"pledge {pledge} moved money but is not marked so")
    mismatched = Pledge.objects.filter(transfer__isnull=False).exclude(
        transfer__entries__amount=F("amount_cents")
    )
    for pledge in mismatched.values_list("pk", flat=True):
        problems.append(f"pledge {pledge}: its transfer does not move its amount")

    problems.extend(_deposit_violations())
    deposited = (
        Deposit.objects.filter(status=DepositStatus.SUCCEEDED).aggregate(t=Sum("amount_cents"))["t"] or 0
    )
    external = Account.objects.filter(kind=AccountKind.EXTERNAL).aggregate(t=Sum("balance"))["t"] or 0
    paid_out = (
        Entry.objects.filter(account__kind=AccountKind.EXTERNAL, amount__gt=0).aggregate(t=Sum("amount"))["t"]
        or 0
    )
    if -external != deposited - paid_out:
        problems.append(
            f"external account is {external} but succeeded deposits ({deposited}) less payouts ({paid_out}) "
            f"say {-(deposited - paid_out)}"
        )
    return problems


def _deposit_violations() -> list[str]:
    """Each credited deposit moved exactly the amount it was opened for, into its owner's wallet.

    Per deposit, not in sum: one deposit over-credited and another under-credited by as
    much balance every total, and a consistent ledger would hide them.
    """
    problems = []
    to_owner = Q(
        transfer__entries__account__kind=AccountKind.WALLET, transfer__entries__account__user=F("user")
    )
    credited = (
        Deposit.objects.filter(status=DepositStatus.SUCCEEDED)
        .annotate(
            credited=Sum("transfer__entries__amount", filter=to_owner),
            moved=Sum("transfer__entries__amount", filter=Q(transfer__entries__amount__gt=0)),
        )
        .values_list("pk", "amount_cents", "transfer_id", "transfer__kind", "credited", "moved")
    )
    for pk, amount, transfer_id, kind, to_wallet, moved in credited:
        if transfer_id is None:
            problems.append(f"deposit {pk} succeeded but has no deposit transfer")
        elif kind != TransferKind.DEPOSIT:
            problems.append(f"deposit {pk}: its transfer {transfer_id} is a {kind} transfer, not a deposit")
        elif to_wallet != amount:
            problems.append(
                f"deposit {pk}: its transfer credits {to_wallet or 0} but it was opened for {amount}"
            )
        elif moved != amount:
            problems.append(f"deposit {pk}: its transfer moves {moved} but it was opened for {amount}")
    uncredited = Deposit.objects.exclude(status=DepositStatus.SUCCEEDED).filter(transfer__isnull=False)
    for pk, status in uncredited.values_list("pk", "status"):
        problems.append(f"deposit {pk} is {status} but has a deposit transfer")
    orphans = Transfer.objects.filter(kind=TransferKind.DEPOSIT, deposit__isnull=True)
    for pk in orphans.values_list("pk", flat=True):
        problems.append(f"transfer {pk} is a deposit transfer that belongs to no deposit")
    return problems


__all__ = [
    "escrow_for",
    "external_account",
    "ledger_violations",
    "payout_for",
    "transfer_post",
    "wallet_for",
]
