"""Adding money to wallets: deposits and the payment provider's webhook events.

The gateway's network call happens outside any transaction; the credit happens
only here, when a signed event says the payment succeeded, keyed by the deposit
(`deposit:{id}`), so duplicate or reordered events credit once.
"""

import logging

from django.db import IntegrityError, transaction

from bounties.errors import IdempotencyMismatch
from bounties.models import Deposit, DepositStatus, Pledge, PledgeStatus, TransferKind, WebhookEvent
from bounties.money import check_amount, fingerprint
from bounties.services import money_operation
from bounties.services.ledger import external_account, transfer_post, wallet_for
from bounties.services.pledging import _lock_fund, complete_pending_pledge

logger = logging.getLogger("fundfill.payments")

MAX_DEPOSIT_CENTS = 1_000_000_00


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


@money_operation
def webhook_apply(*, event_id: str, event_type: str, payload: dict) -> bool:
    """Apply one verified provider event exactly once. Returns False for a replay.

    The event id is stored in the same transaction as its effect: a crash rolls
    both back, so the provider's redelivery succeeds (never "seen but not applied").
    """
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(event_id=event_id, type=event_type, payload=payload)
    except IntegrityError:
        return False
    handler = HANDLERS.get(event_type)
    if handler is not None:
        handler(payload["data"]["object"])
    return True


def _deposit_for(obj) -> Deposit | None:
    reference = (obj.get("metadata") or {}).get("deposit") or obj.get("client_reference_id")
    if not reference:
        return None
    try:
        return Deposit.objects.select_related("user").get(uuid=reference)
    except (Deposit.DoesNotExist, ValueError):
        logger.warning("webhook for unknown deposit %s", reference)
        return None


def _payment_succeeded(obj):
    if obj.get("object") == "checkout.session" and obj.get("payment_status") != "paid":
        return  # e.g. a delayed payment method: wait for async_payment_succeeded
    deposit = _deposit_for(obj)
    if deposit is None:
        return
    if deposit.pledge_id:
        # Lock order: the pledge's fund before any account.
        _lock_fund(Pledge.objects.values_list("fund_id", flat=True).get(pk=deposit.pledge_id))
    # Lock the deposit row only (`of`): FOR UPDATE on the joined user row would block the
    # foreign-key checks of the same user's concurrent pledges and deadlock with them.
    deposit = Deposit.objects.select_for_update(of=("self",)).select_related("user").get(pk=deposit.pk)
    if deposit.status == DepositStatus.SUCCEEDED:
        return  # another event for the same payment already credited it
    amount = int(obj.get("amount_total") or obj.get("amount_received") or obj.get("amount") or 0)
    if amount != deposit.amount_cents:
        logger.warning(
            "deposit %s: provider says %s, we asked %s; crediting what was paid",
            deposit.pk,
            amount,
            deposit.amount_cents,
        )
    if amount <= 0:
        return
    deposit.transfer = transfer_post(
        kind=TransferKind.DEPOSIT,
        key=f"deposit:{deposit.pk}",
        legs=[(external_account(), -amount), (wallet_for(deposit.user), amount)],
        memo="Money added by card",
        user=deposit.user,
    )
    deposit.status = DepositStatus.SUCCEEDED
    deposit.amount_cents = amount
    deposit.save(update_fields=["transfer", "status", "amount_cents", "updated_at"])
    if deposit.pledge_id:
        complete_pending_pledge(deposit.pledge_id)


def _payment_failed(obj):
    deposit = _deposit_for(obj)
    if deposit is None:
        return
    reason = ((obj.get("last_payment_error") or {}).get("message")) or "The payment did not go through."
    # Only a pending deposit can be declined: a late failure never undoes a success.
    Deposit.objects.filter(pk=deposit.pk, status=DepositStatus.PENDING).update(
        status=DepositStatus.DECLINED, decline_reason=reason[:300]
    )
    if deposit.pledge_id:
        Pledge.objects.filter(pk=deposit.pledge_id, status=PledgeStatus.PENDING_FUNDS).update(
            status=PledgeStatus.CANCELLED, note=f"{reason} No money moved."
        )


HANDLERS = {
    "checkout.session.completed": _payment_succeeded,
    "checkout.session.async_payment_succeeded": _payment_succeeded,
    "payment_intent.succeeded": _payment_succeeded,
    "checkout.session.async_payment_failed": _payment_failed,
    "payment_intent.payment_failed": _payment_failed,
}
