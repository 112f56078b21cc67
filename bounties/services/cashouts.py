"""Cash-outs: wallet money back to the card(s) it came from.

A cash-out debits the wallet at once (transfer `cashout:{user}:{key}`, wallet to the outside
world) and splits the amount into refunds of the user's card payments, newest first, each
within what that payment has not already had refunded. Only then, after commit, are the
refunds sent to the gateway (`refunds_send`), each with the idempotency key
`refund:{refund.uuid}`, so a resend after a timeout or from the sweep can never refund twice.

Each answer is recorded once (`refund_record`): accepted, the refund is `succeeded`; refused or
failed, it is `failed`, a reversal transfer (`cashout-reversal:{refund.pk}`) puts its money
back in the wallet, and its owner is emailed a `refund_failed` receipt. A gateway that cannot be reached leaves the refund `pending` for the sweep
(`refunds_send_pending`). So at every moment the money is either in the wallet or on its way to
a card, and the ledger says which.

Lock order: (a caller's fund,) then the wallet and the external account by id, the order
`transfer_post` keeps; a refund row, then accounts.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from bounties.errors import IdempotencyMismatch, NotFound, NothingToRefund, PaymentUnavailable
from bounties.models import (
    Account,
    AccountKind,
    Cashout,
    Deposit,
    DepositStatus,
    Refund,
    RefundStatus,
    TransferKind,
    WebhookOutcome,
)
from bounties.money import check_amount, fingerprint, format_cents
from bounties.payments import get_gateway
from bounties.payments.refunds import failure_words
from bounties.services import announcing, money_operation
from bounties.services.ledger import external_account, transfer_post, wallet_for

logger = logging.getLogger("fundfill.payments")

# The sweep leaves a refund this long to the request that made it before sending it itself.
SWEEP_AFTER = timedelta(seconds=30)
# Stripe forgets an idempotency key after about 24 hours: an older refund is looked up before a resend.
KEY_MEMORY = timedelta(hours=23)
# The most one cash-out can ask for (the largest deposit: a wallet of card money holds no more per card).
MAX_CASHOUT_CENTS = 1_000_000_00


@dataclass(frozen=True)
class CashoutOutcome:
    """What `cashout_create` did: the cash-out (with its refunds), and whether the key was seen before."""

    cashout: Cashout
    replayed: bool = False

    @property
    def message(self) -> str:
        return cashout_message(self.cashout)


def _fingerprint(user, amount_cents, pledge=None) -> str:
    return fingerprint("cashout", user.pk, amount_cents, pledge.pk if pledge else "")


def _replay(user, key, fp) -> Cashout | None:
    found = Cashout.objects.filter(user=user, key=key).first()
    if found is not None and found.fingerprint != fp:
        raise IdempotencyMismatch("This request key was already used for a different cash-out.")
    return found


def _lock_wallet(user):
    """Row-lock the wallet and the external account in id order (the order `transfer_post` writes them).

    The wallet lock is what serialises one user's cash-outs, so two of them never split the
    same card payment's refundable amount between them.
    """
    wallet_for(user)  # both exist before they are locked
    external_account()
    accounts = Account.objects.select_for_update().filter(
        Q(kind=AccountKind.WALLET, user=user) | Q(kind=AccountKind.EXTERNAL)
    )
    list(accounts.order_by("pk"))


def refundable_deposits(user) -> list[tuple[Deposit, int]]:
    """The user's card payments that can still be refunded, newest first, with how much of each can."""
    deposits = list(
        Deposit.objects.filter(user=user, status=DepositStatus.SUCCEEDED)
        .exclude(payment_reference="")
        .order_by("-created_at", "-pk")
    )
    refunded = dict(
        Refund.objects.filter(deposit__in=deposits)
        .exclude(status=RefundStatus.FAILED)
        .values_list("deposit")
        .annotate(total=Sum("amount_cents"))
    )
    left = [(deposit, deposit.amount_cents - refunded.get(deposit.pk, 0)) for deposit in deposits]
    return [(deposit, cents) for deposit, cents in left if cents > 0]


