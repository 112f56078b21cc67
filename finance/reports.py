"""The Finance reports: Wagtail report views (`ReportView`) with their filters and CSV/XLSX export.

Each filters the rows it reports on with a Wagtail filter set (a date range, and what else
makes sense), then aggregates them in SQL through `finance.selectors`. Exports carry amounts
as whole cents (integers a spreadsheet sums exactly); the listing shows them as money.
"""

import datetime

import django_filters
from django.db.models import Q
from django.urls import path
from django.utils.functional import cached_property
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.reports import ReportView

from bounties.admin.base import MoneyColumn
from bounties.admin.filters import FundFilter, date_filter
from bounties.models import Claim, Fund, Payout, Pledge, Refund
from finance import selectors
from finance.views import FinanceOnlyMixin

CENTS = "Amount (cents)"


class FinanceReport(FinanceOnlyMixin, ReportView):
    """A report for Finance staff only; `aggregate` turns the filtered rows into the report's rows."""

    header_icon = "table"
    name = ""  # the URL name (finance:report_<name>) and the export's file name

    @cached_property
    def permission_policy(self):
        return None  # Finance membership is the check (FinanceOnlyMixin), not a model permission

    def get_base_queryset(self):
        return self.model._default_manager.all()

    def get_paginator(self, *args, **kwargs):
        # Count the report's rows ("3 rows"), not the model's ("3 pledges": a row sums many).
        paginator = super().get_paginator(*args, **kwargs)
        paginator.verbose_name, paginator.verbose_name_plural = "row", "rows"
        return paginator

    def aggregate(self, rows):
        return rows

    def get_queryset(self):
        return self.aggregate(self.filter_queryset(self.get_base_queryset()))

    def get_filename(self):
        return f"fundfill-{self.name}-{datetime.date.today():%Y-%m-%d}"


class PledgeReportFilterSet(WagtailFilterSet):
    fund = FundFilter()
    created = date_filter(label="Pledged")

    class Meta:
        model = Pledge
        fields = ["fund", "created"]


class PledgesByFundAndDayReport(FinanceReport):
    name = "pledges"
    page_title = "Pledges by fund and day"
    model = Pledge
    filterset_class = PledgeReportFilterSet
    columns = [
        Column("day", label="Day"),
        Column("fund_title", label="Fund"),
        Column("pledges", label="Pledges"),
        Column("backers", label="Backers"),
        MoneyColumn("cents", label="Pledged"),
    ]
    list_export = ["day", "fund_title", "pledges", "backers", "cents"]
    export_headings = {
        "day": "Day",
        "fund_title": "Fund",
        "pledges": "Pledges",
        "backers": "Backers",
        "cents": CENTS,
    }

    def aggregate(self, rows):
        return selectors.pledges_by_fund_and_day(rows)


class BackersFilterSet(WagtailFilterSet):
    pledged = django_filters.DateFromToRangeFilter(
        label="Pledged", widget=DateRangePickerWidget, method="count_only"
    )

    class Meta:
        model = Fund
        fields = ["pledged"]

    def count_only(self, queryset, name, value):
        # The range narrows which pledges are counted (BackersPerFundReport), not which funds exist.
        return queryset


class BackersPerFundReport(FinanceReport):
    name = "backers"
    page_title = "Backers per fund"
    model = Fund
    filterset_class = BackersFilterSet
    columns = [
        Column("fund_title", label="Fund"),
        Column("status", label="State"),
        Column("backers", label="Backers"),
        Column("pledge_count", label="Pledges"),
        MoneyColumn("pledged_total", label="Pledged"),
        MoneyColumn("in_escrow", label="In escrow now"),
    ]
    list_export = ["fund_title", "status", "backers", "pledge_count", "pledged_total", "in_escrow"]
    export_headings = {
        "fund_title": "Fund",
        "status": "State",
        "backers": "Backers",
        "pledge_count": "Pledges",
        "pledged_total": "Pledged (cents)",
        "in_escrow": "In escrow now (cents)",
    }

    def aggregate(self, funds):
        pledged = Q()
        if (
            self.filters
            and self.filters.is_valid()
            and (span := self.filters.form.cleaned_data.get("pledged"))
        ):
            if span.start:
                pledged &= Q(pledges__created_at__date__gte=span.start)
            if span.stop:
                pledged &= Q(pledges__created_at__date__lte=span.stop)
        return selectors.backers_per_fund(funds, pledged=pledged)


class ClaimReportFilterSet(WagtailFilterSet):
    fund = FundFilter()
    submitted = date_filter("submitted_at", "Submitted")

    class Meta:
        model = Claim
        fields = ["status", "fund", "submitted"]


