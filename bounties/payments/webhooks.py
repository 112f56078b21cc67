"""Receiving provider events: verify the Stripe signature, then apply once.

Both the HTTP endpoint and the local gateway come through `receive`, so dev and
tests run the real verification code.
"""

import json
import logging

import stripe
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bounties.errors import TryAgainLater
from bounties.payments import webhook_secret
from bounties.services.deposits import webhook_apply

security_log = logging.getLogger("fundfill.security")

TOLERANCE_SECONDS = 300


def receive(payload: bytes, signature: str | None) -> tuple[int, dict]:
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, webhook_secret(), tolerance=TOLERANCE_SECONDS
        )
    except (ValueError, stripe.SignatureVerificationError) as exc:
        security_log.warning("rejected webhook: %s", exc.__class__.__name__)
        return 400, {"error": {"code": "bad_signature", "message": "Signature or payload invalid."}}
    applied = webhook_apply(event_id=event["id"], event_type=event["type"], payload=json.loads(payload))
    return 200, {"received": True, "replay": not applied}


@csrf_exempt  # the signature, not a cookie, authenticates the provider
@require_POST
def stripe_webhook(request):
    try:
        status, body = receive(request.body, request.headers.get("Stripe-Signature"))
    except TryAgainLater:
        # Non-2xx makes Stripe retry later; nothing was applied.
        return HttpResponse(status=503, headers={"Retry-After": "5"})
    return JsonResponse(body, status=status)
