"""A fund's terms as they stood from a moment on: the dated history shown on the fund page.

Pledges copy the escrow terms they were made under (`Pledge.escrow_until`, …) and claims
the voting rules (`Claim.quorum_percent`, …), so an editor's change applies only to
pledges and claims made after it. This table is the public record of those changes.
"""

from django.db import models

from .pages import FailurePolicy


class FundTerms(models.Model):
    fund = models.ForeignKey("bounties.Fund", on_delete=models.CASCADE, related_name="terms_history")
    effective_at = models.DateTimeField()
    escrow_until = models.DateTimeField()
    failure_policy = models.CharField(max_length=16, choices=FailurePolicy.choices)
    beneficiary_name = models.CharField(max_length=200, blank=True)
    vote_window_hours = models.PositiveIntegerField()
    quorum_percent = models.PositiveSmallIntegerField()

    TERMS_FIELDS = (
        "escrow_until",
        "failure_policy",
        "beneficiary_name",
        "vote_window_hours",
        "quorum_percent",
    )

    class Meta:
        ordering = ["effective_at", "pk"]
        verbose_name_plural = "fund terms"

    def __str__(self):
        return f"Terms of fund {self.fund_id} from {self.effective_at:%Y-%m-%d %H:%M}"

    def values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.TERMS_FIELDS)
