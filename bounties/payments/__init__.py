"""Payment gateways: `local` (dev and tests) and `stripe`, behind one small interface."""

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Checkout:
    """Where to send the payer, and the provider's id for the payment."""

    provider_id: str
    url: str


def get_gateway(name: str | None = None):
    name = name or settings.PAYMENT_GATEWAY
    if name == "stripe":
        from bounties.payments.stripe_gateway import StripeGateway

        return StripeGateway()
    from bounties.payments.local_gateway import LocalGateway

    return LocalGateway()


LOCAL_SECRET_LABEL = b"fundfill local gateway webhook signing secret v1"


def local_webhook_secret() -> str:
    """The local gateway's signing secret: derived from SECRET_KEY, so it is in no source file."""
    digest = hmac.new(settings.SECRET_KEY.encode(), LOCAL_SECRET_LABEL, hashlib.sha256).hexdigest()
    return f"whsec_local_{digest}"


def webhook_secret() -> str:
    """The one secret provider events must be signed with on this site.

    With `stripe` it is STRIPE_WEBHOOK_SECRET and nothing else: an empty one accepts no
    event (and the fundfill.E002 check refuses to start), never the local secret.
    """
    if settings.PAYMENT_GATEWAY == "stripe":
        return settings.STRIPE_WEBHOOK_SECRET
    return local_webhook_secret()


def checkout_start(deposit, *, success_url: str, cancel_url: str, gateway=None):
    """Open the provider's checkout for a deposit (network call: outside any transaction)."""
    from bounties.services.deposits import deposit_attach_checkout

    gateway = gateway or get_gateway(deposit.gateway)
    checkout = gateway.start_checkout(deposit, success_url=success_url, cancel_url=cancel_url)
    deposit_attach_checkout(deposit, provider_id=checkout.provider_id, checkout_url=checkout.url)
    return deposit
