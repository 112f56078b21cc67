"""Domain errors. Each has a stable `code` shared by the API and the forms, and says
whether money moved (it never does when one of these is raised: the transaction rolls back).

A refusal carries everything a door needs to answer it, so the form, the API and the
webhook say the same: `status`, `code`, `user_message`, `details` (facts such as
`shortfall_cents`), and `retry_after` (seconds, sent as `Retry-After` by every door) when
waiting helps. `error_body` is the one JSON shape of an error, for every JSON answer.
"""


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    """Every JSON error's body: `{"error": {"code", "message"[, "details"]}}`."""
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


class BountiesError(Exception):
    """Base for every refusal of a bounty action."""

    code = "error"
    status = 400
    default_message = "The request could not be completed."
    # Seconds to wait before sending the same request again; None when waiting does not help.
    retry_after: int | None = None

    def __init__(self, message=None, **details):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    @property
    def user_message(self):
        return f"{self.message} No money moved."

    @property
    def headers(self) -> dict[str, str]:
        """The HTTP headers every door sends with this refusal (`Retry-After`)."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}

    def body(self) -> dict:
        """This refusal as JSON (`error_body`)."""
        return error_body(self.code, self.user_message, self.details)


class InvalidAmount(BountiesError):
    """The amount is not a positive whole number of cents within the site's limits."""

    code = "invalid_amount"
    default_message = "Enter an amount in dollars and cents, like 25 or 25.50."


class InsufficientFunds(BountiesError):
    """The wallet holds less than the amount asked for.

    Raised by `transfer_post` with `balance_cents` and `shortfall_cents` in `details` and a
    message that names both, so the pledge form and the API need not rewrite it.
    """

    code = "insufficient_funds"
    status = 402
    default_message = "Your wallet does not hold enough for this."


class FundNotOpen(BountiesError):
    """The fund is not taking pledges (deadline passed, claim under vote, or settled)."""

    code = "fund_not_open"
    status = 409
    default_message = "This fund is not taking pledges."


class WithdrawNotAllowed(BountiesError):
    """The pledge cannot be withdrawn now (fund closed, claim under vote, or already withdrawn)."""

    code = "withdraw_not_allowed"
    status = 409
    default_message = "This pledge cannot be withdrawn now."


class IdempotencyMismatch(BountiesError):
    """The idempotency key was already used for a different request."""

    code = "idempotency_mismatch"
    status = 422
    default_message = "This request key was already used for a different pledge."


class CardDeclined(BountiesError):
    """The payment gateway declined the card."""

    code = "card_declined"
    status = 402
    default_message = "Your card was declined."


class InvalidCard(BountiesError):
    """The card number is not one of the local gateway's test cards (dev and tests only)."""

    code = "invalid_card"
    default_message = (
        "Use test card 4242 4242 4242 4242 (succeeds), 4000 0000 0000 0002 (declined) or "
        "4000 0000 0000 5126 (succeeds; refunds to it fail)."
    )


class CheckoutExpired(BountiesError):
    """The deposit's card checkout expired unpaid; its key cannot open another, so start again."""

    code = "checkout_expired"
    status = 409
    default_message = "This card checkout expired before it was paid. Start again to add money."


class PaymentUnavailable(BountiesError):
    """The card processor did not answer or refused the request; nothing was charged."""

    code = "gateway_unavailable"
    status = 502
    default_message = "We could not reach the card processor; please try again."


class TryAgainLater(BountiesError):
    """The database was too busy to finish the action; it rolled back and is safe to retry."""

    code = "try_again"
    status = 503
    # The service already retried with backoff: a second is long enough for a busy moment to pass.
    retry_after = 1
    default_message = "We are very busy right now; please try again in a moment."


class ConnectionLost(TryAgainLater):
    """The database connection dropped and every retry on a new one failed too.

    If it dropped while committing, the action may have gone through: we cannot say that
    no money moved, only that sending the same request again can never move it twice.
    """

    default_message = (
        "We lost contact with our database before we could confirm this, so it may or may not have "
        "gone through. Sending the same request again is safe: it shows the result and can never "
        "move money twice."
    )

    @property
    def user_message(self):
        return self.message


class RateLimited(BountiesError):
    """Too many pledges from one backer in a minute (RELIABILITY T25): refused before anything runs."""

    code = "rate_limited"
    status = 429
    retry_after = 60  # the limit's window is a minute (bounties/ratelimits.py)
    default_message = "You have sent a lot of pledges in the last minute; please wait a minute and try again."


# --- Claims, votes, settlement and money out -------------------------------------------------


class NotFound(BountiesError):
    """The claim, pledge or fund does not exist or is not yours to act on."""

    code = "not_found"
    status = 404
    default_message = "We could not find that."


