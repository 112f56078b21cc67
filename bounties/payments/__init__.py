"""Payment gateways: `local` (dev and tests) and `stripe`, behind one small interface."""

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


def webhook_secret() -> str:
    return settings.STRIPE_WEBHOOK_SECRET or settings.LOCAL_WEBHOOK_SECRET


def checkout_start(deposit, *, success_url: str, cancel_url: str, gateway=None):
    """Open the provider's checkout for a deposit (network call: outside any transaction)."""
    from bounties.services.deposits import deposit_attach_checkout

    gateway = gateway or get_gateway(deposit.gateway)
    checkout = gateway.start_checkout(deposit, success_url=success_url, cancel_url=cancel_url)
    deposit_attach_checkout(deposit, provider_id=checkout.provider_id, checkout_url=checkout.url)
    return deposit
