"""Paying winners their payout balance: by Stripe Connect transfer, or by hand by Finance staff.

Award money reaches a winner's payout account from escrow (the claims service). A payout
request debits that account into `external` in the transaction that records the `Payout`,
so the same money can never be asked for twice, and a refusal afterwards (Stripe declines
the transfer, Finance marks it failed) credits it back with a new transfer: every state
change is a transfer or a recorded field, and each staff action is in Wagtail's audit log.

- Hold: award money stays `PAYOUT_HOLD_DAYS` in the payout account before it can leave
  (a card payment behind it can still be disputed); `bounties.selectors.payout_available`.
- Keys: the request's transfer is `payout:{user}:{key}`, so a replayed or concurrent
  duplicate request finds the first; the Stripe transfer's idempotency key is `payout:{pk}`
  and a reversal's transfer `payout-reversal:{pk}`, so a resent transfer or a second failure
  never moves money twice.
- Lock order: the payout row (staff actions, recording), then accounts by id. A request
  locks the user's payout account and the external account in id order, so concurrent
  requests of one winner run one after the other and never exceed the balance.
- Telling: a payout recorded paid (by Stripe's answer or by Finance) stages the winner's
  receipt, the public `payout_sent` announcement and a "paid out" entry on the timeline of
  each fund whose award it pays, in that same transaction (`_stage_paid`).
- Nothing external runs inside a transaction: Stripe is called before (onboarding) or after
  (sending) the money operations, and an unreachable Stripe leaves the payout requested for
  the sweep (`payouts_send_pending`).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django_q.tasks import async_task
from wagtail.log_actions import log

from bounties import selectors
from bounties.errors import (
    IdempotencyMismatch,
    InsufficientPayout,
    NotFound,
    PaymentUnavailable,
    PayoutAccountMissing,
    PayoutNotAllowed,
    PayoutOnHold,
)
from bounties.models import (
    Account,
    AccountKind,
    Claim,
    ClaimStatus,
    ConnectedAccount,
    Entry,
    EventKind,
    Payout,
    PayoutStatus,
    TransferKind,
)
from bounties.money import check_amount, fingerprint, format_cents
from bounties.payments.stripe_gateway import configure
from bounties.services import announcing, claims, money_operation
from bounties.services.ledger import external_account, payout_for, transfer_post

logger = logging.getLogger("fundfill.payments")

FINANCE_GROUP = "Finance"  # created by migration 0009_finance_group
STRIPE = "stripe"
MANUAL = "manual"
# Stripe may forget an idempotency key after 24 hours; an hour's margin before that.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=23)
# Large enough for any payout balance; check_amount's default maximum is the pledge limit.
MAX_PAYOUT_CENTS = 10**15 - 1


@dataclass(frozen=True)
class PayoutOutcome:
    payout: Payout
    replayed: bool = False


# --- Requests -------------------------------------------------------------------------------------


def _replay(user, key, fp) -> PayoutOutcome | None:
    payout = Payout.objects.filter(user=user, key=key).first()
    if payout is None:
        return None
    if payout.fingerprint != fp:
        raise IdempotencyMismatch("This request key was already used for a different payout.")
    return PayoutOutcome(payout=payout, replayed=True)


def payout_request(*, user, amount_cents: int, key: str, now: datetime | None = None) -> PayoutOutcome:
    """Ask for `amount_cents` of the payout balance to be paid out, once per key.

    Refuses with InsufficientPayout (more than the balance), PayoutOnHold (part of it is award
    money still inside the hold; the message says when it is available) or, when payouts go by
    Stripe, PayoutAccountMissing (no Stripe account with payouts enabled). `now` is the clock.
    """
    check_amount(amount_cents, minimum=1, maximum=MAX_PAYOUT_CENTS)
    fp = fingerprint("payout", user.pk, amount_cents)
    try:
        outcome = _payout_request(user=user, amount_cents=amount_cents, key=key, fp=fp, now=now)
    except IntegrityError:
        # The same key committed first in another transaction (the transfer key is unique).
        if replay := _replay(user, key, fp):
            return replay
        raise
    return outcome


@money_operation
def _payout_request(*, user, amount_cents, key, fp, now) -> PayoutOutcome:
    if replay := _replay(user, key, fp):
        return replay
    method = settings.PAYOUT_METHOD
    if method == STRIPE and not ConnectedAccount.objects.filter(user=user, payouts_enabled=True).exists():
        raise PayoutAccountMissing()
    # Both accounts the transfer touches, locked in id order (the ledger's lock order): a second
    # request of this winner waits here, then reads the balance the first one left.
    locked = _lock_accounts(user)
    if replay := _replay(user, key, fp):  # a duplicate committed while this one waited
        return replay
    payout_account = locked.get(AccountKind.PAYOUT)
    balance = payout_account.balance if payout_account else 0
    if amount_cents > balance:
        raise InsufficientPayout(
            f"Your payout balance is {format_cents(balance)}; you asked for {format_cents(amount_cents)}.",
            balance_cents=balance,
        )
    available = selectors.payout_available(user=user, now=now)
    if amount_cents > available:
        available_at = selectors.payout_available_at(user=user, amount_cents=amount_cents, now=now)
        raise PayoutOnHold(
            f"{format_cents(available)} of your payout balance can be paid out now; "
            f"{format_cents(amount_cents)} will be available on {_day(available_at)} "
            f"({settings.PAYOUT_HOLD_DAYS} days after each award, against card disputes).",
            available_cents=available,
            available_at=available_at.isoformat(),
        )
    transfer = transfer_post(
        kind=TransferKind.PAYOUT,
        key=f"payout:{user.pk}:{key}",
        legs=[(payout_account, -amount_cents), (locked[AccountKind.EXTERNAL], amount_cents)],
        memo="Payout requested",
        user=user,
    )
    payout = Payout.objects.create(
        user=user, amount_cents=amount_cents, method=method, key=key, fingerprint=fp, transfer=transfer
    )
    log(payout, "bounties.payout.request", user=user, data={"amount_cents": amount_cents, "method": method})
    if method == STRIPE:
        transaction.on_commit(lambda: _enqueue_send(payout.pk))
    return PayoutOutcome(payout=payout)


def _day(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%B} {local.day}, {local.year}"


def _lock_accounts(user) -> dict[str, Account]:
    """The user's payout account (if it exists; none is created) and the external account,
    row-locked in id order."""
    external_account()  # exists before it is locked
    accounts = Account.objects.select_for_update().filter(
        Q(kind=AccountKind.PAYOUT, user=user) | Q(kind=AccountKind.EXTERNAL)
    )
    return {account.kind: account for account in accounts.order_by("pk")}


def _enqueue_send(payout_id: int):
    """Hand the committed payout to the worker (the minute's sweep sends it if this nudge is lost)."""
    async_task("bounties.tasks.payout_send", payout_id)


def _lock_payout(payout_id: int) -> Payout:
    try:
        return Payout.objects.select_for_update(of=("self",)).select_related("user").get(pk=payout_id)
    except Payout.DoesNotExist:
        raise NotFound("There is no such payout.") from None


def _reverse(payout: Payout, *, status: str, reason: str):
    """Credit the payout's money back to the winner's payout balance and record why."""
    payout.reversal_transfer = transfer_post(
        kind=TransferKind.PAYOUT_REVERSAL,
        key=f"payout-reversal:{payout.pk}",
        legs=[(external_account(), -payout.amount_cents), (payout_for(payout.user), payout.amount_cents)],
        memo="Payout failed: returned to the payout balance",
        user=payout.user,
    )
    payout.status = status
    payout.failure_reason = reason[:300]
    payout.save(update_fields=["reversal_transfer", "status", "failure_reason", "updated_at"])


# --- Stripe Connect -------------------------------------------------------------------------------


def connect_onboarding_link(*, user, refresh_url: str, return_url: str) -> str:
    """The URL of Stripe's onboarding for the winner's Express account (created on first use)."""
    configure()
    connected = ConnectedAccount.objects.filter(user=user).first()
    try:
        if connected is None:
            account = stripe.Account.create(
                type="express",
                email=user.email or None,
                metadata={"user": str(user.pk)},
                # One account per user, even when two tabs ask at once.
                idempotency_key=f"connect-account:{user.pk}",
            )
            connected, _ = ConnectedAccount.objects.get_or_create(
                user=user, defaults={"stripe_account_id": account["id"]}
            )
        link = stripe.AccountLink.create(
            account=connected.stripe_account_id,
            refresh_url=refresh_url,
            return_url=return_url,
            type="account_onboarding",
        )
    except stripe.StripeError as exc:
        logger.warning("stripe onboarding for user %s failed: %r", user.pk, exc)
        raise PaymentUnavailable(
            "We could not reach Stripe to set up your payout account; please try again."
        ) from exc
    return link["url"]


def connect_refresh(user) -> ConnectedAccount | None:
    """Read the winner's Stripe account again and record whether Stripe lets it receive payouts."""
    connected = ConnectedAccount.objects.filter(user=user).first()
    if connected is None:
        return None
    configure()
    try:
        account = stripe.Account.retrieve(connected.stripe_account_id)
    except stripe.StripeError as exc:
        logger.warning("stripe account %s could not be read: %r", connected.stripe_account_id, exc)
        raise PaymentUnavailable(
            "We could not reach Stripe to check your payout account; please try again."
        ) from exc
    enabled = bool(account["payouts_enabled"])
    if enabled != connected.payouts_enabled:
        connected.payouts_enabled = enabled
        connected.save(update_fields=["payouts_enabled", "updated_at"])
    return connected


def payouts_send(payout_id: int, *, now: datetime | None = None) -> Payout:
    """Send one requested Stripe payout as a Connect transfer and record Stripe's answer.

    Safe to run again: the idempotency key `payout:{pk}` makes Stripe answer a resend with the
    first transfer, and a payout that is no longer requested is left as it is. Stripe may forget
    a key after 24 hours, so a payout older than that is first looked for by its transfer group
    (an earlier attempt whose answer was lost may have gone through). An unreachable or failing
    Stripe (network, 5xx, rate limit, our own key) leaves it requested for the sweep; a refusal
    of this transfer (4xx, e.g. the destination cannot receive it) fails the payout and returns
    the money to the payout balance. `now` is the clock.
    """
    payout = Payout.objects.select_related("user__connected_account").get(pk=payout_id)
    if payout.status != PayoutStatus.REQUESTED or payout.method != STRIPE:
        return payout
    connected = getattr(payout.user, "connected_account", None)
    if connected is None:
        return payout_record(payout_id=payout.pk, ok=False, reason="No Stripe account to pay into.")
    configure()
    group = f"payout:{payout.pk}"
    try:
        if (now or timezone.now()) - payout.created_at > IDEMPOTENCY_KEY_LIFETIME:
            if earlier := stripe.Transfer.list(transfer_group=group, limit=1)["data"]:
                return payout_record(payout_id=payout.pk, ok=True, provider_id=earlier[0]["id"])
        transfer = stripe.Transfer.create(
            amount=payout.amount_cents,
            currency=settings.FUNDFILL_CURRENCY,
            destination=connected.stripe_account_id,
            transfer_group=group,
            metadata={"payout": str(payout.pk)},
            idempotency_key=group,
        )
    except (stripe.InvalidRequestError, stripe.CardError) as exc:
        logger.warning("stripe refused payout %s: %r", payout.pk, exc)
        return payout_record(payout_id=payout.pk, ok=False, reason=exc.user_message or str(exc))
    except stripe.StripeError as exc:
        logger.warning("stripe payout %s not sent (left for the sweep): %r", payout.pk, exc)
        return payout
    return payout_record(payout_id=payout.pk, ok=True, provider_id=transfer["id"])


def payouts_send_pending(*, now: datetime | None = None) -> int:
    """The scheduled sweep: `payouts_send` for every requested Stripe payout. Returns how many
    are no longer requested (paid or failed)."""
    done = 0
    pending = Payout.objects.filter(status=PayoutStatus.REQUESTED, method=STRIPE).order_by("pk")
    for payout_id in list(pending.values_list("pk", flat=True)):
        if payouts_send(payout_id, now=now).status != PayoutStatus.REQUESTED:
            done += 1
    return done


@money_operation
def payout_record(*, payout_id: int, ok: bool, provider_id: str = "", reason: str = "") -> Payout:
    """Record the provider's answer to a payout: paid, or failed with its money returned.

    Idempotent: a payout already paid or failed is returned as it is.
    """
    payout = _lock_payout(payout_id)
    if payout.status not in (PayoutStatus.REQUESTED, PayoutStatus.APPROVED):
        return payout
    if ok:
        payout.status = PayoutStatus.PAID
        payout.provider_id = provider_id
        payout.paid_at = timezone.now()
        payout.save(update_fields=["status", "provider_id", "paid_at", "updated_at"])
        log(payout, "bounties.payout.paid", data={"provider_id": provider_id})
        _stage_paid(payout)
    else:
        _reverse(payout, status=PayoutStatus.FAILED, reason=reason or "The payment provider refused it.")
        log(payout, "bounties.payout.fail", data={"reason": payout.failure_reason})
    return payout


def _stage_paid(payout: Payout):
    """What a sent payout tells, in the transaction that records it as paid (so once, like the
    status change it follows: a payout already paid is never recorded paid again):

    - the winner's private receipt (`payout_receipt`, key `payout:{pk}:paid`);
    - on each fund whose award money it pays, a public `PAID_OUT` timeline event with the amount
      (`payout_allocation`), on the accepted claim's timeline as well when a claim won it;
    - one public `payout_sent` announcement (key `payout:{pk}:sent`), naming the fund it draws
      most from (the older award on a tie). One post per payout, not per fund: the timeline
      carries the detail. A payout no award can be traced to (none in the ledger) is announced
      nowhere, since the message needs a fund to name.
    """
    announcing.stage(
        key=f"payout:{payout.pk}:paid",
        event="payout_receipt",
        user=payout.user_id,
        amount_cents=payout.amount_cents,
    )
    parts = payout_allocation(payout)
    # On the accepted claim's own timeline too, where a claim paid the award (one per fund).
    accepted = Claim.objects.filter(
        fund_id__in=[fund_id for fund_id, _ in parts], status=ClaimStatus.ACCEPTED
    )
    claim_of = {claim.fund_id: claim for claim in accepted}
    for fund_id, cents in parts:
        claims.record(
            fund_id,
            EventKind.PAID_OUT,
            claim=claim_of.get(fund_id),
            user=payout.user,
            at=payout.paid_at,
            amount_cents=cents,
            payout=payout.pk,
        )
    if parts:
        fund_id, cents = max(parts, key=lambda part: part[1])  # max keeps the first of equals
        announcing.stage(
            key=f"payout:{payout.pk}:sent",
            event="payout_sent",
            fund=fund_id,
            payout=payout.pk,
            amount_cents=cents,
        )


def payout_allocation(payout: Payout) -> list[tuple[int, int]]:
    """Which funds' award money a paid `payout` pays out: `[(fund id, cents), …]`, oldest award first.

    First in, first out: the winner's awards in the order they were credited, against their paid
    payouts in the order they were paid; this payout takes the next `amount_cents` after every
    payout paid before it. Only paid payouts count, because paid is final: a payout still
    requested may fail and return its money, so it has taken nothing from any award yet, and a
    paid one's share never moves afterwards. Paying two payouts of one winner at once would let
    both read the same "paid before", so the winner's payout account is locked first (after the
    payout row, in the module's lock order), and the second waits and reads the first's.
    Awarded money the ledger cannot trace (more paid out than awarded: never, while
    `ledger_check` passes) is left unallocated.

    Chosen over recording each payout on the fund of the winner's most recent award not yet
    fully paid: that is one fund per payout, so a payout that spans two awards would be shown
    whole on one fund and not at all on the other, and a fund's "paid out" entries would no
    longer add up to what its award has had paid. FIFO keeps each fund's entries summing to at
    most its award, and to all of it once the winner has been paid that much.
    """
    Account.objects.select_for_update().filter(kind=AccountKind.PAYOUT, user_id=payout.user_id).exists()
    paid_before = (
        Payout.objects.filter(user_id=payout.user_id, status=PayoutStatus.PAID)
        .exclude(pk=payout.pk)
        .aggregate(t=Sum("amount_cents"))["t"]
        or 0
    )
    awards = (
        Entry.objects.filter(
            account__kind=AccountKind.PAYOUT,
            account__user_id=payout.user_id,
            transfer__kind=TransferKind.AWARD,
            transfer__fund__isnull=False,
            amount__gt=0,
        )
        .order_by("transfer__created_at", "transfer_id", "pk")
        .values_list("transfer__fund_id", "amount")
    )
    start, end = paid_before, paid_before + payout.amount_cents
    parts: dict[int, int] = {}  # insertion-ordered: oldest award first
    awarded = 0
    for fund_id, cents in awards:
        taken = min(end, awarded + cents) - max(start, awarded)
        if taken > 0:
            parts[fund_id] = parts.get(fund_id, 0) + taken
        awarded += cents
        if awarded >= end:
            break
    return list(parts.items())


# --- Manual payouts (Finance staff) ---------------------------------------------------------------


def is_finance(user) -> bool:
    """Finance staff act on payouts: members of the Finance group, and superusers."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.groups.filter(name=FINANCE_GROUP).exists()


def _require_finance(staff):
    if not is_finance(staff):
        raise PayoutNotAllowed("Only Finance staff can approve, pay or fail payouts.")


def needs_two_approvals(payout: Payout) -> bool:
    """Above PAYOUT_DUAL_APPROVAL_CENTS a manual payout needs two different approvers."""
    return payout.amount_cents > settings.PAYOUT_DUAL_APPROVAL_CENTS


def _lock_manual(payout_id: int, staff, *, releases_money: bool = False) -> Payout:
    """Lock a manual payout that Finance `staff` may act on now, or refuse in words.

    `releases_money` for the actions that let money leave (approving, marking paid): those are
    refused to the payout's own winner whatever their role, or a Finance member could pay
    themselves with no second pair of eyes (below the threshold alone, above it as either
    approver). Marking one's own payout failed stays allowed: it only returns the money to
    their own payout balance.
    """
    _require_finance(staff)
    payout = _lock_payout(payout_id)
    if payout.method != MANUAL:
        raise PayoutNotAllowed("This payout is sent by Stripe; staff cannot approve or mark it.")
    if payout.status in (PayoutStatus.PAID, PayoutStatus.FAILED):
        raise PayoutNotAllowed(f"This payout is already {payout.status}.")
    if releases_money and payout.user_id == staff.pk:
        raise PayoutNotAllowed(
            "This is your own payout: another member of Finance must approve it and mark it paid."
        )
    return payout


@money_operation
def payout_approve(*, payout_id: int, staff) -> Payout:
    """Approve a manual payout. Above PAYOUT_DUAL_APPROVAL_CENTS it needs two approvals by two
    different Finance staff; the first sets `approved_by`, the second `second_approved_by`.
    Never by the payout's own winner."""
    payout = _lock_manual(payout_id, staff, releases_money=True)
    if payout.approved_by_id is None:
        payout.approved_by = staff
        payout.status = PayoutStatus.APPROVED
        payout.save(update_fields=["approved_by", "status", "updated_at"])
    elif not needs_two_approvals(payout) or payout.second_approved_by_id is not None:
        raise PayoutNotAllowed("This payout has all the approvals it needs: mark it paid.")
    elif payout.approved_by_id == staff.pk:
        raise PayoutNotAllowed(
            f"You approved this payout already; above {format_cents(settings.PAYOUT_DUAL_APPROVAL_CENTS)} "
            "a second, different member of Finance must approve it."
        )
    else:
        payout.second_approved_by = staff
        payout.save(update_fields=["second_approved_by", "updated_at"])
    log(payout, "bounties.payout.approve", user=staff)
    return payout


@money_operation
def payout_mark_paid(*, payout_id: int, staff, reference: str) -> Payout:
    """Record that Finance paid a manual payout (bank reference required). At or below the
    threshold one staff member may do it directly (recorded as its approver); above it, only
    after two different approvals. Never by the payout's own winner."""
    reference = (reference or "").strip()
    if not reference:
        raise PayoutNotAllowed("Give the bank or provider reference of the payment.")
    payout = _lock_manual(payout_id, staff, releases_money=True)
    if needs_two_approvals(payout):
        if payout.approved_by_id is None or payout.second_approved_by_id is None:
            raise PayoutNotAllowed(
                f"Payouts above {format_cents(settings.PAYOUT_DUAL_APPROVAL_CENTS)} need two approvals by "
                "different members of Finance before they are marked paid."
            )
    elif payout.approved_by_id is None:
        payout.approved_by = staff
    payout.status = PayoutStatus.PAID
    payout.reference = reference[:200]
    payout.paid_at = timezone.now()
    payout.save(update_fields=["approved_by", "status", "reference", "paid_at", "updated_at"])
    log(payout, "bounties.payout.paid", user=staff, data={"reference": payout.reference})
    _stage_paid(payout)
    return payout


@money_operation
def payout_fail(*, payout_id: int, staff, reason: str) -> Payout:
    """Mark a manual payout failed (reason required): its money returns to the payout balance."""
    reason = (reason or "").strip()
    if not reason:
        raise PayoutNotAllowed("Say why the payout failed: the winner is shown the reason.")
    payout = _lock_manual(payout_id, staff)
    _reverse(payout, status=PayoutStatus.FAILED, reason=reason)
    log(payout, "bounties.payout.fail", user=staff, data={"reason": payout.failure_reason})
    return payout


# --- Retrying a failed payout (Finance staff) -----------------------------------------------------


def payout_retry_key(payout: Payout) -> str:
    """The retry's payout key: one retry per failed payout, however often it is asked for."""
    return f"retry-payout:{payout.pk}"


def payout_retry_open(*, payout_id: int, staff) -> tuple[Payout, bool]:
    """Ask again, for the winner, for a failed payout's amount (back in their payout balance since it
    failed): a new payout keyed by the failed one; returns (payout, True if it already existed).

    Not a money operation: the inner step, run in the caller's transaction (`payout_retry`'s, or a
    Finance support action that writes its audit entry in the same one). The new payout goes by
    the site's method, like any request, and is recorded in the audit log as requested by `staff`.
    No hold check: the money passed it when it was first asked for, and a failure does not make
    award money younger. Refuses with PayoutNotAllowed (not Finance, or the payout has not
    failed), NotFound, PayoutAccountMissing or InsufficientPayout (the winner asked for the
    money again themselves meanwhile); either way nothing moves.
    """
    _require_finance(staff)
    failed = Payout.objects.select_related("user").filter(pk=payout_id).first()
    if failed is None:
        raise NotFound("There is no such payout.")
    if failed.status != PayoutStatus.FAILED:
        raise PayoutNotAllowed(
            f"This payout is {failed.get_status_display().lower()}: only a failed one is retried."
        )
    user, key, amount_cents = failed.user, payout_retry_key(failed), failed.amount_cents
    fp = fingerprint("payout-retry", failed.pk, amount_cents)
    with transaction.atomic():
        locked = _lock_accounts(user)
        if replay := _replay(user, key, fp):
            return replay.payout, True
        method = settings.PAYOUT_METHOD
        if method == STRIPE and not ConnectedAccount.objects.filter(user=user, payouts_enabled=True).exists():
            raise PayoutAccountMissing()
        payout_account = locked.get(AccountKind.PAYOUT)
        balance = payout_account.balance if payout_account else 0
        if amount_cents > balance:
            raise InsufficientPayout(
                f"{user.get_username()}'s payout balance is {format_cents(balance)}, less than the "
                f"{format_cents(amount_cents)} to retry: they may have asked for it again themselves.",
                balance_cents=balance,
            )
        transfer = transfer_post(
            kind=TransferKind.PAYOUT,
            key=f"payout:{user.pk}:{key}",
            legs=[(payout_account, -amount_cents), (locked[AccountKind.EXTERNAL], amount_cents)],
            memo="Payout requested again (the first one failed)",
            user=user,
        )
        payout = Payout.objects.create(
            user=user, amount_cents=amount_cents, method=method, key=key, fingerprint=fp, transfer=transfer
        )
        log(
            payout,
            "bounties.payout.request",
            user=staff,
            data={"amount_cents": amount_cents, "method": method, "retry_of": failed.pk},
        )
    if method == STRIPE:
        transaction.on_commit(lambda: _enqueue_send(payout.pk))
    return payout, False


@money_operation
def payout_retry(*, payout_id: int, staff) -> PayoutOutcome:
    """`payout_retry_open` as its own business action."""
    payout, replayed = payout_retry_open(payout_id=payout_id, staff=staff)
    return PayoutOutcome(payout=payout, replayed=replayed)
