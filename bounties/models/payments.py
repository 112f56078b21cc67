"""Deposits into wallets and the payment provider's webhook events."""

import uuid

from django.conf import settings
from django.db import models


class DepositStatus(models.TextChoices):
    PENDING = "pending", "Waiting for payment"
    SUCCEEDED = "succeeded", "Added to your wallet"
    DECLINED = "declined", "Declined"


class Deposit(models.Model):
    """Money a user is adding to their wallet through the payment gateway.

    The wallet is credited once, by the webhook, with the transfer key
    `deposit:{id}`: however many events arrive, there is one credit.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposits")
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=DepositStatus.choices, default=DepositStatus.PENDING)
    gateway = models.CharField(max_length=16)
    provider_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    checkout_url = models.URLField(max_length=1000, blank=True)
    decline_reason = models.CharField(max_length=300, blank=True)
    transfer = models.OneToOneField(
        "bounties.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="deposit"
    )
    pledge = models.ForeignKey(
        "bounties.Pledge",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deposits",
        help_text="A pledge paid partly by card: completed when this deposit lands.",
    )
    # The API client's Idempotency-Key (per user) and what it was first used for.
    key = models.CharField(max_length=150, null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="deposit_amount_positive"),
            models.UniqueConstraint(fields=["user", "key"], name="deposit_key_unique_per_user"),
        ]

    def __str__(self):
        return f"Deposit #{self.pk}: {self.amount_cents}¢ ({self.status})"


class WebhookEvent(models.Model):
    """Every provider event we applied, by id: a replay finds its row and changes nothing.

    Inserted in the same transaction as the event's effect, so a crash rolls both back.
    """

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.type} {self.event_id}"
