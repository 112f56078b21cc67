"""Posting transfers to the double-entry ledger, and proving its invariants.

`transfer_post` is the one way money moves: it writes a balanced transfer, its
entries, and the cached balances in the caller's transaction, debiting with a
conditional UPDATE so a balance can never go below zero, even under races.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum

from bounties import faults
from bounties.errors import InsufficientFunds
from bounties.models import (
    Account,
    AccountKind,
    Cashout,
    Claim,
    ClaimStatus,
    Deposit,
    DepositStatus,
    Entry,
    Fund,
    FundPage,
    FundStatus,
    Payout,
    PayoutStatus,
    Pledge,
    PledgeStatus,
    Refund,
    RefundStatus,
    Transfer,
    TransferKind,
)
from bounties.money import format_cents
from bounties.sql import loaded, prepared_row


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


def beneficiary_for(fund: Fund) -> Account:
    """What a failed fund's pledges owe its named beneficiary (settled there by their terms)."""
    return _account(AccountKind.BENEFICIARY, fund=fund)


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


# --- A pledge in two statements (PostgreSQL) ------------------------------------------------------
#
# The same pledge as `transfer_post` plus the pledge row and the fund's counters written with
# the ORM (`bounties.services.pledging`, which SQLite and the control tests still use), in two
# statements instead of a dozen: under load every statement under the fund lock is a round trip
# that the next backer of that fund waits for. The rules are the same and so are the tests.

# Lock the fund (the first lock, as everywhere), and read in the same statement all a pledge
# needs: is the page public (live, no view restriction on it or an ancestor: Wagtail's `public()`),
# the terms, whether this key was used already, and the backer's wallet and the fund's escrow.
# A statement that waited for the lock sees the fund row as its holder committed it, but its
# subqueries see the database as it was when it started: nothing read here may depend on what
# the lock's previous holder wrote (a key it used fails the unique index instead, and is replayed).
PLEDGE_LOCK_SQL = """
SELECT f.status, f.pledged_cents, f.backer_count,
       p.live AND NOT EXISTS (
           SELECT 1 FROM wagtailcore_pageviewrestriction r
           JOIN wagtailcore_page rp ON rp.id = r.page_id
           WHERE starts_with(p.path, rp.path)
       ) AS public,
       p.live, p.title, fp.pledge_deadline, fp.goal_cents,
       fp.escrow_until, fp.failure_policy, fp.beneficiary_name,
       EXISTS (SELECT 1 FROM bounties_pledge k WHERE k.user_id = %(user)s AND k.key = %(key)s) AS replay,
       (SELECT id FROM bounties_account WHERE kind = 'wallet' AND user_id = %(user)s) AS wallet,
       (SELECT id FROM bounties_account WHERE kind = 'escrow' AND fund_id = f.page_id) AS escrow
FROM bounties_fund f
JOIN bounties_fundpage fp ON fp.page_ptr_id = f.page_id
JOIN wagtailcore_page p ON p.id = f.page_id
WHERE f.page_id = %(fund)s
FOR UPDATE OF f
"""