class ClaimsReport(FinanceReport):
    name = "claims"
    page_title = "Claims and outcomes"
    model = Claim
    filterset_class = ClaimReportFilterSet
    columns = [
        Column("pk", label="Claim"),
        Column("fund_title", label="Fund"),
        Column("user", label="Submitted by"),
        Column("claimant_count", label="Claimants"),
        Column("status", label="Outcome", accessor="get_status_display"),
        MoneyColumn("eligible_cents", label="Eligible weight"),
        MoneyColumn("approve_cents", label="Approve"),
        MoneyColumn("reject_cents", label="Reject"),
        MoneyColumn("awarded_cents", label="Awarded"),
        DateColumn("submitted_at", label="Submitted"),
        DateColumn("decided_at", label="Decided"),
    ]
    list_export = [
        "pk",
        "fund_title",
        "user",
        "claimant_count",
        "status",
        "eligible_cents",
        "approve_cents",
        "reject_cents",
        "awarded_cents",
        "submitted_at",
        "decided_at",
    ]
    export_headings = {
        "pk": "Claim",
        "fund_title": "Fund",
        "user": "Submitted by",
        "claimant_count": "Claimants",
        "status": "Outcome",
        "eligible_cents": "Eligible weight (cents)",
        "approve_cents": "Approve (cents)",
        "reject_cents": "Reject (cents)",
        "awarded_cents": "Awarded (cents)",
        "submitted_at": "Submitted",
        "decided_at": "Decided",
    }

    def aggregate(self, claims):
        return selectors.claims_with_outcomes(claims)


class PayoutReportFilterSet(WagtailFilterSet):
    created = date_filter(label="Requested")

    class Meta:
        model = Payout
        fields = ["status", "method", "created"]


DAY_STATUS_COLUMNS = [
    Column("day", label="Day"),
    Column("status", label="State"),
    Column("count", label="How many"),
    MoneyColumn("cents", label="Amount"),
]
DAY_STATUS_HEADINGS = {"day": "Day", "status": "State", "count": "How many", "cents": CENTS}


class PayoutsReport(FinanceReport):
    name = "payouts"
    page_title = "Payouts"
    model = Payout
    filterset_class = PayoutReportFilterSet
    columns = DAY_STATUS_COLUMNS[:2] + [Column("method", label="Method")] + DAY_STATUS_COLUMNS[2:]
    list_export = ["day", "status", "method", "count", "cents"]
    export_headings = {**DAY_STATUS_HEADINGS, "method": "Method"}

    def aggregate(self, payouts):
        return selectors.payouts_by_day(payouts)


class RefundReportFilterSet(WagtailFilterSet):
    created = date_filter(label="Sent")

    class Meta:
        model = Refund
        fields = ["status", "created"]


class RefundsReport(FinanceReport):
    name = "refunds"
    page_title = "Card refunds"
    model = Refund
    filterset_class = RefundReportFilterSet
    columns = DAY_STATUS_COLUMNS
    list_export = ["day", "status", "count", "cents"]
    export_headings = DAY_STATUS_HEADINGS

    def aggregate(self, refunds):
        return selectors.refunds_by_day(refunds)


class SettlementReportFilterSet(WagtailFilterSet):
    fund = FundFilter()
    settled = date_filter("settled_at", "Settled")

    class Meta:
        model = Pledge
        fields = ["fund", "settled"]


class SettlementsReport(FinanceReport):
    name = "settlements"
    page_title = "Settlements"
    model = Pledge
    filterset_class = SettlementReportFilterSet
    columns = [
        Column("day", label="Day"),
        Column("fund_title", label="Fund"),
        Column("status", label="Outcome"),
        Column("pledges", label="Pledges"),
        MoneyColumn("cents", label="Amount"),
    ]
    list_export = ["day", "fund_title", "status", "pledges", "cents"]
    export_headings = {
        "day": "Day",
        "fund_title": "Fund",
        "status": "Outcome",
        "pledges": "Pledges",
        "cents": CENTS,
    }

    def aggregate(self, pledges):
        return selectors.settlements_by_fund(pledges)


REPORTS = [
    PledgesByFundAndDayReport,
    BackersPerFundReport,
    ClaimsReport,
    PayoutsReport,
    RefundsReport,
    SettlementsReport,
]


def urlpatterns():
    patterns = []
    for report in REPORTS:
        index, results = f"report_{report.name}", f"report_{report.name}_results"
        names = {"index_url_name": f"finance:{index}", "index_results_url_name": f"finance:{results}"}
        patterns += [
            path(f"reports/{report.name}/", report.as_view(**names), name=index),
            path(f"reports/{report.name}/results/", report.as_view(results_only=True, **names), name=results),
        ]
    return patterns
