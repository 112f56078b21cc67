"""Money leaving the site: cash-outs back to cards, and payouts to winners.

Both debit the ledger in the transaction that records the request (so the money can
never be asked for twice) and credit it back with a new transfer if the provider
refuses: every state change is a transfer or a recorded field here.
"""

import uuid

from django.conf import settings
from django.db import models


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Being sent to your card"
    SUCCEEDED = "succeeded", "Sent to your card"
    FAILED = "failed", "Failed: returned to your wallet"


class Cashout(models.Model):
    """A backer's request to send wallet money back to the card(s) it came from."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashouts")
    amount_cents = models.BigIntegerField()
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    transfer = models.OneToOneField(
        "bounties.Transfer", on_delete=models.PROTECT, related_name="cashout", null=True, blank=True
    )
    # Set when the cash-out came from settling a pledge "back to my card".
    pledge = models.OneToOneField(
        "bounties.Pledge", null=True, blank=True, on_delete=models.PROTECT, related_name="cashout"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="cashout_key_unique_per_user"),
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="cashout_amount_positive"),
        ]

    def __str__(self):
        return f"Cash-out #{self.pk}: {self.amount_cents}¢"


class Refund(models.Model):
    """One refund of one card payment (a deposit), part of a cash-out: newest deposit first."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cashout = models.ForeignKey(Cashout, on_delete=models.PROTECT, related_name="refunds")
    deposit = models.ForeignKey("bounties.Deposit", on_delete=models.PROTECT, related_name="refunds")
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    provider_id = models.CharField(max_length=255, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    reversal_transfer = models.OneToOneField(
        "bounties.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_refund"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self):
        return f"Refund #{self.pk}: {self.amount_cents}¢ of deposit {self.deposit_id} ({self.status})"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved, waiting for a second approval"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed: returned to your payout balance"


class Payout(models.Model):
    """A winner's request to be paid their payout balance (or part of it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    method = models.CharField(max_length=16, help_text="stripe (Connect transfer) or manual (Finance staff).")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    transfer = models.OneToOneField(
        "bounties.Transfer", on_delete=models.PROTECT, related_name="payout", null=True, blank=True
    )
    reversal_transfer = models.OneToOneField(
        "bounties.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_payout"
    )
    provider_id = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text="The bank or provider reference.")
    failure_reason = models.CharField(max_length=300, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    second_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="payout_key_unique_per_user"),
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(second_approved_by__isnull=True)
                | ~models.Q(second_approved_by=models.F("approved_by")),
                name="payout_two_different_approvers",
            ),
        ]

    def __str__(self):
        return f"Payout #{self.pk}: {self.amount_cents}¢ to user {self.user_id} ({self.status})"


class ConnectedAccount(models.Model):
    """A winner's Stripe Connect account, for payouts by Transfer."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="connected_account"
    )
    stripe_account_id = models.CharField(max_length=255, unique=True)
    payouts_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.stripe_account_id} (user {self.user_id})"
