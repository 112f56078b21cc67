"""Settling pledges when nobody won: each by its backer's choice, under the terms it was made with.

A pledge is due when its own escrow date (`Pledge.escrow_until`, copied from the fund when it
was made) has passed and its fund has no accepted claim and no claim under vote. It then
leaves escrow once, by the key `settle:{pledge}`, to where its backer chose:

- `wallet` (the default when the pledge's terms say refund): back to the wallet;
- `card`: back to the wallet, then sent back to the card as a cash-out in the same transaction;
  if the card refund cannot be made the cash-out service returns the money to the wallet and
  says so;
- `beneficiary` (the default when the terms name one): to the fund's beneficiary account;
- `fund`: pledged to another open fund (if that fund no longer takes pledges, the money stays
  in the wallet and the pledge's note says so).

When every pledge is settled and the fund's last escrow date has passed, the fund is `failed`.
A settlement racing an acceptance ends with one outcome: both lock the fund row first, and
each checks the state it finds.
"""

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from bounties.errors import BountiesError, NotFound, SettlementInvalid
from bounties.models import (
    Account,
    Cashout,
    ClaimStatus,
    EventKind,
    FailurePolicy,
    Fund,
    FundStatus,
    Pledge,
    PledgeStatus,
    SettlementChoice,
    TransferKind,
)
from bounties.money import format_cents
from bounties.services import announcing, money_operation
from bounties.services.cashouts import cashout_open, refunds_send
from bounties.services.claims import record
from bounties.services.ledger import beneficiary_for, escrow_for, external_account, transfer_post, wallet_for
from bounties.services.pledging import lock_fund, move_into_escrow, require_open, terms_of

STATUS_FOR = {
    SettlementChoice.WALLET: PledgeStatus.REFUNDED,
    SettlementChoice.CARD: PledgeStatus.REFUNDED,
    SettlementChoice.BENEFICIARY: PledgeStatus.TO_BENEFICIARY,
    SettlementChoice.FUND: PledgeStatus.REPLEDGED,
}


def default_choice(pledge: Pledge) -> str:
    """What happens to a pledge whose backer chose nothing: what its terms say."""
    if pledge.failure_policy == FailurePolicy.BENEFICIARY and pledge.beneficiary_name:
        return SettlementChoice.BENEFICIARY
    return SettlementChoice.WALLET


def choice_of(pledge: Pledge) -> str:
    return pledge.settlement_choice or default_choice(pledge)


@money_operation
def settlement_choose(*, user, pledge_id: int, choice: str, fund_id: int | None = None) -> Pledge:
    """Set where an active pledge goes if nobody wins; it may be changed until the pledge is settled."""
    if choice not in SettlementChoice.values:
        raise SettlementInvalid("Choose wallet, card, beneficiary or fund.", choices=SettlementChoice.values)
    pledge = Pledge.objects.select_for_update().filter(pk=pledge_id, user=user).first()
    if pledge is None:
        raise NotFound("There is no such pledge of yours.")
    if pledge.status != PledgeStatus.ACTIVE:
        raise SettlementInvalid(
            f"This pledge is {pledge.get_status_display().lower()}: it is already settled."
        )
    target = None
    if choice == SettlementChoice.BENEFICIARY and not pledge.beneficiary_name:
        raise SettlementInvalid("This pledge's terms name no beneficiary.")
    if choice == SettlementChoice.FUND:
        target = Fund.objects.select_related("page").filter(pk=fund_id, page__live=True).first()
        if target is None or target.pk == pledge.fund_id:
            raise SettlementInvalid("Choose another live fund to pledge this money to.")
        if target.status not in (FundStatus.OPEN, FundStatus.VOTING):
            raise SettlementInvalid(f"{target.page.title} is not taking pledges.")
    pledge.settlement_choice = choice
    pledge.settlement_fund = target
    pledge.save(update_fields=["settlement_choice", "settlement_fund", "updated_at"])
    return pledge


def _due(pledge: Pledge, fund: Fund, now) -> bool:
    if pledge.status != PledgeStatus.ACTIVE or now < pledge.escrow_until:
        return False
    if fund.status not in (FundStatus.OPEN, FundStatus.VOTING):
        return False
    return not fund.claims.filter(status__in=[ClaimStatus.VOTING, ClaimStatus.ACCEPTED]).exists()