# Debit the wallet only if it holds the amount (the conditional UPDATE of `transfer_post`); every
# later part runs only if the one before it wrote its row, so a refused debit writes nothing.
# Lock order: the fund (locked above), then the wallet, then the escrow. An escrow is only ever
# written under its fund's lock, which this transaction holds, so no one can hold it while
# waiting for this wallet: the order by account id that `transfer_post` keeps is not needed here.
# The entries sum to zero by construction; the deferred trigger checks it again at COMMIT.
# Whether the backer is new to the fund is read here, after the lock: a pledge the lock's previous
# holder committed is seen, and the one this statement inserts is not.
PLEDGE_POST_SQL = """
WITH backed AS (
    SELECT EXISTS (
        SELECT 1 FROM bounties_pledge
        WHERE fund_id = %(fund)s AND user_id = %(user)s AND status = 'active'
    ) AS already
), debit AS (
    UPDATE bounties_account SET balance = balance - %(amount)s
    WHERE id = %(wallet)s AND balance >= %(amount)s
    RETURNING id
), credit AS (
    UPDATE bounties_account SET balance = balance + %(amount)s
    WHERE id = %(escrow)s AND EXISTS (SELECT 1 FROM debit)
    RETURNING id
), transfer AS (
    INSERT INTO bounties_transfer (kind, idempotency_key, memo, user_id, fund_id, created_at)
    SELECT 'pledge', %(transfer_key)s, %(memo)s, %(user)s, %(fund)s, %(now)s FROM credit
    RETURNING id
), entries AS (
    INSERT INTO bounties_entry (transfer_id, account_id, amount)
    SELECT transfer.id, leg.account, leg.amount
    FROM transfer, (VALUES (%(wallet)s, -%(amount)s), (%(escrow)s, %(amount)s)) AS leg (account, amount)
), pledge AS (
    INSERT INTO bounties_pledge (
        user_id, fund_id, amount_cents, status, key, fingerprint, transfer_id, escrow_until,
        failure_policy, beneficiary_name, settlement_choice, note, created_at, updated_at
    )
    SELECT %(user)s, %(fund)s, %(amount)s, 'active', %(key)s, %(fingerprint)s, transfer.id, %(escrow_until)s::timestamptz,
           %(failure_policy)s, %(beneficiary_name)s, '', '', %(now)s, %(now)s
    FROM transfer
    RETURNING id, transfer_id
), fund AS (
    UPDATE bounties_fund
    SET pledged_cents = pledged_cents + %(amount)s,
        backer_count = backer_count + (SELECT CASE WHEN already THEN 0 ELSE 1 END FROM backed)
    WHERE page_id = %(fund)s AND EXISTS (SELECT 1 FROM pledge)
    RETURNING pledged_cents, backer_count
)
SELECT pledge.id, pledge.transfer_id, fund.pledged_cents, fund.backer_count, NOT backed.already
FROM pledge, fund, backed
"""


@dataclass(frozen=True)
class PledgeLock:
    """What `pledge_lock` read with the fund locked."""

    fund: Fund  # with `page` set to its FundPage, holding the fields a pledge reads
    public: bool
    replay: bool  # the backer used this key before
    wallet_id: int | None
    escrow_id: int | None


@dataclass(frozen=True)
class PledgePosted:
    pledge_id: int
    transfer_id: int
    pledged_cents: int  # the fund's, after this pledge
    backer_count: int
    new_backer: bool  # the backer's first active pledge in this fund


def pledge_lock(*, user_id: int, fund_id: int, key: str) -> PledgeLock | None:
    """Lock the fund and read what a pledge needs, in one statement; None if there is no such fund."""
    row = prepared_row(PLEDGE_LOCK_SQL, {"user": user_id, "fund": fund_id, "key": key})
    if row is None:
        return None
    (status, pledged, backers, public, live, title, deadline, goal) = row[:8]
    (escrow_until, failure_policy, beneficiary_name, replay, wallet_id, escrow_id) = row[8:]
    page = loaded(
        FundPage,
        id=fund_id,
        page_ptr_id=fund_id,
        live=live,
        title=title,
        pledge_deadline=deadline,
        goal_cents=goal,
        escrow_until=escrow_until,
        failure_policy=failure_policy,
        beneficiary_name=beneficiary_name,
    )
    fund = loaded(Fund, page_id=fund_id, status=status, pledged_cents=pledged, backer_count=backers)
    fund.page = page
    return PledgeLock(fund, public, replay, wallet_id, escrow_id)