def cashout_open(*, user, amount_cents: int, key: str, pledge=None) -> Cashout:
    """Debit the wallet and split `amount_cents` into pending refunds of the user's card payments.

    Not a money operation: the inner step, run in the caller's transaction (`cashout_create`'s,
    or a settlement sending a pledge back to the card). Once per (user, key): the same key for
    the same amount returns the first cash-out; for another, IdempotencyMismatch. Refuses with
    InsufficientFunds when the wallet holds less, and NothingToRefund when the card payments can
    refund less; either way nothing moves (its own savepoint rolls back). Sends nothing: the
    caller calls `refunds_send` after commit (or the sweep does).
    """
    fp = _fingerprint(user, amount_cents, pledge)
    with transaction.atomic():
        _lock_wallet(user)
        if found := _replay(user, key, fp):
            return found
        transfer = transfer_post(
            kind=TransferKind.CASHOUT,
            key=f"cashout:{user.pk}:{key}",
            legs=[(wallet_for(user), -amount_cents), (external_account(), amount_cents)],
            memo="Sent back to your card",
            user=user,
        )
        announcing.stage(
            key=f"cashout:{user.pk}:{key}:receipt", event="cashout", user=user.pk, amount_cents=amount_cents
        )
        split, left = [], amount_cents
        for deposit, refundable in refundable_deposits(user):
            if left == 0:
                break
            part = min(left, refundable)
            split.append((deposit, part))
            left -= part
        if left:
            can = amount_cents - left
            raise NothingToRefund(
                "Only money added by card can go back to a card: "
                + (
                    f"{format_cents(can)} of your wallet can go back to your card now."
                    if can
                    else "none of your wallet can go back to a card now."
                ),
                refundable_cents=can,
            )
        cashout = Cashout.objects.create(
            user=user, amount_cents=amount_cents, key=key, fingerprint=fp, transfer=transfer, pledge=pledge
        )
        Refund.objects.bulk_create(
            Refund(cashout=cashout, deposit=deposit, amount_cents=part) for deposit, part in split
        )
    return cashout


def cashout_create(*, user, amount_cents: int, key: str) -> CashoutOutcome:
    """Send `amount_cents` of the wallet back to the card(s) it came from, once per key.

    The door for the wallet form and the API. Call `refunds_send(outcome.cashout.pk)` after
    this returns (outside any transaction) to send the refunds; a replay's refunds that are
    still pending are sent again safely.
    """
    check_amount(amount_cents, minimum=1, maximum=MAX_CASHOUT_CENTS)
    fp = _fingerprint(user, amount_cents)
    if found := _replay(user, key, fp):
        return CashoutOutcome(cashout=found, replayed=True)
    try:
        return _cashout_create(user=user, amount_cents=amount_cents, key=key, fp=fp)
    except IntegrityError:
        # A request with the same key committed first: this one rolled back whole.
        if found := _replay(user, key, fp):
            return CashoutOutcome(cashout=found, replayed=True)
        raise


@money_operation
def _cashout_create(*, user, amount_cents, key, fp) -> CashoutOutcome:
    replayed = _replay(user, key, fp) is not None
    cashout = cashout_open(user=user, amount_cents=amount_cents, key=key)
    return CashoutOutcome(cashout=cashout, replayed=replayed)


# --- Sending the refunds -----------------------------------------------------------------------


def _require_no_transaction():
    """The gateway's network call must not hold a transaction (nor run before its rows commit)."""
    try:
        with transaction.atomic(durable=True):  # refuses at once inside another unit of work
            pass
    except RuntimeError:
        raise RuntimeError("Refunds are sent after the cash-out commits, outside any transaction.") from None


def _send(refund: Refund) -> Refund:
    """Ask the deposit's gateway for one refund and record its answer; unreachable leaves it pending.

    A refund older than the provider's memory of its key is looked up first (by the key we sent
    it with): sending it again could otherwise refund the card twice.
    """
    gateway, key = get_gateway(refund.deposit.gateway), f"refund:{refund.uuid}"
    try:
        result = None
        if refund.created_at < timezone.now() - KEY_MEMORY:
            result = gateway.find_refund(refund.deposit, key=key)
        if result is None:
            result = gateway.refund(refund.deposit, refund.amount_cents, key=key)
    except PaymentUnavailable:
        logger.warning("refund %s not sent (gateway unavailable): left pending for the sweep", refund.pk)
        return refund
    return refund_record(refund.pk, ok=result.ok, provider_id=result.provider_id, reason=result.reason)


def refunds_send(cashout_id: int) -> list[Refund]:
    """Send every pending refund of the cash-out; returns its refunds as they stand after.

    Called by the door after commit and safe to call again: each refund is keyed by its own
    uuid at the provider, and recorded once.
    """
    _require_no_transaction()
    pending = Refund.objects.filter(cashout_id=cashout_id, status=RefundStatus.PENDING).select_related(
        "deposit"
    )
    for refund in pending.order_by("pk"):
        _send(refund)
    return list(Refund.objects.filter(cashout_id=cashout_id).select_related("deposit").order_by("pk"))