@money_operation
def pledge_settle(*, pledge_id: int) -> Pledge:
    """Settle one due pledge by its backer's choice. Idempotent: anything not due is returned as it is."""
    fund_id, onward_id = Pledge.objects.values_list("fund_id", "settlement_fund_id").get(pk=pledge_id)
    # A pledge going on to another fund locks that fund too: both in id order, so two settlements
    # pledging on to each other's fund queue instead of deadlocking.
    locked = {pk: lock_fund(pk) for pk in sorted({fund_id, onward_id} - {None})}
    fund = locked[fund_id]
    pledge = Pledge.objects.select_for_update(of=("self",)).select_related("user").get(pk=pledge_id)
    now = timezone.now()
    if not _due(pledge, fund, now):
        return pledge
    choice = choice_of(pledge)
    escrow = escrow_for(fund)
    if choice == SettlementChoice.BENEFICIARY:
        to, memo = beneficiary_for(fund), f"To the beneficiary of {fund.page.title}"
    else:
        to, memo = wallet_for(pledge.user), f"Returned from {fund.page.title}"
    if choice == SettlementChoice.CARD:
        # The cash-out then debits the wallet into `external`: lock all three accounts now, in id
        # order (the ledger's lock order), or a deposit to this wallet (external, then wallet)
        # deadlocks with us holding the wallet and asking for `external` last.
        ids = {escrow.pk, to.pk, external_account().pk}
        list(Account.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    transfer = transfer_post(
        kind=TransferKind.BENEFICIARY if choice == SettlementChoice.BENEFICIARY else TransferKind.REFUND,
        key=f"settle:{pledge.pk}",
        legs=[(escrow, -pledge.amount_cents), (to, pledge.amount_cents)],
        memo=memo,
        user=pledge.user,
        fund=fund,
    )
    pledge.status = STATUS_FOR[choice]
    pledge.release_transfer = transfer
    pledge.settled_at = now
    pledge.note = _onward(pledge, choice)
    pledge.save(update_fields=["status", "release_transfer", "settled_at", "note", "updated_at"])
    last = not fund.pledges.filter(user_id=pledge.user_id, status=PledgeStatus.ACTIVE).exists()
    Fund.objects.filter(pk=fund.pk).update(
        pledged_cents=F("pledged_cents") - pledge.amount_cents, backer_count=F("backer_count") - int(last)
    )
    record(
        fund.pk,
        EventKind.SETTLED,
        user=pledge.user,
        at=now,
        pledge=pledge.pk,
        amount_cents=pledge.amount_cents,
        choice=choice,
        note=pledge.note,
    )
    return pledge


def _onward(pledge: Pledge, choice: str) -> str:
    """The second step of a card or fund settlement, in the same transaction; returns what to tell the backer.

    A refusal of that step (nothing refundable to a card, the other fund closed) rolls back only
    the step: the money stays in the wallet, and the note says so.
    """
    amount = format_cents(pledge.amount_cents)
    if choice == SettlementChoice.WALLET:
        return f"{amount} went back to your wallet."
    if choice == SettlementChoice.BENEFICIARY:
        return f"{amount} went to {pledge.beneficiary_name}, as this pledge's terms said."
    try:
        with transaction.atomic():
            if choice == SettlementChoice.CARD:
                cashout_open(
                    user=pledge.user,
                    amount_cents=pledge.amount_cents,
                    key=f"settle:{pledge.pk}",
                    pledge=pledge,
                )
                return f"{amount} is being sent back to your card."
            target = lock_fund(pledge.settlement_fund_id)
            onward = Pledge(
                user=pledge.user,
                fund=target,
                amount_cents=pledge.amount_cents,
                key=f"settle:{pledge.pk}",
                fingerprint=f"settle:{pledge.pk}",
                **terms_of(target),
            )
            require_open(target)
            move_into_escrow(target, onward)
            return f"{amount} was pledged to {target.page.title}."
    except BountiesError as refusal:
        return f"{refusal.message} {amount} is in your wallet instead."


def fund_close_if_settled(*, fund_id: int) -> Fund:
    """Mark a fund failed once its last escrow date has passed and no pledge is left in escrow."""
    return _close_if_settled(fund_id)


@money_operation
def _close_if_settled(fund_id: int) -> Fund:
    fund = lock_fund(fund_id)
    now = timezone.now()
    last = fund.pledges.aggregate(last=Max("escrow_until"))["last"]
    last = max(filter(None, [last, fund.page.escrow_until]))
    if fund.status != FundStatus.OPEN or now < last:
        return fund
    if fund.pledges.filter(status__in=[PledgeStatus.ACTIVE, PledgeStatus.PENDING_FUNDS]).exists():
        return fund
    if fund.claims.filter(status__in=[ClaimStatus.VOTING, ClaimStatus.ACCEPTED]).exists():
        return fund
    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.FAILED)
    fund.status = FundStatus.FAILED
    record(fund.pk, EventKind.FAILED, at=now)
    announcing.stage(key=f"fund:{fund.pk}:failed", event="fund_failed", fund=fund.pk)
    return fund


def funds_settle(now=None) -> int:
    """The scheduled pass (`manage.py settle_funds`): settle every due pledge, then close settled funds.

    Each pledge in its own transaction; returns how many pledges were settled.
    """
    now = now or timezone.now()
    due = Pledge.objects.filter(
        status=PledgeStatus.ACTIVE, escrow_until__lte=now, fund__status=FundStatus.OPEN
    ).values_list("pk", flat=True)
    settled = 0
    for pledge_id in list(due):
        pledge = pledge_settle(pledge_id=pledge_id)
        if pledge.status != PledgeStatus.ACTIVE:
            settled += 1
        # "Back to my card": the refunds go to the gateway now that the settlement committed.
        for cashout_id in Cashout.objects.filter(pledge=pledge).values_list("pk", flat=True):
            refunds_send(cashout_id)
    past = Fund.objects.filter(status=FundStatus.OPEN, page__escrow_until__lte=now).values_list(
        "pk", flat=True
    )
    for fund_id in list(past):
        fund_close_if_settled(fund_id=fund_id)
    return settled
