"""Claims on a fund's bounty, the backers' money-weighted votes, and the public timeline.

A claim records, when it is submitted, each backer's escrowed amount in the fund
(`ClaimWeight`, its *eligible weight*) and the voting rules the fund had then
(`vote_window_hours`, `quorum_percent`): later pledges and later edits of the page
change nothing about a claim already under vote.
"""

from django.conf import settings
from django.db import models


class ClaimStatus(models.TextChoices):
    VOTING = "voting", "Under vote"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn by the claimant"
    SUPERSEDED = "superseded", "Superseded (another claim was accepted)"


class Claim(models.Model):
    """Someone says they did the work. Decided by `bounties.services.claims`, never edited by hand."""

    fund = models.ForeignKey("bounties.Fund", on_delete=models.PROTECT, related_name="claims")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims")
    statement = models.TextField()
    url = models.URLField("link to the work", max_length=500)
    document = models.ForeignKey(
        "wagtaildocs.Document", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.VOTING)
    # The snapshot and the rules, fixed at submission.
    eligible_cents = models.BigIntegerField()
    quorum_percent = models.PositiveSmallIntegerField()
    vote_window_hours = models.PositiveIntegerField()
    # The tally, kept with the votes in the same transaction (the votes decide; ledger_check proves it).
    approve_cents = models.BigIntegerField(default=0)
    reject_cents = models.BigIntegerField(default=0)
    submitted_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    extended = models.BooleanField(default=False, help_text="The late-swing extension was used.")
    decided_at = models.DateTimeField(null=True, blank=True)
    award_transfer = models.OneToOneField(
        "bounties.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="awarded_claim"
    )

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(eligible_cents__gt=0), name="claim_has_weight"),
            models.CheckConstraint(
                condition=models.Q(approve_cents__gte=0, reject_cents__gte=0), name="claim_tally_not_negative"
            ),
            # At most one accepted claim per fund: the escrow is paid out once.
            models.UniqueConstraint(
                fields=["fund"], condition=models.Q(status="accepted"), name="one_accepted_claim_per_fund"
            ),
        ]
        indexes = [models.Index(fields=["status", "closes_at"])]

    def __str__(self):
        return f"Claim #{self.pk} on fund {self.fund_id} ({self.status})"

    @property
    def quorum_cents(self) -> int:
        """The turnout (approve + reject weight) a decision at window close needs, rounded up."""
        return -(-self.eligible_cents * self.quorum_percent // 100)

    @property
    def is_open(self) -> bool:
        return self.status == ClaimStatus.VOTING


class Claimant(models.Model):
    """One member of a claim's team and their share of the award, in basis points (all sum to 10,000)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="claimants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    share_bp = models.PositiveIntegerField()

    class Meta:
        ordering = ["-share_bp", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "user"], name="one_share_per_claimant"),
            models.CheckConstraint(
                condition=models.Q(share_bp__gt=0, share_bp__lte=10_000), name="claimant_share_in_range"
            ),
        ]

    def __str__(self):
        return f"{self.user_id}: {self.share_bp / 100:g}% of claim {self.claim_id}"


class ClaimWeight(models.Model):
    """A backer's escrowed amount in the fund when the claim was submitted: their vote's weight."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="weights")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    weight_cents = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["claim", "user"], name="one_weight_per_backer"),
            models.CheckConstraint(condition=models.Q(weight_cents__gt=0), name="weight_positive"),
        ]

    def __str__(self):
        return f"user {self.user_id} weighs {self.weight_cents}¢ on claim {self.claim_id}"


class Vote(models.Model):
    """One backer's current vote on one claim; changing it updates this row (the timeline keeps each)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes")
    approve = models.BooleanField()
    reason = models.TextField(blank=True)
    weight_cents = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["claim", "user"], name="one_vote_per_backer"),
            models.CheckConstraint(
                condition=models.Q(approve=True) | ~models.Q(reason=""), name="reject_needs_reason"
            ),
        ]

    def __str__(self):
        side = "approve" if self.approve else "reject"
        return f"user {self.user_id}: {side} claim {self.claim_id} ({self.weight_cents}¢)"


class EventKind(models.TextChoices):
    TERMS = "terms", "Terms changed"
    SUBMITTED = "submitted", "Claim submitted"
    VOTED = "voted", "Vote"
    EXTENDED = "extended", "Voting extended"
    WITHDRAWN = "withdrawn", "Claim withdrawn"
    ACCEPTED = "accepted", "Claim accepted"
    REJECTED = "rejected", "Claim rejected"
    SUPERSEDED = "superseded", "Claim superseded"
    AWARDED = "awarded", "Escrow paid to the winners"
    SETTLED = "settled", "Pledge settled"
    FAILED = "failed", "Fund closed without a winner"
    PAID_OUT = "paid_out", "Paid out"


class TimelineEvent(models.Model):
    """What happened to a fund's money and claims, in order, for everyone to read.

    Written in the same transaction as what it records; never edited. `data` holds the
    facts worth showing (weights, sides, reasons, deadlines, amounts) as JSON numbers
    and strings.
    """

    fund = models.ForeignKey("bounties.Fund", on_delete=models.PROTECT, related_name="timeline")
    claim = models.ForeignKey(Claim, null=True, blank=True, on_delete=models.PROTECT, related_name="timeline")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} on fund {self.fund_id} at {self.at:%Y-%m-%d %H:%M}"
