"""API serializers for claims, votes and settlement choices: parse and shape JSON only.

The rules (shares adding up, a reject's reason, who may vote) are the services'
(`bounties.services.claims`, `bounties.services.settlement`); these check types and sizes
only, so a wrong type is a 400 with the service's code and never reaches the database.
"""

from django.core.validators import RegexValidator, URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bounties.models import Claim, ClaimStatus, EventKind, Pledge, SettlementChoice, TimelineEvent
from bounties.services.claims import FULL_SHARE_BP, MAX_REASON, MAX_STATEMENT
from bounties.services.settlement import choice_of, default_choice

# Ids are PostgreSQL integers: larger ones could never match, and are refused before the query.
MAX_ID = 2**31 - 1
MAX_CO_CLAIMANTS = 20


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer. Strings, floats and booleans are refused, never coerced."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string. DRF's own turns 5 into "5"; here a number, list or object is refused."""

    default_error_messages = {"invalid": "Send this as a JSON string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON `true` or `false`; DRF's own would also take "yes", "1" and 0."""

    default_error_messages = {"invalid": "Send true to approve or false to reject (a JSON boolean)."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# --- Claims ----------------------------------------------------------------------------------------


class CoClaimantSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150, help_text="A registered user's username.")
    share_bp = StrictIntegerField(
        min_value=1,
        max_value=FULL_SHARE_BP,
        help_text="Their share of the award in basis points (10,000 is all of it).",
    )


class ClaimRequestSerializer(serializers.Serializer):
    statement = StrictCharField(
        max_length=MAX_STATEMENT,
        validators=[RegexValidator(r"\S", "Describe the work.")],
        help_text="What was done (not blank).",
    )
    url = StrictCharField(
        max_length=500,
        validators=[
            RegexValidator(r"^https?://", "The link must start with https:// or http://."),
            URLValidator(schemes=["http", "https"], message="Enter the web address of the work."),
        ],
        help_text="A link to the work: a web address starting with https:// or http://.",
    )
    co_claimants = CoClaimantSerializer(
        many=True,
        required=False,
        max_length=MAX_CO_CLAIMANTS,
        help_text=(
            "Others who share the award. Without yourself in the list you take what their shares leave; "
            "list yourself too to give every share, which must then add up to 10,000."
        ),
    )


class ClaimantSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    share_bp = serializers.IntegerField()


class ClaimSerializer(serializers.ModelSerializer):
    """A claim and its live tally, in cents of the backers' eligible weight."""

    fund = serializers.IntegerField(source="fund_id", help_text="The fund's id.")
    status = serializers.ChoiceField(choices=ClaimStatus.choices)
    submitted_by = serializers.CharField(source="user.username", help_text="The claimant who submitted it.")
    quorum_cents = serializers.IntegerField(
        help_text="The turnout (approve + reject) a decision at the window's close needs."
    )
    # A string, not a `uri`: a web address may have a non-ASCII host (an IRI).
    url = serializers.CharField(help_text="The link to the work.")
    voting_closes_at = serializers.DateTimeField(source="closes_at")
    claimants = ClaimantSerializer(many=True, help_text="Who shares the award, largest share first.")

    class Meta:
        model = Claim
        fields = [
            "id",
            "fund",
            "status",
            "statement",
            "url",
            "submitted_by",
            "submitted_at",
            "voting_closes_at",
            "extended",
            "decided_at",
            "eligible_cents",
            "approve_cents",
            "reject_cents",
            "quorum_cents",
            "quorum_percent",
            "claimants",
        ]
        read_only_fields = fields

    def to_representation(self, claim):
        data = super().to_representation(claim)
        data["claimants"].sort(key=lambda member: -member["share_bp"])
        return data


class TimelineEventSerializer(serializers.ModelSerializer):
    """One public event; a vote's side, weight and reason are lifted out of `data`."""

    kind = serializers.ChoiceField(choices=EventKind.choices)
    username = serializers.SerializerMethodField(help_text="Who did it (null for the system's own events).")
    approve = serializers.SerializerMethodField(help_text="Votes: true to approve, false to reject.")
    weight_cents = serializers.SerializerMethodField(help_text="Votes: the voter's weight in cents.")
    reason = serializers.SerializerMethodField(help_text="Votes: the reason given (required to reject).")
    data = serializers.DictField(help_text="Every fact recorded with the event.")

    class Meta:
        model = TimelineEvent
        fields = ["at", "kind", "username", "approve", "weight_cents", "reason", "data"]
        read_only_fields = fields

    def get_username(self, event) -> str | None:
        return event.user.username if event.user_id else None

    def get_approve(self, event) -> bool | None:
        return event.data.get("approve")

    def get_weight_cents(self, event) -> int | None:
        return event.data.get("weight_cents")

    def get_reason(self, event) -> str | None:
        return event.data.get("reason")


class ClaimDetailSerializer(ClaimSerializer):
    timeline = serializers.SerializerMethodField(help_text="What happened to the claim, oldest first.")

    class Meta(ClaimSerializer.Meta):
        fields = [*ClaimSerializer.Meta.fields, "timeline"]
        read_only_fields = fields

    @extend_schema_field(TimelineEventSerializer(many=True))
    def get_timeline(self, claim):
        return TimelineEventSerializer(self.context["timeline"], many=True).data


# --- Votes -----------------------------------------------------------------------------------------


class VoteRequestSerializer(serializers.Serializer):
    approve = StrictBooleanField(help_text="true to approve the claim, false to reject it.")
    reason = StrictCharField(
        max_length=MAX_REASON,
        required=False,
        allow_blank=True,
        help_text="Why (required to reject): shown publicly on the claim with your username.",
    )


class VoteSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField()
    weight_cents = serializers.IntegerField(help_text="Your weight: your escrow in the fund at submission.")
    changed = serializers.BooleanField(help_text="You had voted otherwise (or with another reason) before.")


class VoteResultSerializer(ClaimSerializer):
    """The claim's tally after the vote (its status may now be decided), and the vote itself."""

    vote = serializers.SerializerMethodField()

    class Meta(ClaimSerializer.Meta):
        fields = [*ClaimSerializer.Meta.fields, "vote"]
        read_only_fields = fields

    @extend_schema_field(VoteSerializer)
    def get_vote(self, claim):
        vote = self.context["vote"]
        return {
            "approve": vote.approve,
            "reason": vote.reason,
            "weight_cents": vote.weight_cents,
            "changed": self.context["changed"],
        }


# --- Settlement choices ----------------------------------------------------------------------------


class SettlementRequestSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(
        choices=SettlementChoice.choices,
        help_text="Where the pledge goes if its escrow date passes with no winner.",
    )
    fund = StrictIntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="With `fund`: the id of the other open fund to pledge the money to.",
    )


class PledgeSettlementSerializer(serializers.ModelSerializer):
    """A pledge's settlement: what happens to it if nobody wins by its escrow date."""

    fund = serializers.IntegerField(source="fund_id", help_text="The pledge's fund.")
    choice = serializers.SerializerMethodField(help_text="The backer's choice, or the default if none.")
    chosen = serializers.SerializerMethodField(help_text="False while the default of the terms applies.")
    default_choice = serializers.SerializerMethodField(help_text="What the pledge's terms say by default.")
    settlement_fund = serializers.IntegerField(
        source="settlement_fund_id", allow_null=True, help_text="With `fund`: the fund it goes to."
    )

    class Meta:
        model = Pledge
        fields = [
            "id",
            "fund",
            "amount_cents",
            "status",
            "escrow_until",
            "beneficiary_name",
            "choice",
            "chosen",
            "default_choice",
            "settlement_fund",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=SettlementChoice.choices))
    def get_choice(self, pledge) -> str:
        return choice_of(pledge)

    def get_chosen(self, pledge) -> bool:
        return bool(pledge.settlement_choice)

    @extend_schema_field(serializers.ChoiceField(choices=SettlementChoice.choices))
    def get_default_choice(self, pledge) -> str:
        return default_choice(pledge)
