"""Payment gateways: `local` (dev and tests) and `stripe`, behind one small interface.

`get_gateway` is the one place a name (`PAYMENT_GATEWAY`, or a deposit's `gateway`) becomes
a gateway; everything else asks the gateway, never compares names. A gateway has a
`name`, `takes_test_cards` (whether a test card number may come with the request and be
charged at once), `start_checkout(deposit, success_url=, cancel_url=) -> Checkout` and
`refund(deposit, amount_cents, key=) -> RefundResult` and `find_refund(deposit, key=) ->
RefundResult | None` (network calls: never inside a transaction; PaymentUnavailable when the
provider cannot be reached) and `webhook_secret()`.
"""

from django.conf import settings

from bounties.payments.checkout import Checkout
from bounties.payments.local_gateway import LocalGateway
from bounties.payments.refunds import RefundResult
from bounties.payments.stripe_gateway import StripeGateway

__all__ = ["Checkout", "RefundResult", "get_gateway", "webhook_secret"]


def get_gateway(name: str | None = None):
    """The gateway called `name`, else the site's (`PAYMENT_GATEWAY`, checked at start-up: fundfill.E001)."""
    name = name or settings.PAYMENT_GATEWAY
    return StripeGateway() if name == "stripe" else LocalGateway()


def webhook_secret() -> str:
    """The one secret provider events must be signed with on this site: the site's gateway's.

    With `stripe` it is STRIPE_WEBHOOK_SECRET and nothing else: an empty one accepts no
    event (and the fundfill.E002 check refuses to start), never the local secret.
    """
    return get_gateway().webhook_secret()
