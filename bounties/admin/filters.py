"""Filters for the money listings: a fund by its page title, a typed username, a date range."""

import django_filters
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet

from bounties.models import (
    Account,
    Deposit,
    Fund,
    Outbox,
    Pledge,
    Transfer,
    WebhookEvent,
)


class FundChoiceField(django_filters.fields.ModelChoiceField):
    def label_from_instance(self, fund):
        return fund.page.title


class FundFilter(django_filters.ModelChoiceFilter):
    """Pick a fund by its page title."""

    field_class = FundChoiceField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", "Fund")
        kwargs.setdefault("queryset", Fund.objects.select_related("page").order_by("page__title"))
        super().__init__(*args, **kwargs)


def username_filter(field_name="user__username"):
    # A typed username, not a select: a site with many backers cannot list them all in a dropdown.
    return django_filters.CharFilter(field_name=field_name, lookup_expr="iexact", label="Username")


def date_filter(field_name="created_at", label="Created"):
    return django_filters.DateFromToRangeFilter(
        field_name=field_name, label=label, widget=DateRangePickerWidget
    )


class TransferFilterSet(WagtailFilterSet):
    fund = FundFilter()
    user = username_filter()
    created = date_filter()

    class Meta:
        model = Transfer
        fields = ["fund", "user", "kind", "created"]


class PledgeFilterSet(WagtailFilterSet):
    fund = FundFilter()
    user = username_filter()
    created = date_filter()

    class Meta:
        model = Pledge
        fields = ["fund", "user", "status", "created"]


class WalletFilterSet(WagtailFilterSet):
    user = username_filter()
    fund = FundFilter(label="Backed fund", method="filter_backed_fund")

    class Meta:
        model = Account
        fields = ["user", "fund"]

    def filter_backed_fund(self, queryset, name, fund):
        # A subquery, not a join: a backer with several pledges to the fund is still one row.
        return queryset.filter(user__in=Pledge.objects.filter(fund=fund).values("user"))


class DepositFilterSet(WagtailFilterSet):
    fund = FundFilter(label="Fund (card pledges)", field_name="pledge__fund")
    user = username_filter()
    created = date_filter()
    needs_review = django_filters.BooleanFilter(label="Needs review")

    class Meta:
        model = Deposit
        fields = ["needs_review", "fund", "user", "status", "gateway", "created"]


class WebhookEventFilterSet(WagtailFilterSet):
    type = django_filters.CharFilter(label="Type", lookup_expr="iexact")
    received = date_filter("received_at", "Received")

    class Meta:
        model = WebhookEvent
        fields = ["outcome", "type", "received"]


class OutboxFilterSet(WagtailFilterSet):
    event = django_filters.CharFilter(label="Event", lookup_expr="iexact")
    created = date_filter()

    class Meta:
        model = Outbox
        fields = ["status", "channel", "event", "created"]