def refunds_send_pending() -> int:
    """The scheduled sweep: send every refund pending for more than SWEEP_AFTER (left by a gateway
    that could not be reached, or a request that ended before sending). Returns how many are no
    longer pending."""
    _require_no_transaction()
    stale = Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=timezone.now() - SWEEP_AFTER)
    done = 0
    for refund in stale.select_related("deposit").order_by("pk"):
        if _send(refund).status != RefundStatus.PENDING:
            done += 1
    return done


@money_operation
def refund_record(refund_id: int, *, ok: bool, provider_id: str = "", reason: str = "") -> Refund:
    """Record the provider's answer to one refund, once.

    Accepted: `succeeded`. Refused or failed: `failed`, with the reason, and a reversal transfer
    puts the money back in the wallet. A refund Stripe accepted can still fail later (a closed
    card: `refund_event`), so a succeeded refund may yet be recorded failed; a failed one never
    changes, and recording the same answer twice changes nothing.
    """
    return _refund_record(refund_id, ok=ok, provider_id=provider_id, reason=reason)


def _refund_record(refund_id: int, *, ok: bool, provider_id: str = "", reason: str = "") -> Refund:
    """`refund_record` inside a money operation that already holds the transaction (the webhook's)."""
    refund = Refund.objects.select_for_update(of=("self",)).select_related("cashout__user").get(pk=refund_id)
    if refund.status == RefundStatus.FAILED or (ok and refund.status == RefundStatus.SUCCEEDED):
        return refund
    refund.provider_id = provider_id or refund.provider_id
    if ok:
        refund.status = RefundStatus.SUCCEEDED
        refund.save(update_fields=["status", "provider_id", "updated_at"])
        return refund
    user = refund.cashout.user
    refund.reversal_transfer = transfer_post(
        kind=TransferKind.CASHOUT_REVERSAL,
        key=f"cashout-reversal:{refund.pk}",
        legs=[(external_account(), -refund.amount_cents), (wallet_for(user), refund.amount_cents)],
        memo="Card refund failed: returned to your wallet",
        user=user,
    )
    refund.status = RefundStatus.FAILED
    refund.failure_reason = (reason or "the card's bank did not accept it")[:300]
    refund.save(update_fields=["status", "provider_id", "failure_reason", "reversal_transfer", "updated_at"])
    # The backer is told by email, like a receipt (private, never switched off), in the transaction
    # that returns the money: whether the refund came from a cash-out or from settling a pledge
    # "back to my card", this is where it is recorded failed, and only once (a failed refund
    # never changes; the key dedupes the row besides).
    announcing.stage(
        key=f"refund:{refund.pk}:failed",
        event="refund_failed",
        user=user.pk,
        refund=refund.pk,
        amount_cents=refund.amount_cents,
        reason=refund.failure_reason,
    )
    return refund


def _refund_named_by(obj) -> Refund | None:
    """Our refund that a provider's refund object is about: by its id, else by the key we sent it
    with (its answer may have been lost, so the id never reached us)."""
    provider_id = obj.get("id")
    if isinstance(provider_id, str) and provider_id:
        if found := Refund.objects.filter(provider_id=provider_id).first():
            return found
    metadata = obj.get("metadata")
    key = metadata.get("refund_key") if isinstance(metadata, dict) else None
    if not isinstance(key, str) or not key.startswith("refund:"):
        return None
    try:
        return Refund.objects.filter(uuid=uuid.UUID(key.removeprefix("refund:"))).first()
    except ValueError:
        return None


def refund_event(event_id: str, obj) -> tuple[str, str]:
    """A signed provider event about a refund (`refund.failed`, `refund.updated`,
    `charge.refund.updated`), applied in the webhook's transaction. Returns (WebhookOutcome, note).

    Only a failure is acted on (a refund to a closed card fails days later): the refund is
    recorded failed and its money returned to the wallet. The event names the refund and says it
    failed; the amount returned is our refund's own, never the event's.
    """
    if obj.get("object") != "refund":
        return WebhookOutcome.UNUSABLE, "data.object is not a refund"
    refund = _refund_named_by(obj)
    if refund is None:
        return WebhookOutcome.IGNORED, "names no refund of ours"
    status = obj.get("status")
    if status not in ("failed", "canceled"):
        return WebhookOutcome.IGNORED, f"refund {refund.pk} is {ascii(status)[:24]} at the provider"
    if refund.status == RefundStatus.FAILED:
        return WebhookOutcome.IGNORED, f"refund {refund.pk} is already failed"
    code = obj.get("failure_reason")
    provider_id = obj.get("id") if isinstance(obj.get("id"), str) else ""
    _refund_record(
        refund.pk,
        ok=False,
        provider_id=provider_id[:255],
        reason=failure_words(code if isinstance(code, str) else None),
    )
    return WebhookOutcome.APPLIED, f"refund {refund.pk} failed: {refund.amount_cents} returned to the wallet"


