"""Stripe Checkout through the official library.

The create call carries an idempotency key derived from our deposit, so a retry
after a timeout finds the same Checkout Session instead of making a second one; a
refund's key is derived from our refund row the same way.
"""

import logging

import stripe
from django.conf import settings

from bounties.errors import PaymentUnavailable
from bounties.models import Deposit
from bounties.payments.checkout import Checkout
from bounties.payments.refunds import RefundResult, failure_words

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

    def refund(self, deposit: Deposit, amount_cents: int, *, key: str) -> RefundResult:
        """Refund `amount_cents` of the deposit's PaymentIntent, once per `key`.

        A refund Stripe made but reports `failed` or `canceled`, or one it refuses outright
        (an invalid request: it would refuse it again), is a failed result. Stripe not
        answering, or answering with a server, rate-limit or idempotency error, raises
        PaymentUnavailable: the same key can be sent again safely.
        """
        configure()
        try:
            refund = stripe.Refund.create(
                payment_intent=deposit.payment_reference,
                amount=amount_cents,
                # The key names our refund: an event about a refund whose answer we lost still finds it.
                metadata={"deposit": str(deposit.uuid), "refund_key": key},
                idempotency_key=key,
            )
        except stripe.InvalidRequestError as exc:
            logger.warning("stripe refused refund %s of deposit %s: %r", key, deposit.pk, exc)
            return RefundResult(ok=False, reason=f"the card processor refused it: {exc.user_message or exc}")
        except stripe.StripeError as exc:
            logger.warning("stripe refund %s of deposit %s not sent: %r", key, deposit.pk, exc)
            raise PaymentUnavailable() from exc
        return _result(refund)

    def find_refund(self, deposit: Deposit, *, key: str) -> RefundResult | None:
        """The refund Stripe made for `key`, if any: for a resend after Stripe may have forgotten the key.

        Stripe keeps idempotency keys for about 24 hours; after that the same key would make a
        second refund. Our key is in the refund's metadata, so the payment's refunds say.
        """
        configure()
        try:
            refunds = stripe.Refund.list(payment_intent=deposit.payment_reference, limit=100)
            for refund in refunds.auto_paging_iter():
                if (refund.to_dict().get("metadata") or {}).get("refund_key") == key:
                    return _result(refund)
        except stripe.StripeError as exc:
            logger.warning("stripe refunds of deposit %s not listed: %r", deposit.pk, exc)
            raise PaymentUnavailable() from exc
        return None


def _result(refund) -> RefundResult:
    """A Stripe Refund as our result: `failed` and `canceled` are failures; `pending` and `succeeded` are not."""
    if refund["status"] in ("failed", "canceled"):
        reason = failure_words(getattr(refund, "failure_reason", None))
        return RefundResult(ok=False, provider_id=refund["id"], reason=reason)
    return RefundResult(ok=True, provider_id=refund["id"])
