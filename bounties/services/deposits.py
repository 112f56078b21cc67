"""Adding money to wallets: deposits and the payment provider's webhook events.

`deposit_start` is the one way a payer starts adding money (the add-money form and the
API both call it). The gateway's network call happens outside any transaction; the
credit happens only here, when a signed event says the payment succeeded, keyed by the
deposit (`deposit:{id}`), so duplicate or reordered events credit once.

A signature proves who sent an event, not that it is right: the credit is the
deposit's own amount, in the site's currency, and only from `pending`. An event
that disagrees (another amount or currency, a paid event for a declined or expired
deposit) credits nothing; it flags the deposit for staff and is answered 2xx.
"""

import logging
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bounties.errors import CardDeclined, CheckoutExpired, IdempotencyMismatch
from bounties.models import (
    Deposit,
    DepositStatus,
    Pledge,
    PledgeStatus,
    TransferKind,
    WebhookEvent,
    WebhookOutcome,
)
from bounties.money import check_amount, fingerprint
from bounties.payments import get_gateway
from bounties.services import announcing, money_operation
from bounties.services.cashouts import refund_event
from bounties.services.ledger import external_account, transfer_post, wallet_for
from bounties.services.pledging import _pledge_complete, lock_fund

logger = logging.getLogger("fundfill.payments")
security_log = logging.getLogger("fundfill.security")

MAX_DEPOSIT_CENTS = 1_000_000_00
# A Stripe object id (`pi_3Nx…`); Deposit.payment_reference holds 255 characters.
PAYMENT_REFERENCE = re.compile(r"[A-Za-z0-9_]{1,255}")


def _fingerprint(user, amount_cents, gateway) -> str:
    return fingerprint("deposit", user.pk, amount_cents, gateway)


@money_operation
def deposit_create(*, user, amount_cents: int, gateway: str, key: str | None = None) -> Deposit:
    """A pending deposit; with a `key` (unique per user), see `deposit_create_once`."""
    check_amount(amount_cents, maximum=MAX_DEPOSIT_CENTS)
    fp = _fingerprint(user, amount_cents, gateway) if key else ""
    return Deposit.objects.create(
        user=user, amount_cents=amount_cents, gateway=gateway, key=key, fingerprint=fp
    )


def _deposit_replay(user, key, fp) -> Deposit | None:
    found = Deposit.objects.filter(user=user, key=key).first()
    if found is not None and found.fingerprint != fp:
        raise IdempotencyMismatch("This request key was already used for a different deposit.")
    return found


def deposit_create_once(*, user, amount_cents: int, gateway: str, key: str) -> tuple[Deposit, bool]:
    """`deposit_create`, once per (user, key): a retry gets the first deposit back, with True.

    The caller then answers from what became of it (credited, declined, or still waiting
    for its payment) instead of opening a second payment for one intent.
    """
    check_amount(amount_cents, maximum=MAX_DEPOSIT_CENTS)
    fp = _fingerprint(user, amount_cents, gateway)
    if (found := _deposit_replay(user, key, fp)) is not None:
        return found, True
    try:
        return deposit_create(user=user, amount_cents=amount_cents, gateway=gateway, key=key), False
    except IntegrityError:  # the same key committed concurrently: answer with that deposit
        if (found := _deposit_replay(user, key, fp)) is not None:
            return found, True
        raise


def deposit_attach_checkout(deposit: Deposit, *, provider_id: str, checkout_url: str = ""):
    """Record the provider's checkout id (a plain update: no money moves)."""
    Deposit.objects.filter(pk=deposit.pk, provider_id__isnull=True).update(
        provider_id=provider_id, checkout_url=checkout_url
    )
    deposit.refresh_from_db()


