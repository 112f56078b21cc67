"""Stripe Checkout through the official library.

The create call carries an idempotency key derived from our deposit, so a retry
after a timeout finds the same Checkout Session instead of making a second one.
"""

import logging

import stripe
from django.conf import settings

from bounties.errors import PaymentUnavailable
from bounties.models import Deposit
from bounties.payments.checkout import Checkout

logger = logging.getLogger("fundfill.payments")


def configure():
    stripe.api_key = settings.STRIPE_SECRET_KEY
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE


class StripeGateway:
    name = "stripe"
    takes_test_cards = False  # the payer types the card on Stripe's checkout page

    @staticmethod
    def webhook_secret() -> str:
        return settings.STRIPE_WEBHOOK_SECRET

    def start_checkout(self, deposit: Deposit, *, success_url: str, cancel_url: str) -> Checkout:
        configure()
        reference = {"deposit": str(deposit.uuid)}
        try:
            session = self._create_session(deposit, reference, success_url, cancel_url)
        except stripe.StripeError as exc:
            logger.warning("stripe checkout for deposit %s failed: %r", deposit.pk, exc)
            raise PaymentUnavailable() from exc
        return Checkout(provider_id=session["id"], url=session["url"])

    def _create_session(self, deposit, reference, success_url, cancel_url):
        return stripe.checkout.Session.create(
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
