"""Pledging money to funds and withdrawing it.

Lock order, everywhere: the fund row first, then accounts by id (`transfer_post`).
A pledge's transfer key is `pledge:{user}:{key}`, so a replayed request, a
concurrent duplicate, or the scheduled completion of a card pledge can never
move the money twice.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from bounties import faults, selectors
from bounties.errors import (
    FundNotOpen,
    IdempotencyMismatch,
    InsufficientFunds,
    NotFound,
    WithdrawFrozen,
    WithdrawNotAllowed,
)
from bounties.models import Deposit, DepositStatus, Fund, FundStatus, Pledge, PledgeStatus, TransferKind
from bounties.money import check_amount, fingerprint
from bounties.services import announcing, ledger, money_operation
from bounties.services.ledger import escrow_for, pledge_accounts, transfer_post, wallet_for
from bounties.sql import loaded

# Stripe's smallest charge in USD.
MIN_CARD_CHARGE_CENTS = 50


@dataclass(frozen=True)
class PledgeOutcome:
    pledge: Pledge
    replayed: bool = False
    deposit: Deposit | None = None


def _replay(user, key, fp) -> PledgeOutcome | None:
    pledge = Pledge.objects.filter(user=user, key=key).first()
    if pledge is None:
        return None
    if pledge.fingerprint != fp:
        raise IdempotencyMismatch()
    deposit = pledge.deposits.order_by("-pk").first() if pledge.status == PledgeStatus.PENDING_FUNDS else None
    return PledgeOutcome(pledge=pledge, replayed=True, deposit=deposit)


def lock_fund(fund_id) -> Fund:
    """The fund row, locked to commit: the first lock of every action on a fund's money or claims."""
    funds = Fund.objects.select_related("page")
    if not faults.active("unguarded"):
        funds = funds.select_for_update(of=("self",))
    return funds.get(pk=fund_id)


def require_open(fund: Fund):
    """Pledges are taken while the fund is open, and also while a claim is under vote (they carry no
    weight on that claim, and an accepted claim is paid the whole escrow: the pledge page says so).
    A fund whose page is not live (a proposal under review, a fund taken down) takes nothing, whichever
    door the pledge came through."""
    if not fund.page.live:
        raise FundNotOpen("This fund is not published, so it takes no pledges.")
    if fund.status not in (FundStatus.OPEN, FundStatus.VOTING):
        raise FundNotOpen(f"This fund is {fund.get_status_display().lower()} and no longer takes pledges.")
    if timezone.now() >= fund.page.pledge_deadline:
        raise FundNotOpen("The pledge deadline for this fund has passed.")


def terms_of(fund: Fund) -> dict:
    """The escrow terms a pledge made now is held to (kept on the pledge: later edits never change them)."""
    page = fund.page
    return {
        "escrow_until": page.escrow_until,
        "failure_policy": page.failure_policy,
        "beneficiary_name": page.beneficiary_name,
    }


def _transfer_key(pledge: Pledge) -> str:
    return f"pledge:{pledge.user_id}:{pledge.key}"


def move_into_escrow(fund: Fund, pledge: Pledge, *, wallet=None, escrow=None):
    """Debit the wallet, credit escrow, mark the pledge active and update the fund's totals.

    In the caller's transaction, with the fund locked (`lock_fund`) and checked (`require_open`).
    """
    transfer = transfer_post(
        kind=TransferKind.PLEDGE,
        key=_transfer_key(pledge),
        legs=[
            (wallet or wallet_for(pledge.user), -pledge.amount_cents),
            (escrow or escrow_for(fund), pledge.amount_cents),
        ],
        memo=f"Pledge to {fund.page.title}",
        user=pledge.user,
        fund=fund,
    )
    pledge.transfer = transfer
    pledge.status = PledgeStatus.ACTIVE
    if pledge.pk:
        pledge.save(update_fields=["transfer", "status", "updated_at"])
    else:
        pledge.save()
    first_pledge = (
        not fund.pledges.filter(user_id=pledge.user_id, status=PledgeStatus.ACTIVE)
        .exclude(pk=pledge.pk)
        .exists()
    )
    before = fund.pledged_cents
    after = before + pledge.amount_cents
    Fund.objects.filter(pk=fund.pk).update(
        pledged_cents=F("pledged_cents") + pledge.amount_cents,
        backer_count=F("backer_count") + int(first_pledge),
    )
    fund.pledged_cents = after
    backers = None
    if first_pledge:
        backers = Fund.objects.values_list("backer_count", flat=True).get(pk=fund.pk)
    _announce(fund, pledge, before=before, backers=backers)


