"""Deposits into wallets and the payment provider's webhook events."""

import uuid

from django.conf import settings
from django.db import models

AMOUNT_IMMUTABLE = "A deposit's amount_cents is fixed when it is opened: open a new deposit instead."


class DepositStatus(models.TextChoices):
    """A state machine: only `pending` ever changes, to one of the three final states."""

    PENDING = "pending", "Waiting for payment"
    SUCCEEDED = "succeeded", "Added to your wallet"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"


class DepositQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if "amount_cents" in kwargs:
            raise TypeError(AMOUNT_IMMUTABLE)
        return super().update(**kwargs)


class Deposit(models.Model):
    """Money a user is adding to their wallet through the payment gateway.

    The wallet is credited once, by the webhook, with the transfer key
    `deposit:{id}`: however many events arrive, there is one credit, of the
    deposit's own `amount_cents` (fixed when it is opened; the database refuses a
    change too), and only while it is pending. An event that disagrees with it
    credits nothing and sets `needs_review` for staff.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposits")
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=DepositStatus.choices, default=DepositStatus.PENDING)
    gateway = models.CharField(max_length=16)
    provider_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    checkout_url = models.URLField(max_length=1000, blank=True)
    # The provider's payment (a Stripe PaymentIntent id), recorded when it succeeds: what a cash-out refunds.
    payment_reference = models.CharField(max_length=255, blank=True)
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
    needs_review = models.BooleanField(
        default=False,
        help_text="A signed provider event disagreed with this deposit (amount, currency or state) and "
        "credited nothing: check the payment with the provider.",
    )
    review_note = models.CharField(max_length=300, blank=True, help_text="What the last such event said.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DepositQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="deposit_amount_positive"),
            models.UniqueConstraint(fields=["user", "key"], name="deposit_key_unique_per_user"),
        ]

    def __str__(self):
        return f"Deposit #{self.pk}: {self.amount_cents}¢ ({self.status})"

    def save(self, *args, **kwargs):
        opened = getattr(self, "opened_amount_cents", None)
        if opened is not None and self.amount_cents != opened:
            raise TypeError(AMOUNT_IMMUTABLE)
        super().save(*args, **kwargs)
        self.opened_amount_cents = self.amount_cents

    @classmethod
    def from_db(cls, db, field_names, values):
        # Remember the amount as loaded, so save() can refuse a changed one (Django's documented hook).
        instance = super().from_db(db, field_names, values)
        instance.opened_amount_cents = instance.__dict__.get("amount_cents")
        return instance


class WebhookOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Nothing to do"
    FLAGGED = "flagged", "Disagreed with our records: flagged for review"
    UNUSABLE = "unusable", "Could not be used"


class WebhookEvent(models.Model):
    """Every signed provider event with a usable id, by id: a replay finds its row and changes nothing.

    Inserted in the same transaction as the event's effect, so a crash rolls both back.
    `outcome` and `note` say what it did, including when it did nothing (a stale
    transition, an amount that disagrees with the deposit, a shape we cannot use).
    """

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    outcome = models.CharField(max_length=16, choices=WebhookOutcome.choices, default=WebhookOutcome.APPLIED)
    note = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.type} {self.event_id}"
