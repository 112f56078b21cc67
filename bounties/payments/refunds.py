"""What every gateway's `refund` returns (its own module, so gateways import no package)."""

from dataclasses import dataclass

# Stripe's `failure_reason` codes for a refund, in words a backer can read.
FAILURE_REASONS = {
    "expired_or_canceled_card": "the card has expired or was cancelled",
    "lost_or_stolen_card": "the card was reported lost or stolen",
    "charge_for_pending_refund_disputed": "the payment is being disputed",
    "insufficient_funds": "the card processor could not fund the refund",
    "declined": "the card's bank declined it",
    "merchant_request": "it was cancelled",
    "unknown": "the card's bank did not accept it",
}


def failure_words(code: str | None) -> str:
    """A refund's failure reason as words; an unknown code is named as it is."""
    if not code:
        return FAILURE_REASONS["unknown"]
    return FAILURE_REASONS.get(code, f"the card processor said {code!r}")


@dataclass(frozen=True)
class RefundResult:
    """The provider's answer to one refund request.

    `ok` is True when the refund was accepted (Stripe's `pending` or `succeeded`); False when it
    was refused or failed, with `reason` in words. A provider that could not be reached is not a
    result: the gateway raises PaymentUnavailable and the refund stays pending.
    """

    ok: bool
    provider_id: str = ""
    reason: str = ""