def _announce(fund: Fund, pledge: Pledge, *, before: int, backers: int | None):
    """Stage what this pledge tells the world, in its transaction: the milestones of the goal and of
    the backer count it crossed (`backers` is the count after it, None if the backer was counted
    already), each once, and the backer's receipt."""
    after = before + pledge.amount_cents
    for percent in announcing.milestones_crossed(goal_cents=fund.page.goal_cents, before=before, after=after):
        announcing.stage(
            key=f"milestone:{fund.pk}:{percent}", event="milestone", fund=fund.pk, percent=percent
        )
    if backers is not None:
        for mark in announcing.backer_milestones_crossed(before=backers - 1, after=backers):
            announcing.stage(
                key=f"backers:{fund.pk}:{mark}", event="backers_milestone", fund=fund.pk, backers=mark
            )
    announcing.stage(
        key=f"pledge:{pledge.pk}:receipt",
        event="pledge_receipt",
        fund=fund.pk,
        user=pledge.user_id,
        pledge=pledge.pk,
        amount_cents=pledge.amount_cents,
    )


def pledge_create(*, user, fund_id: int, amount_cents: int, key: str) -> PledgeOutcome:
    """Move `amount_cents` from the user's wallet into the fund's escrow, once per key."""
    check_amount(amount_cents)
    fp = fingerprint(user.pk, fund_id, amount_cents)
    try:
        return _pledge_create(user=user, fund_id=fund_id, amount_cents=amount_cents, key=key, fp=fp)
    except IntegrityError:
        # A request with the same key committed first (the transfer key is unique):
        # this one rolled back whole, and the answer is the first one's.
        if replay := _replay(user, key, fp):
            return replay
        raise


@money_operation
def _pledge_create(*, user, fund_id, amount_cents, key, fp) -> PledgeOutcome:
    if connection.vendor == "postgresql" and settings.FUNDFILL_PLEDGE_SQL and not faults.active("unguarded"):
        return _pledge_create_sql(user=user, fund_id=fund_id, amount_cents=amount_cents, key=key, fp=fp)
    if not selectors.public_funds().filter(pk=fund_id).exists():
        raise NotFound("No such fund.")
    if replay := _replay(user, key, fp):
        return replay
    # Look the accounts up before taking the fund lock: the lock is held to commit,
    # so everything done under it limits how fast one popular fund can take pledges.
    wallet, escrow = pledge_accounts(user, fund_id)
    fund = lock_fund(fund_id)
    require_open(fund)
    pledge = Pledge(
        user=user, fund=fund, amount_cents=amount_cents, key=key, fingerprint=fp, **terms_of(fund)
    )
    move_into_escrow(fund, pledge, wallet=wallet, escrow=escrow)
    return PledgeOutcome(pledge=pledge)


