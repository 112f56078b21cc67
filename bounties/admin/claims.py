"""Read-only admin views of claims (with their votes, tallies and timelines) and of card refunds.

Nothing here changes a claim or a refund: the services decide claims and record refunds;
staff read what happened, filter, and follow links to the transfers.
"""

import django_filters
from django.template.loader import render_to_string
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn

from bounties.admin.base import MoneyColumn, MoneyInspectView, ReadOnlyModelViewSet, fund_column, user_column
from bounties.admin.filters import FundFilter, date_filter, username_filter
from bounties.models import Claim, ClaimStatus, Refund, RefundStatus
from bounties.selectors import claim_tally, timeline


class ClaimFilterSet(WagtailFilterSet):
    status = django_filters.ChoiceFilter(choices=ClaimStatus.choices)
    fund = FundFilter()
    user = username_filter()
    submitted_at = date_filter("submitted_at", "Submitted")

    class Meta:
        model = Claim
        fields = ["status", "fund", "user", "submitted_at"]


class ClaimInspectView(MoneyInspectView):
    extra_labels = {"tally": "Tally", "votes": "Votes", "events": "Timeline"}

    def get_tally_display_value(self):
        return render_to_string("bounties/admin/claim_tally.html", {"tally": claim_tally(claim=self.object)})

    def get_votes_display_value(self):
        votes = self.object.votes.select_related("user").order_by("-weight_cents", "pk")
        return render_to_string("bounties/admin/claim_votes.html", {"votes": votes})

    def get_events_display_value(self):
        events = timeline(claim_id=self.object.pk)
        return render_to_string("bounties/admin/claim_timeline.html", {"events": events})


class ClaimViewSet(ReadOnlyModelViewSet):
    model = Claim
    name = "money_claims"
    url_prefix = "money/claims"
    icon = "gavel"
    menu_label = "Claims"
    filterset_class = ClaimFilterSet
    inspect_view_class = ClaimInspectView
    search_fields = ["user__username", "fund__page__title", "statement"]
    queryset = Claim.objects.select_related("user", "fund__page")
    money_fields = {"eligible_cents": "Eligible weight", "approve_cents": "Approve", "reject_cents": "Reject"}
    list_display = [
        "id",
        user_column(),
        fund_column(),
        "status",
        MoneyColumn("eligible_cents", label="Eligible", sort_key="eligible_cents"),
        MoneyColumn("approve_cents", label="Approve", sort_key="approve_cents"),
        MoneyColumn("reject_cents", label="Reject", sort_key="reject_cents"),
        DateColumn("closes_at", label="Voting closes", sort_key="closes_at"),
    ]
    inspect_view_fields = [
        "fund",
        "user",
        "status",
        "statement",
        "url",
        "eligible_cents",
        "approve_cents",
        "reject_cents",
        "quorum_percent",
        "vote_window_hours",
        "submitted_at",
        "closes_at",
        "extended",
        "decided_at",
        "award_transfer",
        "tally",
        "votes",
        "events",
    ]


class RefundFilterSet(WagtailFilterSet):
    status = django_filters.ChoiceFilter(choices=RefundStatus.choices)
    user = username_filter("cashout__user__username")
    created_at = date_filter()

    class Meta:
        model = Refund
        fields = ["status", "user", "created_at"]


def refund_user(refund):
    return refund.cashout.user.get_username()


class RefundViewSet(ReadOnlyModelViewSet):
    """Card refunds of cash-outs; filter by status "failed" for the ones returned to wallets."""

    model = Refund
    name = "money_refunds"
    url_prefix = "money/refunds"
    icon = "undo"
    menu_label = "Card refunds"
    filterset_class = RefundFilterSet
    search_fields = ["cashout__user__username", "provider_id"]
    queryset = Refund.objects.select_related("cashout__user", "deposit")
    money_fields = {"amount_cents": "Amount"}
    list_display = [
        "id",
        Column("user", label="User", accessor=refund_user, sort_key="cashout__user__username"),
        MoneyColumn("amount_cents", label="Amount", sort_key="amount_cents"),
        "status",
        "failure_reason",
        DateColumn("created_at", label="Created", sort_key="created_at"),
    ]
    inspect_view_fields = [
        "cashout",
        "deposit",
        "amount_cents",
        "status",
        "provider_id",
        "failure_reason",
        "reversal_transfer",
        "created_at",
        "updated_at",
    ]
