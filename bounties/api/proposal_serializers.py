"""API serializers for creators' proposals: parse and shape JSON only.

The rules of a proposal (the site's limits on the goal and the dates, an escrow date on or after
the pledge deadline, a named beneficiary) are the service's and the model's
(`bounties.services.proposals`, `FundPage.clean`); these check types, sizes and the bounds a
schema can state, with the service's own messages where it has one.
"""

from datetime import timedelta

from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bounties.api.claim_serializers import StrictCharField, StrictIntegerField
from bounties.models import FailurePolicy
from bounties.services.proposals import GOAL_MAX_CENTS, GOAL_MIN_CENTS

# Sizes: the page's columns (`FundPage`), and room enough for the text fields the page stores unbounded.
MAX_TITLE = 255
MAX_SUMMARY = 300
MAX_BENEFICIARY = 200
MAX_HASHTAG = 50
MAX_CRITERIA = 10_000
MAX_DESCRIPTION = 50_000

# Dates further off than this are refused here: the service's own window (a day to a year for the
# pledge deadline, two years more for the escrow) is far inside it, and date arithmetic near the
# calendar's ends would overflow.
DATE_SPAN = timedelta(days=3650)

GOAL_MESSAGE = f"The goal must be between ${GOAL_MIN_CENTS // 100:,} and ${GOAL_MAX_CENTS // 100:,}."

# Where a proposal stands in "Fund review" (`bounties.selectors.Proposal.status`).
PROPOSAL_STATUSES = [
    ("draft", "Draft: not submitted"),
    ("in_review", "In review: waiting for an editor"),
    ("changes_requested", "Changes requested: see the comment"),
    ("approved", "Approved: goes live at go_live_at"),
    ("live", "Live: published on the site"),
    ("cancelled", "Cancelled: the review was cancelled"),
    ("unpublished", "Unpublished: was live once, or approved without being published"),
]


class NearDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time (with a UTC offset, or the site's time zone) within ten years of now."""

    default_error_messages = {"far": "Give a date within ten years of today."}

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="an ISO 8601 string such as 2027-01-31T18:00:00Z")
        moment = super().to_internal_value(value)
        now = timezone.now()
        if not now - DATE_SPAN <= moment <= now + DATE_SPAN:
            self.fail("far")
        return moment


class ProposalRequestSerializer(serializers.Serializer):
    """A new fund proposed by its creator, as `proposal_submit` takes it (`PROPOSAL_FIELDS`).

    The API takes no image: a creator adds one on the site's proposal form, or an editor in the
    admin. Amounts are integer cents; dates are ISO 8601.
    """

    title = StrictCharField(max_length=MAX_TITLE, help_text="What the fund pays for, in a few words.")
    acceptance_criteria = StrictCharField(
        max_length=MAX_CRITERIA,
        help_text="What counts as done: the test a claim must pass, in plain words. Backers vote against it.",
    )
    summary = StrictCharField(
        max_length=MAX_SUMMARY, help_text="One or two sentences, shown in lists and link previews."
    )
    description = StrictCharField(
        max_length=MAX_DESCRIPTION,
        required=False,
        allow_blank=True,
        help_text="The page's text; a blank line starts a new paragraph.",
    )
    goal_cents = StrictIntegerField(
        min_value=GOAL_MIN_CENTS,
        max_value=GOAL_MAX_CENTS,
        error_messages={"min_value": GOAL_MESSAGE, "max_value": GOAL_MESSAGE},
        help_text="The target in cents, as a JSON integer (500000 is 5,000.00).",
    )
    pledge_deadline = NearDateTimeField(
        help_text="Pledges are taken until this moment: between a day and a year from now."
    )
    escrow_until = NearDateTimeField(
        help_text=(
            "Money stays in escrow until this moment: on or after the pledge deadline, and within two "
            "years of it."
        )
    )
    failure_policy = serializers.ChoiceField(
        choices=FailurePolicy.choices,
        help_text="What happens to the money when nobody wins by the escrow date.",
    )
    beneficiary_name = StrictCharField(
        max_length=MAX_BENEFICIARY,
        required=False,
        allow_blank=True,
        help_text="Who receives the money if nobody wins: required with the `beneficiary` policy.",
    )
    vote_window_hours = StrictIntegerField(
        min_value=24, max_value=14 * 24, default=72, help_text="How long backers vote on a claim, in hours."
    )
    quorum_percent = StrictIntegerField(
        min_value=0,
        max_value=100,
        default=10,
        help_text="Share of the escrowed money that must vote for a claim decision to count.",
    )
    hashtag = StrictCharField(
        max_length=MAX_HASHTAG,
        required=False,
        allow_blank=True,
        validators=[RegexValidator(r"^\w+$", "Letters, digits and underscores only, without the #.")],
        help_text="Added to the fund's announcements, without the #.",
    )


class ProposalSerializer(serializers.Serializer):
    """A creator's proposal and where it stands in review (`bounties.selectors.Proposal`)."""

    id = serializers.IntegerField(source="page.pk", help_text="The fund's id (its page).")
    title = serializers.CharField(source="page.title")
    status = serializers.ChoiceField(choices=PROPOSAL_STATUSES, help_text="Where it stands in review.")
    comment = serializers.CharField(help_text="The editor's comment when changes were requested, else blank.")
    submitted_at = serializers.DateTimeField(allow_null=True, help_text="When it was last sent for review.")
    go_live_at = serializers.DateTimeField(
        allow_null=True, help_text="Approved with a go-live date still ahead: when it goes live."
    )
    url = serializers.SerializerMethodField(help_text="The fund's public page once it is live, else null.")
    goal_cents = serializers.IntegerField(source="page.goal_cents")
    pledge_deadline = serializers.DateTimeField(source="page.pledge_deadline")
    escrow_until = serializers.DateTimeField(source="page.escrow_until")
    failure_policy = serializers.ChoiceField(source="page.failure_policy", choices=FailurePolicy.choices)
    beneficiary_name = serializers.CharField(source="page.beneficiary_name")
    vote_window_hours = serializers.IntegerField(source="page.vote_window_hours")
    quorum_percent = serializers.IntegerField(source="page.quorum_percent")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, proposal) -> str | None:
        if proposal.status != "live":
            return None
        return proposal.page.get_full_url(request=self.context.get("request"))