def deposit_checkout(deposit: Deposit, *, success_url: str, cancel_url: str) -> Deposit:
    """Open the provider's checkout for a pending deposit and record it.

    The network call runs outside any transaction (PaymentUnavailable if the provider does
    not answer: the deposit stays pending, nothing charged). Stripe's checkout is keyed by
    the deposit, so calling this again finds the same session.
    """
    checkout = get_gateway(deposit.gateway).start_checkout(
        deposit, success_url=success_url, cancel_url=cancel_url
    )
    deposit_attach_checkout(deposit, provider_id=checkout.provider_id, checkout_url=checkout.url)
    return deposit


@dataclass(frozen=True)
class DepositOutcome:
    """What `deposit_start` did: the deposit as it stands now, and whether the key was seen before.

    `deposit.status` is `succeeded` when the money is in the wallet (a test card charged at
    once, or a replay of a paid deposit); `pending` with a `checkout_url` when the payer is
    to be sent to the gateway's checkout page.
    """

    deposit: Deposit
    replayed: bool = False


def deposit_start(
    *,
    user,
    amount_cents: int,
    key: str | None = None,
    card: str | None = None,
    success_url: str,
    cancel_url: str,
) -> DepositOutcome:
    """Start adding `amount_cents` to the user's wallet through the site's gateway, once per `key`.

    A replay of a key answers from its deposit: paid (the outcome, `replayed`), declined
    (CardDeclined again, no second attempt), expired (CheckoutExpired: its checkout is dead
    and the key cannot open another, so the payer starts again with a new key), or still
    pending (its payment is started again, which is safe: the checkout and the charge are
    keyed by the deposit and the credit happens once).

    With a gateway that `takes_test_cards` and a `card`, the card is charged now; otherwise
    the deposit gets a checkout page (`checkout_url`, reused once opened). Not a money
    operation itself: the gateway's network call must not run inside a transaction, so the
    deposit row is written by `deposit_create` first.
    """
    gateway = get_gateway()
    if key is None:
        deposit, replayed = deposit_create(user=user, amount_cents=amount_cents, gateway=gateway.name), False
    else:
        deposit, replayed = deposit_create_once(
            user=user, amount_cents=amount_cents, gateway=gateway.name, key=key
        )
    if deposit.status == DepositStatus.SUCCEEDED:
        return DepositOutcome(deposit=deposit, replayed=replayed)
    if deposit.status == DepositStatus.DECLINED:
        raise CardDeclined(deposit.decline_reason or None, deposit_id=deposit.pk)
    if deposit.status == DepositStatus.EXPIRED:
        raise CheckoutExpired(deposit_id=deposit.pk)
    if gateway.takes_test_cards and card is not None:
        gateway.pay(deposit, card)  # CardDeclined (recorded, naming the deposit) or InvalidCard
        deposit.refresh_from_db()
    elif not deposit.checkout_url:
        deposit_checkout(deposit, success_url=success_url, cancel_url=cancel_url)
    return DepositOutcome(deposit=deposit, replayed=replayed)


@money_operation
def webhook_apply(*, event_id: str, event_type, payload: dict) -> bool:
    """Apply one verified provider event exactly once. Returns False for a replay.

    The event id is stored in the same transaction as its effect: a crash rolls
    both back, so the provider's redelivery succeeds (never "seen but not applied").
    The row also records what the event did, including nothing (`WebhookOutcome`).
    """
    payload = _storable(payload)
    event_type = _storable(event_type) if isinstance(event_type, str) else ""
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(event_id=event_id, type=event_type[:100], payload=payload)
    except IntegrityError:
        return False
    outcome, note = _dispatch(event_id, event_type, payload)
    if outcome == WebhookOutcome.UNUSABLE:
        logger.warning("webhook %s (%r) unusable: %s", event_id, event_type[:100], note)
    WebhookEvent.objects.filter(pk=row.pk).update(outcome=outcome, note=note[:300])
    return True


