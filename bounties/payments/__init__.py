"""Payment gateways: `local` (dev and tests) and `stripe`, behind one small interface.

`get_gateway` is the one place a name (`PAYMENT_GATEWAY`, or a deposit's `gateway`) becomes
a gateway; everything else asks the gateway, never compares names. A gateway has a
`name`, `takes_test_cards` (whether a test card number may come with the request and be
charged at once), `start_checkout(deposit, success_url=, cancel_url=) -> Checkout` (a
network call: never inside a transaction) and `webhook_secret()`.
"""

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
    """The gateway called `name`, else the site's (`PAYMENT_GATEWAY`, checked at start-up: fundfill.E001)."""
    name = name or settings.PAYMENT_GATEWAY
    # Imported here: each gateway module imports `Checkout` from this package.
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
    """The one secret provider events must be signed with on this site: the site's gateway's.

    With `stripe` it is STRIPE_WEBHOOK_SECRET and nothing else: an empty one accepts no
    event (and the fundfill.E002 check refuses to start), never the local secret.
    """
    return get_gateway().webhook_secret()
