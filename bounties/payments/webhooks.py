"""Receiving provider events: verify the Stripe signature, then apply once.

Both the HTTP endpoint and the local gateway come through `receive`, so dev and
tests run the real verification code.

A valid signature says the provider sent the bytes, not that we can use them. After
verifying, every answer is 2xx (or Stripe resends the event for three days): an event
with a usable id is recorded with what it did (`WebhookEvent.outcome`), one without
(a JSON list, no id, a NUL in it) gets a line on the security log.
"""

import json
import logging
import time

import stripe
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bounties.errors import TryAgainLater, error_body
from bounties.payments import webhook_secret
from bounties.services.deposits import webhook_apply

security_log = logging.getLogger("fundfill.security")

TOLERANCE_SECONDS = 300
MAX_EVENT_ID_LENGTH = 255  # WebhookEvent.event_id


class FutureTimestamp(Exception):
    """The signature's `t=` is more than the tolerance ahead of our clock."""


def _refused(reason: str) -> tuple[int, dict]:
    security_log.warning("rejected webhook: %s", reason)
    return 400, error_body("bad_signature", "Signature or payload invalid.")


def _signed_at(header: str) -> int:
    """The header's first `t=` (the one stripe verified the signature with)."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value)
    raise ValueError("no timestamp in the signature header")


def _verify(payload: bytes, signature: str | None) -> str:
    """The verified body as text. Raises stripe.SignatureVerificationError, ValueError or FutureTimestamp."""
    secret = webhook_secret()
    if not secret:
        raise stripe.SignatureVerificationError("No webhook secret configured", signature, payload)
    text = payload.decode("utf-8")
    stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=TOLERANCE_SECONDS)
    # verify_header only refuses the past: a `t=` far ahead would make a captured event replayable for longer.
    if _signed_at(signature) > time.time() + TOLERANCE_SECONDS:
        raise FutureTimestamp()
    return text


def _usable_id(event) -> str | None:
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID_LENGTH:
        return None
    if "\x00" in event_id:  # PostgreSQL stores no NUL in text
        return None
    return event_id


def _not_json(constant):
    # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{constant} is not JSON")


def _describe(event) -> str:
    if event is None:
        return "the body is not JSON (or nested too deep to read)"
    if not isinstance(event, dict):
        return f"a JSON {type(event).__name__}, not an event object"
    return f"id {ascii(event.get('id'))[:80]}"


def receive(payload: bytes, signature: str | None) -> tuple[int, dict]:
    try:
        text = _verify(payload, signature)
    except FutureTimestamp:
        return _refused("FutureTimestamp: t= more than 300 s in the future")
    except (ValueError, stripe.SignatureVerificationError) as exc:
        return _refused(exc.__class__.__name__)
    try:
        event = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
        event = None
    event_id = _usable_id(event)
    if event_id is None:
        # Nothing to key a record on: log it, and acknowledge so the provider stops resending.
        security_log.warning("signed webhook with no usable id ignored: %s", _describe(event))
        return 200, {"received": True, "replay": False}
    applied = webhook_apply(event_id=event_id, event_type=event.get("type"), payload=event)
    return 200, {"received": True, "replay": not applied}


@csrf_exempt  # the signature, not a cookie, authenticates the provider
@require_POST
def stripe_webhook(request):
    try:
        status, body = receive(request.body, request.headers.get("Stripe-Signature"))
    except TryAgainLater as busy:
        # Non-2xx makes Stripe retry later; nothing was applied. The answer every door gives.
        return JsonResponse(busy.body(), status=busy.status, headers=busy.headers)
    return JsonResponse(body, status=status)
