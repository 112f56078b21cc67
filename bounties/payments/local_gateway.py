"""The local gateway: a test-card page for dev and tests, no network.

It produces the same signed events Stripe would and feeds them to the same
webhook code, so the real signature check and credit path run everywhere. It signs
with `LocalGateway.webhook_secret()`, derived from SECRET_KEY; a site on `stripe` never
accepts that secret.

The webhook code is handed to it at start-up (`connect_receiver`, from BountiesConfig.ready),
as Stripe is given the endpoint's URL: the receiver asks the site's gateway for the signing
secret and credits through the deposit services, which ask for gateways too, so this module
importing it would close a cycle.

Refunds go nowhere and succeed, except to a payment made with Stripe's test card
4000 0000 0000 5126, whose refunds fail (as a refund to a closed card does): its payment
reference says so, since no card number is ever stored.
"""

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from bounties.errors import CardDeclined, InvalidCard
from bounties.models import Deposit
from bounties.payments.checkout import Checkout
from bounties.payments.refunds import RefundResult, failure_words

LOCAL_SECRET_LABEL = b"fundfill local gateway webhook signing secret v1"
SUCCESS_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"
DECLINE_MESSAGE = "Your card was declined (test card ending 0002)."
# Stripe's test card whose charge succeeds and whose refunds fail.
REFUND_FAILS_CARD = "4000000000005126"
REFUND_FAILS_SUFFIX = "_refund_fails"

# receive(payload, signature) -> (status, body): bounties.payments.webhooks.receive, once connected.
_receiver: Callable[[bytes, str], tuple[int, dict]] | None = None


def connect_receiver(receive: Callable[[bytes, str], tuple[int, dict]]) -> None:
    """Deliver the local gateway's signed events to `receive`, the webhook code (BountiesConfig.ready)."""
    global _receiver
    _receiver = receive


def normalise_card(number: str) -> str:
    return "".join(ch for ch in str(number or "") if not ch.isspace() and ch != "-")


def check_test_card(number) -> str:
    """The test card's digits, or InvalidCard: the one check the checkout form, the API and `pay` use."""
    card = normalise_card(number)
    if card not in (SUCCESS_CARD, DECLINE_CARD, REFUND_FAILS_CARD):
        raise InvalidCard()
    return card


class LocalGateway:
    name = "local"
    takes_test_cards = True

    @staticmethod
    def webhook_secret() -> str:
        """Derived from SECRET_KEY, so it is in no source file (and differs per deployment)."""
        digest = hmac.new(settings.SECRET_KEY.encode(), LOCAL_SECRET_LABEL, hashlib.sha256).hexdigest()
        return f"whsec_local_{digest}"

    def start_checkout(self, deposit: Deposit, *, success_url: str, cancel_url: str) -> Checkout:
        return Checkout(
            provider_id=f"cs_local_{deposit.uuid.hex}",
            url=reverse("local_checkout", kwargs={"deposit_uuid": deposit.uuid}),
        )

    def pay(self, deposit: Deposit, card: str) -> None:
        """Charge a test card: emits a signed success or failure event.

        Raises InvalidCard for any other number (nothing recorded) and CardDeclined, naming
        the deposit, after the decline was recorded.
        """
        card = check_test_card(card)
        session = {
            "id": deposit.provider_id or f"cs_local_{deposit.uuid.hex}",
            "object": "checkout.session",
            "amount_total": deposit.amount_cents,
            "currency": settings.FUNDFILL_CURRENCY.lower(),
            "client_reference_id": str(deposit.uuid),
            "metadata": {"deposit": str(deposit.uuid)},
        }
        if card in (SUCCESS_CARD, REFUND_FAILS_CARD):
            event_type = "checkout.session.completed"
            session["payment_status"] = "paid"
            suffix = REFUND_FAILS_SUFFIX if card == REFUND_FAILS_CARD else ""
            session["payment_intent"] = f"pi_local_{deposit.uuid.hex}{suffix}"
        else:
            event_type = "checkout.session.async_payment_failed"
            session["payment_status"] = "unpaid"
            session["last_payment_error"] = {"code": "card_declined", "message": DECLINE_MESSAGE}
        event = {
            "id": f"evt_local_{uuid.uuid4().hex}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": session},
        }
        payload = json.dumps(event)
        signature = stripe.WebhookSignature.generate_signature_header(payload, self.webhook_secret())
        if _receiver is None:
            raise ImproperlyConfigured(
                "No webhook receiver connected to the local gateway (BountiesConfig.ready)."
            )
        status, body = _receiver(payload.encode(), signature)
        if status != 200:
            raise RuntimeError(f"local webhook refused: {body}")
        if card == DECLINE_CARD:
            raise CardDeclined(DECLINE_MESSAGE, deposit_id=deposit.pk)

    def refund(self, deposit: Deposit, amount_cents: int, *, key: str) -> RefundResult:
        """Refund part of a local payment: no network, so never PaymentUnavailable.

        The id is derived from `key`, so asking again answers with the same refund.
        """
        provider_id = f"re_local_{hashlib.sha256(key.encode()).hexdigest()[:24]}"
        if deposit.payment_reference.endswith(REFUND_FAILS_SUFFIX):
            return RefundResult(
                ok=False, provider_id=provider_id, reason=failure_words("expired_or_canceled_card")
            )
        return RefundResult(ok=True, provider_id=provider_id)

    def find_refund(self, deposit: Deposit, *, key: str) -> RefundResult | None:
        """Nothing is remembered here, and `refund` answers a key the same way every time."""
        return None