def _storable(value):
    """The payload with any NUL replaced: PostgreSQL keeps none in text or jsonb."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def _dispatch(event_id: str, event_type: str, payload: dict) -> tuple[str, str]:
    handler = HANDLERS.get(event_type)
    if handler is None:
        return WebhookOutcome.IGNORED, "not an event type we act on"
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return WebhookOutcome.UNUSABLE, "data.object is missing or not an object"
    return handler(event_id, obj)


def _deposit_for(obj) -> tuple[Deposit | None, tuple[str, str] | None]:
    """The deposit the object names, or None and the outcome saying why there is none."""
    metadata = obj.get("metadata")
    reference = (metadata.get("deposit") if isinstance(metadata, dict) else None) or obj.get(
        "client_reference_id"
    )
    if not reference:
        return None, (WebhookOutcome.IGNORED, "names no deposit")
    try:
        reference = uuid.UUID(reference)
    except (AttributeError, TypeError, ValueError):
        return None, (WebhookOutcome.UNUSABLE, f"deposit reference {ascii(reference)[:60]} is not a UUID")
    deposit = Deposit.objects.select_related("user").filter(uuid=reference).first()
    if deposit is None:
        logger.warning("webhook for unknown deposit %s", reference)
        return None, (WebhookOutcome.IGNORED, f"no deposit {reference}")
    return deposit, None


def _paid(obj) -> tuple[object, object]:
    """The amount and currency the object says were paid (unchecked: they are the provider's word)."""
    field = {"checkout.session": "amount_total", "payment_intent": "amount_received"}.get(obj.get("object"))
    if field is None:
        field = next((f for f in ("amount_total", "amount_received", "amount") if f in obj), "amount")
    return obj.get(field), obj.get("currency")


def _payment_reference(obj) -> str:
    """The provider's payment (PaymentIntent) id the object names, or "" when it names no usable one."""
    reference = obj.get("id") if obj.get("object") == "payment_intent" else obj.get("payment_intent")
    if isinstance(reference, dict):  # an expanded PaymentIntent
        reference = reference.get("id")
    if not isinstance(reference, str) or not PAYMENT_REFERENCE.fullmatch(reference):
        return ""
    return reference


def _disagreement(obj, deposit: Deposit) -> str | None:
    amount, currency = _paid(obj)
    currency_ok = isinstance(currency, str) and currency == settings.FUNDFILL_CURRENCY.lower()
    # `type is int`: JSON's true, 500.0 or "500" are not an amount of cents.
    if type(amount) is int and amount == deposit.amount_cents and currency_ok:
        return None
    return (
        f"says {ascii(amount)[:24]} {ascii(currency)[:12]} was paid, but the deposit is for "
        f"{deposit.amount_cents} {settings.FUNDFILL_CURRENCY.lower()}"
    )


def _flag(deposit: Deposit, event_id: str, problem: str) -> tuple[str, str]:
    """Credit nothing; mark the deposit for staff, and say so on the security log."""
    note = f"{problem}; not credited"
    Deposit.objects.filter(pk=deposit.pk).update(
        needs_review=True, review_note=f"{event_id}: {note}"[:300], updated_at=timezone.now()
    )
    security_log.warning("webhook %s for deposit %s flagged for review: %s", event_id, deposit.pk, note)
    return WebhookOutcome.FLAGGED, note


def _leave_pending(deposit: Deposit, status: str, **fields) -> bool:
    """The deposit state machine's only move: pending to a final state, at most once."""
    moved = Deposit.objects.filter(pk=deposit.pk, status=DepositStatus.PENDING).update(
        status=status, updated_at=timezone.now(), **fields
    )
    return moved == 1


def _payment_succeeded(event_id: str, obj) -> tuple[str, str]:
    if obj.get("object") == "checkout.session" and obj.get("payment_status") != "paid":
        # e.g. a delayed payment method: wait for async_payment_succeeded
        return WebhookOutcome.IGNORED, "checkout completed but not paid yet"
    deposit, refusal = _deposit_for(obj)
    if deposit is None:
        return refusal
    if deposit.pledge_id:
        # Lock order: the pledge's fund before any account.
        lock_fund(Pledge.objects.values_list("fund_id", flat=True).get(pk=deposit.pledge_id))
    # Lock the deposit row only (`of`): FOR UPDATE on the joined user row would block the
    # foreign-key checks of the same user's concurrent pledges and deadlock with them.
    deposit = Deposit.objects.select_for_update(of=("self",)).select_related("user").get(pk=deposit.pk)
    problem = _disagreement(obj, deposit)
    if deposit.status == DepositStatus.SUCCEEDED:
        if problem:
            return _flag(deposit, event_id, f"a credited deposit: the event {problem}")
        return WebhookOutcome.IGNORED, "already credited"  # another event for the same payment
    if deposit.status != DepositStatus.PENDING:
        return _flag(deposit, event_id, f"a paid event for a {deposit.status} deposit")
    if problem:
        return _flag(deposit, event_id, f"the event {problem}")
    # The credit is the deposit's own amount: the event only confirmed it.
    transfer = transfer_post(
        kind=TransferKind.DEPOSIT,
        key=f"deposit:{deposit.pk}",
        legs=[(external_account(), -deposit.amount_cents), (wallet_for(deposit.user), deposit.amount_cents)],
        memo="Money added by card",
        user=deposit.user,
    )
    # Only the payment's id is taken from the event (what a cash-out refunds), never an amount.
    reference = _payment_reference(obj)
    if not _leave_pending(deposit, DepositStatus.SUCCEEDED, transfer=transfer, payment_reference=reference):
        raise RuntimeError(f"deposit {deposit.pk} left pending under its lock")  # rolls the credit back
    announcing.stage(
        key=f"deposit:{deposit.pk}:received",
        event="deposit_received",
        user=deposit.user_id,
        amount_cents=deposit.amount_cents,
    )
    if deposit.pledge_id:
        _pledge_complete(deposit.pledge_id)  # in this transaction: the money never waits stranded
    return WebhookOutcome.APPLIED, f"credited {deposit.amount_cents} to the wallet"


def _payment_ended(event_id: str, obj, *, status: str, reason: str) -> tuple[str, str]:
    deposit, refusal = _deposit_for(obj)
    if deposit is None:
        return refusal
    # Only a pending deposit ends: a late failure or expiry never undoes a success.
    if not _leave_pending(deposit, status, decline_reason=reason[:300]):
        current = Deposit.objects.values_list("status", flat=True).get(pk=deposit.pk)
        return WebhookOutcome.IGNORED, f"deposit is already {current}"
    if deposit.pledge_id:
        Pledge.objects.filter(pk=deposit.pledge_id, status=PledgeStatus.PENDING_FUNDS).update(
            status=PledgeStatus.CANCELLED, note=f"{reason} No money moved."
        )
    return WebhookOutcome.APPLIED, f"deposit {status}"


def _payment_failed(event_id: str, obj) -> tuple[str, str]:
    error = obj.get("last_payment_error")
    message = error.get("message") if isinstance(error, dict) else None
    reason = message if isinstance(message, str) and message else "The payment did not go through."
    return _payment_ended(event_id, obj, status=DepositStatus.DECLINED, reason=reason)


def _checkout_expired(event_id: str, obj) -> tuple[str, str]:
    reason = "The card checkout expired before it was paid."
    return _payment_ended(event_id, obj, status=DepositStatus.EXPIRED, reason=reason)


# Each handler takes (event id, data.object as a dict) and returns (WebhookOutcome, note).
HANDLERS = {
    "checkout.session.completed": _payment_succeeded,
    "checkout.session.async_payment_succeeded": _payment_succeeded,
    "payment_intent.succeeded": _payment_succeeded,
    "checkout.session.async_payment_failed": _payment_failed,
    "payment_intent.payment_failed": _payment_failed,
    "checkout.session.expired": _checkout_expired,
    # A card refund (a cash-out) that failed after it was accepted: its money back to the wallet.
    "refund.failed": refund_event,
    "refund.updated": refund_event,
    "charge.refund.updated": refund_event,
}
