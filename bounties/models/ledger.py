"""The double-entry ledger.

Invariants (enforced by the database where it can, proved by `manage.py ledger_check`):
- every Transfer's entries sum to zero (on PostgreSQL a deferred constraint trigger refuses, at
  COMMIT, a transfer that does not: migration 0005); entries are never updated or deleted;
- an Account's cached `balance` equals the sum of its entries and changes only in
  the same transaction as they are written;
- no wallet, escrow, payout or beneficiary balance is ever below zero (CHECK);
  only the single `external` account (the outside world: cards, payouts) goes negative.
"""

from django.conf import settings
from django.db import models


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} rows are immutable: post a correcting transfer instead.")

    def delete(self):
        raise TypeError(f"{self.model.__name__} rows are immutable: post a correcting transfer instead.")


class ImmutableModel(models.Model):
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are immutable: post a correcting transfer instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are immutable: post a correcting transfer instead.")


class AccountKind(models.TextChoices):
    WALLET = "wallet", "Wallet"
    ESCROW = "escrow", "Escrow"
    PAYOUT = "payout", "Payout"
    BENEFICIARY = "beneficiary", "Beneficiary"
    EXTERNAL = "external", "External"


class Account(models.Model):
    """Where money sits: a user's wallet or payout, a fund's escrow or beneficiary, or the outside world."""

    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    fund = models.ForeignKey("bounties.Fund", null=True, blank=True, on_delete=models.PROTECT)
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="external") | models.Q(balance__gte=0),
                name="account_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["wallet", "payout"], user__isnull=False, fund__isnull=True)
                    | models.Q(kind__in=["escrow", "beneficiary"], fund__isnull=False, user__isnull=True)
                    | models.Q(kind="external", user__isnull=True, fund__isnull=True)
                ),
                name="account_owner_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "user"],
                condition=models.Q(user__isnull=False),
                name="one_account_per_user_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "fund"],
                condition=models.Q(fund__isnull=False),
                name="one_account_per_fund_kind",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(kind="external"), name="one_external_account"
            ),
        ]

    def __str__(self):
        owner = self.user_id and f"user {self.user_id}" or self.fund_id and f"fund {self.fund_id}" or "world"
        return f"{self.get_kind_display()} of {owner}"


class TransferKind(models.TextChoices):
    DEPOSIT = "deposit", "Money added"
    PLEDGE = "pledge", "Pledge"
    WITHDRAW = "withdraw", "Pledge withdrawn"
    REFUND = "refund", "Refund"
    AWARD = "award", "Award"
    BENEFICIARY = "beneficiary", "Paid to beneficiary"
    PAYOUT = "payout", "Paid out"
    PAYOUT_REVERSAL = "payout_reversal", "Payout failed: returned"
    CASHOUT = "cashout", "Sent back to your card"
    CASHOUT_REVERSAL = "cashout_reversal", "Card refund failed: returned to your wallet"


class Transfer(ImmutableModel):
    """One business action that moved money; its entries sum to zero. Unique by idempotency key."""

    kind = models.CharField(max_length=16, choices=TransferKind.choices)
    idempotency_key = models.CharField(max_length=255, unique=True)  # room for "pledge:{user}:{200-char key}"
    memo = models.CharField(max_length=300, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    fund = models.ForeignKey(
        "bounties.Fund", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class Entry(ImmutableModel):
    """One leg of a transfer: a signed amount on one account."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "entries"
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="entry_amount_not_zero")]

    def __str__(self):
        return f"{self.amount:+d}¢ on account {self.account_id} (transfer {self.transfer_id})"
