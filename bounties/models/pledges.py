"""Pledges: a backer's money held in a fund's escrow."""

from django.conf import settings
from django.db import models


class PledgeStatus(models.TextChoices):
    PENDING_FUNDS = "pending_funds", "Waiting for your card payment"
    ACTIVE = "active", "In escrow"
    WITHDRAWN = "withdrawn", "Withdrawn to your wallet"
    CANCELLED = "cancelled", "Not made (money kept in your wallet)"
    REFUNDED = "refunded", "Refunded"
    AWARDED = "awarded", "Paid to the winner"
    TO_BENEFICIARY = "beneficiary", "Paid to the fund's beneficiary"
    REPLEDGED = "repledged", "Moved to another fund"


class SettlementChoice(models.TextChoices):
    """Where a pledge goes if its escrow date passes and nobody has won."""

    WALLET = "wallet", "Back to my wallet"
    CARD = "card", "Back to my card"
    BENEFICIARY = "beneficiary", "To the fund's beneficiary"
    FUND = "fund", "Pledged to another open fund"


class Pledge(models.Model):
    """A backer's pledge to one fund. Active pledges of a fund sum to its escrow balance.

    `key` is the client's idempotency key (the form's hidden field or the API's
    Idempotency-Key header), unique per user; `fingerprint` is what the key was
    first used for, so a reuse with another body is refused.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pledges")
    fund = models.ForeignKey("bounties.Fund", on_delete=models.PROTECT, related_name="pledges")
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=PledgeStatus.choices, default=PledgeStatus.ACTIVE)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    transfer = models.OneToOneField(
        "bounties.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="pledge"
    )
    release_transfer = models.ForeignKey(
        "bounties.Transfer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="released_pledges",
        help_text="The withdraw, settlement or award transfer that took the money out of escrow "
        "(one award transfer releases every pledge of the fund).",
    )
    # The terms the pledge was made under (copied from the fund page): a later edit never changes them.
    escrow_until = models.DateTimeField(null=True, blank=True)
    failure_policy = models.CharField(max_length=16, blank=True)
    beneficiary_name = models.CharField(max_length=200, blank=True)
    # The backer's settlement choice; blank means the default their terms give.
    settlement_choice = models.CharField(max_length=16, choices=SettlementChoice.choices, blank=True)
    settlement_fund = models.ForeignKey(
        "bounties.Fund",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The open fund chosen for a 'pledged to another fund' settlement.",
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="pledge_key_unique_per_user"),
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="pledge_amount_positive"),
        ]
        indexes = [models.Index(fields=["fund", "user", "status"])]

    def __str__(self):
        return f"Pledge #{self.pk}: {self.amount_cents}¢ to fund {self.fund_id}"