def _pledge_create_sql(*, user, fund_id, amount_cents, key, fp) -> PledgeOutcome:
    """The same pledge in two statements under the fund lock (`ledger.pledge_lock`, `ledger.pledge_post`):
    the same checks, in the same order, on the same rows, and the same refusals."""
    locked = ledger.pledge_lock(user_id=user.pk, fund_id=fund_id, key=key)
    if locked is None or not locked.public:
        raise NotFound("No such fund.")
    if locked.replay:
        return _replay(user, key, fp)
    fund = locked.fund
    require_open(fund)
    if locked.wallet_id is None or locked.escrow_id is None:  # first use: open them, then read again
        wallet_for(user)
        escrow_for(fund)
        locked = ledger.pledge_lock(user_id=user.pk, fund_id=fund_id, key=key)
    now = timezone.now()
    posted = ledger.pledge_post(
        locked=locked,
        user_id=user.pk,
        amount_cents=amount_cents,
        key=key,
        transfer_key=f"pledge:{user.pk}:{key}",  # `_transfer_key`
        fingerprint=fp,
        now=now,
    )
    if posted is None:
        # The same request, sent twice at once, may have committed while this one waited for the
        # lock and taken the money this one needed: that is this pledge, not a refusal. The lock's
        # statement could not see it (`ledger.PLEDGE_LOCK_SQL`); this later read can.
        if replay := _replay(user, key, fp):
            return replay
        raise ledger.insufficient_funds(locked.wallet_id, TransferKind.PLEDGE, amount_cents)
    pledge = loaded(
        Pledge,
        id=posted.pledge_id,
        user_id=user.pk,
        fund_id=fund.pk,
        amount_cents=amount_cents,
        status=PledgeStatus.ACTIVE,
        key=key,
        fingerprint=fp,
        transfer_id=posted.transfer_id,
        release_transfer_id=None,
        **terms_of(fund),
        settlement_choice="",
        settlement_fund_id=None,
        settled_at=None,
        note="",
        created_at=now,
        updated_at=now,
    )
    pledge.user, pledge.fund = user, fund
    fund.pledged_cents, fund.backer_count = posted.pledged_cents, posted.backer_count
    before = posted.pledged_cents - amount_cents
    _announce(fund, pledge, before=before, backers=posted.backer_count if posted.new_backer else None)
    return PledgeOutcome(pledge=pledge)


@money_operation
def pledge_create_with_card(
    *, user, fund_id: int, amount_cents: int, key: str, gateway: str
) -> PledgeOutcome:
    """Pledge more than the wallet holds: record a pending pledge and a deposit for the difference.

    Nothing moves now. When the deposit's payment lands, the webhook credits the
    wallet and completes the pledge in the same transaction.
    """
    check_amount(amount_cents)
    fp = fingerprint(user.pk, fund_id, amount_cents)
    if replay := _replay(user, key, fp):
        return replay
    fund = lock_fund(fund_id)
    if replay := _replay(user, key, fp):
        return replay
    require_open(fund)
    pledge = Pledge(
        user=user, fund=fund, amount_cents=amount_cents, key=key, fingerprint=fp, **terms_of(fund)
    )
    shortfall = amount_cents - wallet_for(user).balance
    if 0 < shortfall < MIN_CARD_CHARGE_CENTS:
        # Card networks refuse tiny charges; the extra stays in the backer's wallet.
        shortfall = MIN_CARD_CHARGE_CENTS
    if shortfall <= 0:
        move_into_escrow(fund, pledge)
        return PledgeOutcome(pledge=pledge)
    pledge.status = PledgeStatus.PENDING_FUNDS
    pledge.save()
    deposit = Deposit.objects.create(user=user, amount_cents=shortfall, gateway=gateway, pledge=pledge)
    return PledgeOutcome(pledge=pledge, deposit=deposit)


