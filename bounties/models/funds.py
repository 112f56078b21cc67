"""The money-side state of a fund, kept apart from its page content.

Page content is revisioned: publishing a revision writes every page column back.
Status and totals therefore live here, on a row only the bounty services change,
so an editor's publish can never roll back a pledge total or a settlement.
"""

from django.db import models


class FundStatus(models.TextChoices):
    OPEN = "open", "Open"
    VOTING = "voting", "Voting on a claim"
    AWARDED = "awarded", "Awarded"
    FAILED = "failed", "Failed"


class Fund(models.Model):
    """One per FundPage: status and denormalised totals (the pledge transaction updates them)."""

    # The fund shares its page's id, so one number names a fund everywhere (URLs, API, ledger).
    page = models.OneToOneField(
        "bounties.FundPage", on_delete=models.CASCADE, primary_key=True, related_name="fund"
    )
    status = models.CharField(max_length=16, choices=FundStatus.choices, default=FundStatus.OPEN)
    pledged_cents = models.BigIntegerField(default=0)
    backer_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pledged_cents__gte=0), name="fund_pledged_not_negative"
            ),
        ]

    def __str__(self):
        return f"Fund {self.page_id} ({self.status})"