# --- In words ----------------------------------------------------------------------------------


def _paid_with(deposit: Deposit) -> str:
    day = timezone.localtime(deposit.created_at)
    return f"the card you added {format_cents(deposit.amount_cents)} with on {day:%B} {day.day}, {day.year}"


def refund_message(refund: Refund) -> str:
    """What became of one refund, in words for its owner."""
    amount = format_cents(refund.amount_cents)
    if refund.status == RefundStatus.FAILED:
        reason = refund.failure_reason or "the card's bank did not accept it"
        return f"Your card refund of {amount} failed ({reason}); the money is back in your wallet."
    if refund.status == RefundStatus.SUCCEEDED:
        return f"{amount} was sent back to {_paid_with(refund.deposit)}; banks take 5–10 days to show it."
    return f"{amount} is on its way back to {_paid_with(refund.deposit)}."


def cashout_message(cashout: Cashout) -> str:
    """What became of a cash-out, refund by refund."""
    return " ".join(
        refund_message(refund) for refund in cashout.refunds.select_related("deposit").order_by("pk")
    )


# --- Retrying a failed refund (Finance staff) --------------------------------------------------


def refund_retry_key(refund: Refund) -> str:
    """The retry's cash-out key: one retry per failed refund, however often it is asked for."""
    return f"retry-refund:{refund.pk}"


def refund_retry_open(*, refund_id: int) -> tuple[Cashout, bool]:
    """Send a failed refund's money (back in the wallet since it failed) to the user's other card
    payments, as a new cash-out keyed by the refund; returns (cash-out, True if it already existed).

    Not a money operation: the inner step, run in the caller's transaction (`refund_retry`'s, or a
    Finance support action that writes its audit entry in the same one). The card that refused
    is skipped: a refund fails for good (a closed or expired card), and sending it there again
    would fail again. Refuses with NotFound, NothingToRefund (the refund has not failed, or no
    other card payment can take it) or InsufficientFunds (the wallet spent it meanwhile); either
    way nothing moves. Sends nothing: the caller calls `refunds_send` after commit.
    """
    refund = Refund.objects.select_related("cashout__user").filter(pk=refund_id).first()
    if refund is None:
        raise NotFound("There is no such refund.")
    if refund.status != RefundStatus.FAILED:
        raise NothingToRefund("This refund has not failed: there is nothing to retry.")
    user, key, amount_cents = refund.cashout.user, refund_retry_key(refund), refund.amount_cents
    fp = fingerprint("cashout-retry", refund.pk, amount_cents)
    with transaction.atomic():
        _lock_wallet(user)
        if found := _replay(user, key, fp):
            return found, True
        transfer = transfer_post(
            kind=TransferKind.CASHOUT,
            key=f"cashout:{user.pk}:{key}",
            legs=[(wallet_for(user), -amount_cents), (external_account(), amount_cents)],
            memo="Sent back to your card (a failed refund, sent again)",
            user=user,
        )
        split, left = [], amount_cents
        for deposit, refundable in refundable_deposits(user):
            if left == 0:
                break
            if deposit.pk == refund.deposit_id:
                continue
            part = min(left, refundable)
            split.append((deposit, part))
            left -= part
        if left:
            raise NothingToRefund(
                f"No other card payment of {user.get_username()} can take {format_cents(left)} of this "
                "refund: the money stays in their wallet. Contact them to agree another way.",
                refundable_cents=amount_cents - left,
            )
        cashout = Cashout.objects.create(
            user=user, amount_cents=amount_cents, key=key, fingerprint=fp, transfer=transfer
        )
        Refund.objects.bulk_create(
            Refund(cashout=cashout, deposit=deposit, amount_cents=part) for deposit, part in split
        )
        announcing.stage(
            key=f"cashout:{user.pk}:{key}:receipt", event="cashout", user=user.pk, amount_cents=amount_cents
        )
    return cashout, False


@money_operation
def refund_retry(*, refund_id: int) -> CashoutOutcome:
    """`refund_retry_open` as its own business action; call `refunds_send(outcome.cashout.pk)` after."""
    cashout, replayed = refund_retry_open(refund_id=refund_id)
    return CashoutOutcome(cashout=cashout, replayed=replayed)