def pledge_post(
    *, locked: PledgeLock, user_id: int, amount_cents: int, key: str, transfer_key: str, fingerprint: str, now
) -> PledgePosted | None:
    """Move `amount_cents` from the wallet into escrow as one pledge transfer, write the pledge
    (active, holding the fund's terms) and add it to the fund's counters, in one statement.

    None, with nothing written, when the wallet holds less than the amount.
    """
    _require_transaction()
    page = locked.fund.page
    params = {
        "user": user_id,
        "fund": locked.fund.pk,
        "amount": amount_cents,
        "wallet": locked.wallet_id,
        "escrow": locked.escrow_id,
        "transfer_key": transfer_key,
        "memo": f"Pledge to {page.title}",
        "now": now,
        "key": key,
        "fingerprint": fingerprint,
        "escrow_until": page.escrow_until,
        "failure_policy": page.failure_policy,
        "beneficiary_name": page.beneficiary_name,
    }
    row = prepared_row(PLEDGE_POST_SQL, params)
    return None if row is None else PledgePosted(*row)


def insufficient_funds(account_id: int, kind: str, debit: int) -> InsufficientFunds:
    """The refusal of a debit from `account_id` that its balance did not cover, in words."""
    account = Account.objects.get(pk=account_id)
    return _insufficient(account, kind, balance=account.balance, debit=debit)


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

    problems.extend(_fund_violations())
    problems.extend(_claim_violations())

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
    problems.extend(_refund_violations())
    problems.extend(_payout_violations())
    problems.extend(_payout_balance_violations())
    # The outside world holds what came in by card less what went back out, each from our own
    # records: card refunds that did not fail, and payouts sent and not reversed.
    deposited = (
        Deposit.objects.filter(status=DepositStatus.SUCCEEDED).aggregate(t=Sum("amount_cents"))["t"] or 0
    )
    refunded = Refund.objects.exclude(status=RefundStatus.FAILED).aggregate(t=Sum("amount_cents"))["t"] or 0
    sent = Payout.objects.filter(transfer__isnull=False, reversal_transfer__isnull=True)
    paid_out = sent.aggregate(t=Sum("amount_cents"))["t"] or 0
    external = Account.objects.filter(kind=AccountKind.EXTERNAL).aggregate(t=Sum("balance"))["t"] or 0
    if -external != deposited - refunded - paid_out:
        problems.append(
            f"external account is {external} but succeeded deposits ({deposited}) less card refunds "
            f"({refunded}) and payouts ({paid_out}) say {-(deposited - refunded - paid_out)}"
        )
    return problems


def _fund_violations() -> list[str]:
    """Escrow holds exactly the active pledges; the fund's counters are its active and awarded pledges.

    An awarded or failed fund holds no escrow, and every settled pledge left escrow by exactly
    one transfer of its own amount (the award's, shared by the fund's pledges, or its own).
    """
    problems = []
    active = Q(pledges__status=PledgeStatus.ACTIVE)
    counted = Q(pledges__status__in=[PledgeStatus.ACTIVE, PledgeStatus.AWARDED])
    funds = Fund.objects.annotate(
        live_cents=Sum("pledges__amount_cents", filter=active),
        counted_cents=Sum("pledges__amount_cents", filter=counted),
        counted_backers=Count("pledges__user", filter=counted, distinct=True),
    )
    escrows = dict(Account.objects.filter(kind=AccountKind.ESCROW).values_list("fund", "balance"))
    for fund in funds:
        live, held = fund.live_cents or 0, escrows.get(fund.pk, 0)
        if held != live:
            problems.append(f"fund {fund.pk}: escrow holds {held} but live pledges sum to {live}")
        if fund.status in (FundStatus.AWARDED, FundStatus.FAILED) and held:
            problems.append(f"fund {fund.pk} is {fund.status} but its escrow still holds {held}")
        if fund.pledged_cents != (fund.counted_cents or 0):
            problems.append(
                f"fund {fund.pk}: pledged_cents is {fund.pledged_cents} but its active and awarded pledges "
                f"sum to {fund.counted_cents or 0}"
            )
        if fund.backer_count != fund.counted_backers:
            problems.append(
                f"fund {fund.pk}: backer_count is {fund.backer_count} but {fund.counted_backers} back it"
            )
    released = Pledge.objects.exclude(status__in=[PledgeStatus.PENDING_FUNDS, PledgeStatus.CANCELLED])
    released = released.exclude(status=PledgeStatus.ACTIVE)
    for pk in released.filter(release_transfer__isnull=True).values_list("pk", flat=True):
        problems.append(f"pledge {pk} left escrow but has no release transfer")
    for pk in Pledge.objects.filter(status=PledgeStatus.ACTIVE, release_transfer__isnull=False).values_list(
        "pk", flat=True
    ):
        problems.append(f"pledge {pk} is active but has a release transfer")
    takes_own_amount = Entry.objects.filter(
        transfer=OuterRef("release_transfer"),
        account__kind=AccountKind.ESCROW,
        amount=-OuterRef("amount_cents"),
    )
    own = released.exclude(status=PledgeStatus.AWARDED).exclude(Exists(takes_own_amount))
    for pk in own.values_list("pk", flat=True):
        problems.append(f"pledge {pk}: its release transfer does not take its amount out of escrow")
    shared = Pledge.objects.filter(release_transfer__isnull=False).values("release_transfer")
    shared = shared.annotate(n=Count("pk")).filter(n__gt=1).exclude(release_transfer__kind=TransferKind.AWARD)
    for row in shared:
        problems.append(f"transfer {row['release_transfer']} releases {row['n']} pledges but is not an award")
    return problems


