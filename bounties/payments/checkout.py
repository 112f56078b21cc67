"""What every gateway's `start_checkout` returns (its own module, so gateways import no package)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Checkout:
    """Where to send the payer, and the provider's id for the payment."""

    provider_id: str
    url: str
