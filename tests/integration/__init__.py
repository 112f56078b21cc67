"""Integration tests on PostgreSQL: concurrency, webhooks, injected faults.

Helpers shared by these tests (and the property test):

- `checkout_event` / `deliver` build a Stripe-shaped `checkout.session.*` event
  (the shape `bounties.payments.local_gateway` emits), sign it with the real
  `stripe.WebhookSignature` scheme and feed it to `webhooks.receive`, so every
  deposit in these tests goes through the real signature check and credit path.
- `run_concurrently` starts real threads that wait on one `threading.Barrier`
  and then call the service at the same moment; each thread closes its own
  database connection when it ends.
"""

import json
import threading
import time
import uuid

import stripe
from django.db import connection

from bounties.payments import webhook_secret
from bounties.payments.webhooks import receive
from bounties.services.deposits import deposit_create

THREAD_TIMEOUT_SECONDS = 60


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
        payload, secret or webhook_secret(), timestamp=timestamp
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


def run_concurrently(calls, timeout=THREAD_TIMEOUT_SECONDS):
    """Run each zero-argument callable in its own thread, all released at once by a Barrier.

    Returns one item per call, in order: its return value, or the exception it raised.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            connection.ensure_connection()  # connect before the barrier: the race starts at the call
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:  # noqa: B036 - reported to the test, never swallowed
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [i for i, thread in enumerate(threads) if thread.is_alive()]
    assert not stuck, f"threads {stuck} still running after {timeout}s (a hang or a lock wait)"
    return results


def errors_of(results, *expected):
    """The results that are exceptions other than the `expected` refusals (should be empty)."""
    return [r for r in results if isinstance(r, BaseException) and not isinstance(r, expected)]