def _claim_violations() -> list[str]:
    """Tallies are the sum of their votes; an accepted claim was paid its fund's whole escrow, once."""
    problems = []
    claims = Claim.objects.annotate(
        approved=Sum("votes__weight_cents", filter=Q(votes__approve=True)),
        rejected=Sum("votes__weight_cents", filter=Q(votes__approve=False)),
    )
    for claim in claims:
        if (claim.approve_cents, claim.reject_cents) != (claim.approved or 0, claim.rejected or 0):
            problems.append(
                f"claim {claim.pk}: tally {claim.approve_cents}/{claim.reject_cents} but its votes say "
                f"{claim.approved or 0}/{claim.rejected or 0}"
            )
        if (claim.status == ClaimStatus.ACCEPTED) != (claim.award_transfer_id is not None):
            problems.append(
                f"claim {claim.pk} is {claim.status} and has award transfer {claim.award_transfer_id}"
            )
    for claim in Claim.objects.filter(status=ClaimStatus.ACCEPTED).select_related("fund"):
        if claim.fund.status != FundStatus.AWARDED:
            problems.append(f"claim {claim.pk} was accepted but fund {claim.fund_id} is {claim.fund.status}")
    paid = Entry.objects.filter(transfer__kind=TransferKind.AWARD, amount__gt=0).values("transfer")
    paid = dict(paid.annotate(t=Sum("amount")).values_list("transfer", "t"))
    taken = Entry.objects.filter(transfer__kind=TransferKind.AWARD, account__kind=AccountKind.ESCROW)
    awarded = Pledge.objects.filter(status=PledgeStatus.AWARDED).values("release_transfer")
    awarded = dict(awarded.annotate(t=Sum("amount_cents")).values_list("release_transfer", "t"))
    for transfer_id, amount in taken.values_list("transfer", "amount"):
        if -amount != awarded.get(transfer_id, 0) or paid.get(transfer_id) != -amount:
            problems.append(
                f"award transfer {transfer_id} took {-amount} from escrow, paid {paid.get(transfer_id)} to "
                f"winners, and its awarded pledges sum to {awarded.get(transfer_id, 0)}"
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


def _refund_violations() -> list[str]:
    """Each cash-out debited its owner's wallet by its amount and is split into refunds summing to it;
    no card payment is refunded beyond its amount; a failed refund, and only a failed one, was
    credited back to the wallet by a reversal of its own amount."""
    problems = []
    from_wallet = Q(
        transfer__entries__account__kind=AccountKind.WALLET, transfer__entries__account__user=F("user")
    )
    # Two queries: one join over both entries and refunds would count each of them many times.
    debits = dict(
        Cashout.objects.annotate(t=Sum("transfer__entries__amount", filter=from_wallet)).values_list(
            "pk", "t"
        )
    )
    splits = dict(Cashout.objects.annotate(t=Sum("refunds__amount_cents")).values_list("pk", "t"))
    for pk, amount, kind in Cashout.objects.values_list("pk", "amount_cents", "transfer__kind"):
        debited, split = debits.get(pk), splits.get(pk)
        if kind != TransferKind.CASHOUT or debited != -amount:
            problems.append(
                f"cash-out {pk}: its transfer ({kind}) takes {-(debited or 0)} from the wallet, not {amount}"
            )
        if split != amount:
            problems.append(f"cash-out {pk} is for {amount} but its refunds sum to {split or 0}")
    orphans = Transfer.objects.filter(
        Q(kind=TransferKind.CASHOUT, cashout__isnull=True)
        | Q(kind=TransferKind.CASHOUT_REVERSAL, reversed_refund__isnull=True)
    )
    for pk in orphans.values_list("pk", flat=True):
        problems.append(f"transfer {pk} is a cash-out transfer that belongs to no cash-out or refund")
    live = Q(refunds__status__in=[RefundStatus.PENDING, RefundStatus.SUCCEEDED])
    over = Deposit.objects.annotate(refunded=Sum("refunds__amount_cents", filter=live))
    for pk, status, amount, refunded in over.filter(refunded__isnull=False).values_list(
        "pk", "status", "amount_cents", "refunded"
    ):
        if refunded > amount or status != DepositStatus.SUCCEEDED:
            problems.append(f"deposit {pk} ({status}, {amount}) has {refunded} refunded")
    for pk in Refund.objects.exclude(deposit__user=F("cashout__user")).values_list("pk", flat=True):
        problems.append(f"refund {pk} refunds another user's card payment")
    failed = Q(status=RefundStatus.FAILED)
    for pk in Refund.objects.filter(failed, reversal_transfer__isnull=True).values_list("pk", flat=True):
        problems.append(f"refund {pk} failed but its money was not returned to the wallet")
    for pk in Refund.objects.filter(~failed, reversal_transfer__isnull=False).values_list("pk", flat=True):
        problems.append(f"refund {pk} did not fail but has a reversal transfer")
    to_wallet = Q(
        reversal_transfer__entries__account__kind=AccountKind.WALLET,
        reversal_transfer__entries__account__user=F("cashout__user"),
    )
    reversed_ = Refund.objects.filter(reversal_transfer__isnull=False).annotate(
        credited=Sum("reversal_transfer__entries__amount", filter=to_wallet)
    )
    for pk, amount, kind, credited in reversed_.values_list(
        "pk", "amount_cents", "reversal_transfer__kind", "credited"
    ):
        if kind != TransferKind.CASHOUT_REVERSAL or credited != amount:
            problems.append(
                f"refund {pk}: its reversal ({kind}) credits the wallet {credited or 0}, not {amount}"
            )
    return problems


def _payout_violations() -> list[str]:
    """Each payout debited its owner's payout account by its amount; a failed one, and only a failed
    one, was credited back by a reversal of its amount; a paid one says when and by what."""
    problems = []
    own = Q(account__kind=AccountKind.PAYOUT, account__user=OuterRef("user"))
    debited = Entry.objects.filter(own, transfer=OuterRef("transfer"), amount=-OuterRef("amount_cents"))
    credited = Entry.objects.filter(
        own, transfer=OuterRef("reversal_transfer"), amount=OuterRef("amount_cents")
    )
    payouts = Payout.objects.annotate(debited=Exists(debited), credited=Exists(credited))
    for payout in payouts.select_related("transfer", "reversal_transfer"):
        failed = payout.status == PayoutStatus.FAILED
        if payout.transfer_id is None or payout.transfer.kind != TransferKind.PAYOUT or not payout.debited:
            problems.append(
                f"payout {payout.pk}: its transfer does not take {payout.amount_cents} from its payout account"
            )
        if failed != (payout.reversal_transfer_id is not None):
            problems.append(
                f"payout {payout.pk} is {payout.status} and has reversal {payout.reversal_transfer_id}"
            )
        elif failed and (
            payout.reversal_transfer.kind != TransferKind.PAYOUT_REVERSAL or not payout.credited
        ):
            problems.append(f"payout {payout.pk}: its reversal does not return {payout.amount_cents}")
        if payout.status == PayoutStatus.PAID and (
            payout.paid_at is None
            or not (payout.provider_id if payout.method == "stripe" else payout.reference)
        ):
            problems.append(f"payout {payout.pk} is paid but records no date or reference")
    orphans = Transfer.objects.filter(
        Q(kind=TransferKind.PAYOUT, payout__isnull=True)
        | Q(kind=TransferKind.PAYOUT_REVERSAL, reversed_payout__isnull=True)
    )
    for pk in orphans.values_list("pk", flat=True):
        problems.append(f"transfer {pk} is a payout transfer that belongs to no payout")
    return problems


# What may move money in or out of a payout account, and which way: an award credits it, a payout
# request debits it, and the reversal of a failed payout credits the amount back.
PAYOUT_ACCOUNT_MOVES = {
    TransferKind.AWARD: 1,
    TransferKind.PAYOUT: -1,
    TransferKind.PAYOUT_REVERSAL: 1,
}


def _payout_balance_violations() -> list[str]:
    """Each payout balance is its awards less its payouts plus its returned payouts, and nothing else.

    The cached-balance check proves a balance equals its entries whatever their kind; this one
    proves what those entries may be. A balanced transfer of any other kind into or out of a
    payout account (a wallet topped up from a winner's payout money, a refund credited there)
    keeps every sum right and would pass unseen, so each such entry is named, as is an award,
    payout or reversal that moves money the wrong way.
    """
    problems = []
    entries = Entry.objects.filter(account__kind=AccountKind.PAYOUT)
    stray = entries.exclude(transfer__kind__in=list(PAYOUT_ACCOUNT_MOVES)).select_related(
        "account", "transfer"
    )
    for entry in stray.order_by("transfer_id", "pk"):
        way = f"{entry.amount} into" if entry.amount > 0 else f"{-entry.amount} out of"
        problems.append(
            f"transfer {entry.transfer_id} ({entry.transfer.get_kind_display()}) moves {way} {entry.account} "
            f"(account {entry.account_id}): only awards, payouts and returned payouts move payout money"
        )
    for kind, sign in PAYOUT_ACCOUNT_MOVES.items():
        wrong_way = Q(amount__lt=0) if sign > 0 else Q(amount__gt=0)
        backwards = entries.filter(wrong_way, transfer__kind=kind)
        for entry in backwards.select_related("account").order_by("transfer_id", "pk"):
            problems.append(
                f"transfer {entry.transfer_id} ({TransferKind(kind).label}) moves {entry.amount} on "
                f"{entry.account} (account {entry.account_id}): that kind only ever "
                f"{'credits' if sign > 0 else 'debits'} a payout account"
            )
    sums: dict[int, dict[str, int]] = {}
    for account_id, kind, total in (
        entries.values("account", "transfer__kind")
        .annotate(t=Sum("amount"))
        .values_list("account", "transfer__kind", "t")
    ):
        sums.setdefault(account_id, {})[kind] = total
    for account in Account.objects.filter(kind=AccountKind.PAYOUT).order_by("pk"):
        by_kind = sums.get(account.pk, {})
        awards = by_kind.get(TransferKind.AWARD, 0)
        paid = -by_kind.get(TransferKind.PAYOUT, 0)
        returned = by_kind.get(TransferKind.PAYOUT_REVERSAL, 0)
        if account.balance != awards - paid + returned:
            problems.append(
                f"{account} (account {account.pk}) holds {account.balance} but its awards ({awards}) "
                f"less payouts ({paid}) plus returned payouts ({returned}) come to {awards - paid + returned}"
            )
    return problems


__all__ = [
    "beneficiary_for",
    "escrow_for",
    "external_account",
    "ledger_violations",
    "payout_for",
    "transfer_post",
    "wallet_for",
]
