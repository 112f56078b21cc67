"""The outbox: announcements and emails written in the same transaction as their cause."""

from django.db import models
from django.utils import timezone


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Outbox(models.Model):
    """A side effect to deliver after commit. Unique `dedupe_key`: one row per event, however often staged."""

    dedupe_key = models.CharField(max_length=300, unique=True)
    channel = models.CharField(max_length=32, default="console")
    # Who the row is for, when a channel has many: an email address, a webhook endpoint's id.
    recipient = models.CharField(max_length=254, blank=True)
    fund = models.ForeignKey(
        "bounties.Fund", null=True, blank=True, on_delete=models.SET_NULL, related_name="announcements"
    )
    event = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "outbox"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return self.dedupe_key
