"""Stripe Checkout through the official library.

The create call carries an idempotency key derived from our deposit, so a retry
after a timeout finds the same Checkout Session instead of making a second one.
"""

import stripe
from django.conf import settings

from bounties.models import Deposit
from bounties.payments import Checkout


def configure():
    stripe.api_key = settings.STRIPE_SECRET_KEY
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE


class StripeGateway:
    name = "stripe"

    def start_checkout(self, deposit: Deposit, *, success_url: str, cancel_url: str) -> Checkout:
        configure()
        reference = {"deposit": str(deposit.uuid)}
        session = stripe.checkout.Session.create(
            mode="payment",
            line_items=[
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": settings.FUNDFILL_CURRENCY,
                        "unit_amount": deposit.amount_cents,
                        "product_data": {"name": "Fundfill wallet top-up"},
                    },
                }
            ],
            client_reference_id=str(deposit.uuid),
            metadata=reference,
            payment_intent_data={"metadata": reference},
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"deposit:{deposit.uuid}",
        )
        return Checkout(provider_id=session["id"], url=session["url"])