def _pledge_complete(pledge_id: int) -> Pledge:
    """`pledge_complete` inside a money operation that already holds the transaction (the webhook's).

    A pending card pledge whose deposit landed moves into escrow; if the fund stopped taking
    pledges meanwhile, or the wallet no longer holds enough, it is cancelled and the money
    stays in the wallet. One whose deposits were all declined is cancelled. Any other (still
    waiting for its payment, or no longer pending) is left as it is. Lock order as everywhere:
    the fund, then the pledge, then (in `transfer_post`) accounts by id.
    """
    pledge = Pledge.objects.get(pk=pledge_id)
    fund = lock_fund(pledge.fund_id)
    # The pledge row only: locking the joined user row would deadlock with that user's pledges.
    pledge = Pledge.objects.select_for_update(of=("self",)).select_related("user").get(pk=pledge_id)
    if pledge.status != PledgeStatus.PENDING_FUNDS:
        return pledge
    deposits = set(pledge.deposits.values_list("status", flat=True))
    if DepositStatus.SUCCEEDED in deposits:
        try:
            with transaction.atomic():
                require_open(fund)
                move_into_escrow(fund, pledge)
        except (FundNotOpen, InsufficientFunds) as refusal:
            pledge.refresh_from_db()
            pledge.status = PledgeStatus.CANCELLED
            pledge.note = f"{refusal.message} Your payment is in your wallet."
            pledge.save(update_fields=["status", "note", "updated_at"])
    elif deposits <= {DepositStatus.DECLINED}:  # every attempt to pay was declined
        pledge.status = PledgeStatus.CANCELLED
        pledge.note = "The card payment was declined. No money moved."
        pledge.save(update_fields=["status", "note", "updated_at"])
    return pledge


@money_operation
def pledge_complete(*, pledge_id: int) -> Pledge:
    """Finish a pending card pledge: into escrow once its deposit has landed, cancelled if declined.

    The webhook does this in the transaction that credits the deposit; this is the same step
    on its own, for the scheduled sweep (`pledge_complete_pending`). Idempotent: a pledge that
    is no longer pending is returned as it is.
    """
    return _pledge_complete(pledge_id)


def pledge_complete_pending() -> int:
    """The scheduled safety net: `pledge_complete` for every pending card pledge, each in its own
    transaction. Returns how many are no longer pending (completed or cancelled)."""
    done = 0
    pending = Pledge.objects.filter(status=PledgeStatus.PENDING_FUNDS).values_list("pk", flat=True)
    for pledge_id in list(pending):
        if pledge_complete(pledge_id=pledge_id).status != PledgeStatus.PENDING_FUNDS:
            done += 1
    return done


@money_operation
def pledge_withdraw(*, user, pledge_id: int) -> Pledge:
    """Return an active pledge to the backer's wallet while the fund is open and no claim is under vote."""
    fund_id = Pledge.objects.values_list("fund_id", flat=True).get(pk=pledge_id, user=user)
    fund = lock_fund(fund_id)
    pledge = Pledge.objects.select_for_update().get(pk=pledge_id, user=user)
    if pledge.status != PledgeStatus.ACTIVE:
        raise WithdrawNotAllowed(
            f"This pledge is {pledge.get_status_display().lower()}, so there is nothing to withdraw."
        )
    if fund.status == FundStatus.VOTING:
        raise WithdrawFrozen()
    if fund.status != FundStatus.OPEN or timezone.now() >= fund.page.pledge_deadline:
        raise WithdrawNotAllowed("This fund has closed: pledges stay in escrow until it is settled.")
    transfer = transfer_post(
        kind=TransferKind.WITHDRAW,
        key=f"withdraw:{pledge.pk}",
        legs=[(escrow_for(fund), -pledge.amount_cents), (wallet_for(user), pledge.amount_cents)],
        memo=f"Withdrawn from {fund.page.title}",
        user=user,
        fund=fund,
    )
    pledge.status = PledgeStatus.WITHDRAWN
    pledge.release_transfer = transfer
    pledge.save(update_fields=["status", "release_transfer", "updated_at"])
    last_pledge = not fund.pledges.filter(user=user, status=PledgeStatus.ACTIVE).exists()
    Fund.objects.filter(pk=fund.pk).update(
        pledged_cents=F("pledged_cents") - pledge.amount_cents,
        backer_count=F("backer_count") - int(last_pledge),
    )
    return pledge
