"""Money for tests, the way production gets it: signed provider events through the real webhook code.

- `checkout_event` / `failed_event` build a Stripe-shaped `checkout.session.*` event
  (the shape `bounties.payments.local_gateway` emits);
- `sign` and `deliver` sign it with the real `stripe.WebhookSignature` scheme and feed it
  to `webhooks.receive`, so the real signature check and credit path run;
- `top_up` is the one way a test puts money in a wallet: a deposit, then its signed
  success event; `back` tops up and pledges it to a fund.
"""

import json
import time
import uuid

import stripe

from bounties.payments import webhook_secret
from bounties.payments.webhooks import receive
from bounties.services.deposits import deposit_create
from bounties.services.pledging import pledge_create


def checkout_event(
    deposit,
    *,
    event_type="checkout.session.completed",
    event_id=None,
    amount_cents=None,
    decline_message=None,
) -> dict:
    """A `checkout.session.*` event for `deposit`, as the local gateway (and Stripe) builds it."""
    session = {
        "id": deposit.provider_id or f"cs_test_{deposit.uuid.hex}",
        "object": "checkout.session",
        "amount_total": deposit.amount_cents if amount_cents is None else amount_cents,
        "currency": "usd",
        "client_reference_id": str(deposit.uuid),
        "metadata": {"deposit": str(deposit.uuid)},
        "payment_status": "unpaid" if decline_message else "paid",
    }
    if decline_message:
        session["last_payment_error"] = {"code": "card_declined", "message": decline_message}
    else:
        session["payment_intent"] = f"pi_test_{deposit.uuid.hex}"  # the payment a cash-out refunds
    return {
        "id": event_id or f"evt_test_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": session},
    }


def failed_event(deposit, *, message="Your card was declined.", event_id=None) -> dict:
    return checkout_event(
        deposit,
        event_type="checkout.session.async_payment_failed",
        event_id=event_id,
        decline_message=message,
    )


def sign(payload: str, *, secret=None, timestamp=None) -> str:
    """The `Stripe-Signature` header for `payload` (the real scheme: t=…,v1=HMAC-SHA256)."""
    return stripe.WebhookSignature.generate_signature_header(
        payload, webhook_secret() if secret is None else secret, timestamp=timestamp
    )


def deliver(event: dict) -> tuple[int, dict]:
    """Deliver a correctly signed event through the real verification code."""
    payload = json.dumps(event)
    return receive(payload.encode(), sign(payload))


def top_up(user, cents: int):
    """Add money to a wallet the way production does: a deposit, then a signed success event."""
    deposit = deposit_create(user=user, amount_cents=cents, gateway="local")
    status, body = deliver(checkout_event(deposit))
    assert status == 200 and body["replay"] is False, body
    return deposit


def back(user, fund, cents: int, key: str | None = None):
    """Put `cents` in the wallet (`top_up`) and pledge them to `fund`: a backer, the way production makes one."""
    top_up(user, cents)
    return pledge_create(user=user, fund_id=fund.pk, amount_cents=cents, key=key or str(uuid.uuid4())).pledge