class ClaimClosed(BountiesError):
    """The claim is no longer under vote, or the fund no longer takes claims (escrow date passed, awarded)."""

    code = "claim_closed"
    status = 409
    default_message = "This claim is no longer under vote."


class NoBackers(BountiesError):
    """Nobody but the claimants has money in the fund, so nobody could vote on a claim."""

    code = "no_backers"
    status = 409
    default_message = "This fund has no backers other than the claimants, so a claim could not be voted on."


class NotABacker(BountiesError):
    """The voter had no money in the fund when the claim was submitted."""

    code = "not_a_backer"
    status = 403
    default_message = "Only backers who had money in this fund when the claim was submitted can vote on it."


class OwnClaim(BountiesError):
    """Claimants and co-claimants cannot vote on their own claim."""

    code = "own_claim"
    status = 403
    default_message = "You are one of this claim's claimants, so you cannot vote on it."


class ReasonRequired(BountiesError):
    """A reject vote must say why: the reason is shown publicly on the claim."""

    code = "reason_required"
    default_message = "Say why you reject this claim: your reason is shown on the claim page."


class SharesInvalid(BountiesError):
    """Co-claimants must be registered users, each once, with shares in basis points summing to 10,000."""

    code = "shares_invalid"
    default_message = "The claimants' shares must be whole basis points that add up to 10,000 (100%)."


class ClaimInvalid(BountiesError):
    """The claim itself is incomplete: a statement and a link to the work are required."""

    code = "invalid_claim"
    default_message = "Describe the work and give a link to it."


class WithdrawFrozen(WithdrawNotAllowed):
    """Withdrawals are frozen while any claim on the fund is under vote (no vote-then-withdraw)."""

    code = "withdraw_frozen"
    default_message = (
        "Pledges cannot be withdrawn while backers vote on a claim; they thaw if the claim is rejected."
    )


class SettlementInvalid(BountiesError):
    """The settlement choice cannot be used for this pledge (already settled, no beneficiary, fund not open)."""

    code = "settlement_invalid"
    status = 409
    default_message = "That settlement choice is not available for this pledge."


class NothingToRefund(BountiesError):
    """A cash-out asks for more than the card payments it would go back to can still refund."""

    code = "nothing_to_refund"
    status = 409
    default_message = "Only money added by card can go back to a card."


class PayoutOnHold(BountiesError):
    """Part of the payout balance is still inside the hold against card disputes."""

    code = "payout_on_hold"
    status = 409
    default_message = "Part of your payout balance is still on hold against card disputes."


class InsufficientPayout(BountiesError):
    """The payout asked for is more than the payout balance."""

    code = "insufficient_payout"
    status = 402
    default_message = "Your payout balance does not hold that much."


class PayoutNotAllowed(BountiesError):
    """A staff action on a payout that its state or the four-eyes rule does not allow."""

    code = "payout_not_allowed"
    status = 409
    default_message = "That cannot be done to this payout now."


class PayoutAccountMissing(BountiesError):
    """Payouts go by Stripe here, and the winner has not finished setting up their Stripe account."""

    code = "payout_account_missing"
    status = 409
    default_message = (
        "Set up your Stripe payout account first: payouts are sent there once Stripe has enabled it."
    )


# --- Creators' proposals, news and terms (no money is involved: the messages say nothing of it) ---


class ProposalError(BountiesError):
    """Base for refusals of a creator's proposal, news post or terms change."""

    @property
    def user_message(self):
        return self.message


class ProposalInvalid(ProposalError):
    """A field of the proposal breaks a rule; `details.fields` maps each field to its messages."""

    code = "invalid_proposal"
    default_message = "Some fields need another look."

    def __init__(self, message=None, *, fields: dict[str, list[str]]):
        super().__init__(message, fields=fields)
        self.fields = fields

    @classmethod
    def from_validation(cls, error):
        return cls(fields=error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages})


class ProposalLimit(ProposalError):
    """The creator already has as many proposals in review as the site allows."""

    code = "too_many_proposals"
    status = 409


class ProposalNotEditable(ProposalError):
    """The proposal is with an editor (or live): it can be changed only when changes were requested."""

    code = "proposal_not_editable"
    status = 409


class TermsLocked(ProposalError):
    """An editor's unpublished changes to the fund are pending: publishing terms now would publish them."""

    code = "terms_locked"
    status = 409


class NotYourFund(ProposalError):
    """No such fund or proposal, or it is not the signed-in creator's."""

    code = "not_found"
    status = 404
    default_message = "No such fund of yours."


class CreatorRateLimited(RateLimited):
    """Too many proposals, news posts or terms changes from one creator in an hour."""

    retry_after = 3600
    default_message = "You have sent a lot of proposals and posts in the last hour. Try again in an hour."

    @property
    def user_message(self):
        return self.message
