"""Read-only Wagtail admin views of the money: transfers, pledges, wallets, deposits, webhook events, outbox.

Money rows are written only by the bounty services, inside their transactions and
beside their ledger entries. An edited pledge or a deleted transfer would break the
ledger's invariants, so these views can list, filter and inspect, and nothing else:
there is no add, edit, copy or delete URL, and the permission policy refuses those
actions to everyone, superusers included. A user sees a view when they are a
superuser or hold `bounties.view_<model>` (the only permission offered in the group
editor); Wagtail's Editors group holds none, so editors do not see money.
"""

import json
from urllib.parse import urlencode

import django_filters
from django.contrib.auth import get_permission_codename, get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup
from wagtail.permission_policies import ModelPermissionPolicy

from bounties.models import (
    Account,
    AccountKind,
    Deposit,
    Entry,
    Fund,
    Outbox,
    Pledge,
    PledgeStatus,
    Transfer,
    WebhookEvent,
)
from bounties.templatetags.fundfill_tags import money


class ReadOnlyPermissionPolicy(ModelPermissionPolicy):
    """Grants "view" by the model's Django permission (or to superusers) and no other action to anyone."""

    def user_has_permission(self, user, action):
        return action == "view" and super().user_has_permission(user, action)

    def users_with_any_permission(self, actions):
        if "view" not in actions:
            return get_user_model().objects.none()
        return super().users_with_any_permission(["view"])


# Registered in wagtail_hooks.py, before any view can create Wagtail's fallback policy.
MONEY_MODELS = (Transfer, Pledge, Account, Deposit, WebhookEvent, Outbox)


# --- Filters ---------------------------------------------------------------------------------------


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


# --- Columns and views -----------------------------------------------------------------------------


class MoneyColumn(Column):
    """Integer cents shown as money ("$12.50"); sorts by the cents."""

    def get_value(self, instance):
        return money(super().get_value(instance))


def fund_title(obj):
    return obj.fund.page.title if obj.fund_id else ""


def username(obj):
    return obj.user.get_username() if obj.user_id else ""


def fund_column():
    return Column("fund", label="Fund", accessor=fund_title, sort_key="fund__page__title")


def user_column():
    return Column("user", label="User", accessor=username, sort_key="user__username")


def account_label(account):
    if account.user_id:
        return f"{account.get_kind_display()} of {account.user.get_username()}"
    if account.fund_id:
        return f"{account.get_kind_display()} of {account.fund.page.title}"
    return "The outside world (cards and payouts)"


INSPECT_URL_NAMES = {
    Transfer: "money_transfers:inspect",
    Pledge: "money_pledges:inspect",
    Deposit: "money_deposits:inspect",
}


def describe_related(obj):
    """A related row in words, linked to its own inspect view when it is money."""
    if obj is None:
        return ""
    if isinstance(obj, Fund):
        return obj.page.title
    if isinstance(obj, get_user_model()):
        return obj.get_username()
    if isinstance(obj, Pledge):
        text = f"Pledge #{obj.pk}: {money(obj.amount_cents)}, {obj.get_status_display().lower()}"
    else:
        text = str(obj)
    if url_name := INSPECT_URL_NAMES.get(type(obj)):
        return format_html('<a href="{}">{}</a>', reverse(url_name, args=(obj.pk,)), text)
    return text


class MoneyIndexView(IndexView):
    """The generic listing, counting rows by the viewset's own name."""

    def get_paginator(self, *args, **kwargs):
        paginator = super().get_paginator(*args, **kwargs)
        # Count in the listing's own words ("2 wallets"), not the model's ("2 accounts").
        paginator.verbose_name = self.verbose_name
        paginator.verbose_name_plural = self.verbose_name_plural
        return paginator


class MoneyInspectView(InspectView):
    """Inspects only rows of the viewset's queryset; shows cents as money and JSON readably."""

    queryset = None
    index_label = ""
    money_fields = {}  # field or annotation name -> label
    extra_labels = {}  # non-field name -> label, for get_<name>_display_value methods

    def get_breadcrumbs_items(self):
        # The generic view names the model ("Accounts"); say what this listing holds ("Wallets").
        index_url = reverse(self.index_url_name)
        return [
            {**item, "label": self.index_label} if item.get("url") == index_url else item
            for item in super().get_breadcrumbs_items()
        ]

    def get_object(self, queryset=None):
        return get_object_or_404(self.queryset if self.queryset is not None else self.model, pk=self.pk)

    def get_field_label(self, field_name, field):
        if field_name in self.money_fields:
            return self.money_fields[field_name]
        if field_name in self.extra_labels:
            return self.extra_labels[field_name]
        return super().get_field_label(field_name, field)

    def get_field_display_value(self, field_name, field):
        if field_name in self.money_fields:
            return money(getattr(self.object, field_name))
        if field is not None and (field.many_to_one or field.one_to_one):
            return describe_related(getattr(self.object, field_name))
        value = super().get_field_display_value(field_name, field)
        if isinstance(value, dict | list):
            return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))
        return value


class TransferInspectView(MoneyInspectView):
    extra_labels = {"entries": "Entries (they sum to zero)"}

    def get_entries_display_value(self):
        entries = (
            Entry.objects.filter(transfer=self.object)
            .select_related("account__user", "account__fund__page")
            .order_by("amount", "pk")
        )
        rows = [{"account": account_label(e.account), "amount": e.amount} for e in entries]
        return render_to_string("bounties/admin/transfer_entries.html", {"entries": rows})


class WalletInspectView(MoneyInspectView):
    extra_labels = {"activity": "Activity"}

    def get_page_subtitle(self):
        return f"Wallet of {self.object.user.get_username()}"

    def get_activity_display_value(self):
        query = "?" + urlencode({"user": self.object.user.get_username()})
        return render_to_string(
            "bounties/admin/wallet_activity.html",
            {
                "transfers_url": reverse("money_transfers:index") + query,
                "pledges_url": reverse("money_pledges:index") + query,
                "deposits_url": reverse("money_deposits:index") + query,
            },
        )


class ReadOnlyModelViewSet(ModelViewSet):
    """A ModelViewSet with only the index and inspect views, over an optional custom queryset."""

    index_view_class = MoneyIndexView
    inspect_view_class = MoneyInspectView
    inspect_view_enabled = True
    copy_view_enabled = False
    # Money rows reference no content; indexing them would only add queries to every pledge.
    add_to_reference_index = False
    list_per_page = 50
    queryset = None
    money_fields = {}
    verbose_name = None
    verbose_name_plural = None

    def get_queryset(self):
        return self.queryset if self.queryset is not None else self.model._default_manager.all()

    def get_common_view_kwargs(self, **kwargs):
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        # These views are not routed (see get_urlpatterns): leave no name a template could reverse.
        for name in ("add", "edit", "delete", "history", "usage", "copy"):
            view_kwargs[f"{name}_url_name"] = None
        return view_kwargs

    def get_names_kwargs(self):
        # A viewset over part of a model (wallets among accounts) names itself, not the model.
        if not self.verbose_name_plural:
            return {}
        return {
            "verbose_name": self.verbose_name,
            "verbose_name_plural": self.verbose_name_plural,
            "page_title": capfirst(self.verbose_name_plural),
        }

    def get_index_view_kwargs(self, **kwargs):
        return super().get_index_view_kwargs(
            queryset=self.get_queryset(), **self.get_names_kwargs(), **kwargs
        )

    def get_inspect_view_kwargs(self, **kwargs):
        return super().get_inspect_view_kwargs(
            queryset=self.get_queryset(),
            money_fields=self.money_fields,
            index_label=capfirst(self.verbose_name_plural or self.model_opts.verbose_name_plural),
            **kwargs,
        )

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
        ]

    def register_admin_url_finder(self):
        # No edit view to point to: Wagtail's "edit this object" links stay absent.
        pass

    def get_permissions_to_register(self):
        content_type = ContentType.objects.get_for_model(self.model)
        return Permission.objects.filter(
            content_type=content_type, codename=get_permission_codename("view", self.model_opts)
        )


class TransferViewSet(ReadOnlyModelViewSet):
    model = Transfer
    name = "money_transfers"
    url_prefix = "money/transfers"
    icon = "list-ul"
    menu_label = "Transfers"
    inspect_view_class = TransferInspectView
    filterset_class = TransferFilterSet
    search_fields = ["user__username", "memo", "idempotency_key"]
    queryset = Transfer.objects.select_related("user", "fund__page").annotate(
        # A balanced transfer moves the sum of its positive legs.
        amount_cents=Coalesce(Sum("entries__amount", filter=Q(entries__amount__gt=0)), Value(0))
    )
    money_fields = {"amount_cents": "Amount"}
    list_display = [
        "id",
        "kind",
        MoneyColumn("amount_cents", label="Amount", sort_key="amount_cents"),
        user_column(),
        fund_column(),
        "memo",
        DateColumn("created_at", label="Created", sort_key="created_at"),
    ]
    inspect_view_fields = [
        "kind",
        "amount_cents",
        "user",
        "fund",
        "memo",
        "idempotency_key",
        "created_at",
        "entries",
    ]


class PledgeViewSet(ReadOnlyModelViewSet):
    model = Pledge
    name = "money_pledges"
    url_prefix = "money/pledges"
    icon = "tag"
    menu_label = "Pledges"
    filterset_class = PledgeFilterSet
    search_fields = ["user__username", "fund__page__title", "key"]
    queryset = Pledge.objects.select_related("user", "fund__page")
    money_fields = {"amount_cents": "Amount"}
    list_display = [
        "id",
        user_column(),
        fund_column(),
        MoneyColumn("amount_cents", label="Amount", sort_key="amount_cents"),
        "status",
        DateColumn("created_at", label="Created", sort_key="created_at"),
    ]
    inspect_view_fields = [
        "user",
        "fund",
        "amount_cents",
        "status",
        "key",
        "transfer",
        "release_transfer",
        "note",
        "created_at",
        "updated_at",
    ]


class WalletViewSet(ReadOnlyModelViewSet):
    model = Account
    name = "money_wallets"
    url_prefix = "money/wallets"
    icon = "user"
    menu_label = "Wallets"
    verbose_name = "wallet"
    verbose_name_plural = "wallets"
    inspect_view_class = WalletInspectView
    filterset_class = WalletFilterSet
    search_fields = ["user__username", "user__email"]
    queryset = (
        Account.objects.filter(kind=AccountKind.WALLET)
        .select_related("user")
        .annotate(
            in_escrow_cents=Coalesce(
                Subquery(
                    Pledge.objects.filter(user=OuterRef("user"), status=PledgeStatus.ACTIVE)
                    .order_by()
                    .values("user")
                    .annotate(total=Sum("amount_cents"))
                    .values("total")
                ),
                Value(0),
                output_field=IntegerField(),
            )
        )
    )
    ordering = "-balance"
    money_fields = {"balance": "Balance", "in_escrow_cents": "In escrow (active pledges)"}
    list_display = [
        "user",
        MoneyColumn("balance", label="Balance", sort_key="balance"),
        MoneyColumn("in_escrow_cents", label="In escrow", sort_key="in_escrow_cents"),
        DateColumn("created_at", label="Opened", sort_key="created_at"),
    ]
    inspect_view_fields = ["user", "balance", "in_escrow_cents", "created_at", "activity"]


class DepositViewSet(ReadOnlyModelViewSet):
    model = Deposit
    name = "money_deposits"
    url_prefix = "money/deposits"
    icon = "download"
    menu_label = "Deposits"
    filterset_class = DepositFilterSet
    search_fields = ["user__username", "provider_id"]
    queryset = Deposit.objects.select_related("user")
    money_fields = {"amount_cents": "Amount"}
    list_display = [
        "id",
        user_column(),
        MoneyColumn("amount_cents", label="Amount", sort_key="amount_cents"),
        "status",
        Column(
            "needs_review",
            label="Needs review",
            # A signed event disagreed with the deposit and credited nothing: staff check the provider.
            accessor=lambda deposit: "Needs review" if deposit.needs_review else "",
            sort_key="needs_review",
        ),
        "gateway",
        Column(
            "pledge",
            label="For pledge",
            accessor=lambda deposit: f"#{deposit.pledge_id}" if deposit.pledge_id else "",
            sort_key="pledge_id",
        ),
        DateColumn("created_at", label="Created", sort_key="created_at"),
    ]
    inspect_view_fields = [
        "uuid",
        "user",
        "amount_cents",
        "status",
        "needs_review",
        "review_note",
        "decline_reason",
        "gateway",
        "provider_id",
        "transfer",
        "pledge",
        "created_at",
        "updated_at",
    ]


class WebhookEventViewSet(ReadOnlyModelViewSet):
    model = WebhookEvent
    name = "money_webhook_events"
    url_prefix = "money/webhook-events"
    icon = "redirect"
    menu_label = "Webhook events"
    filterset_class = WebhookEventFilterSet
    search_fields = ["event_id", "type"]
    ordering = "-received_at"
    list_display = [
        "event_id",
        "type",
        "outcome",
        "note",
        DateColumn("received_at", label="Received", sort_key="received_at"),
    ]
    inspect_view_fields = ["event_id", "type", "outcome", "note", "received_at", "payload"]


class OutboxViewSet(ReadOnlyModelViewSet):
    model = Outbox
    name = "money_outbox"
    url_prefix = "money/outbox"
    icon = "mail"
    menu_label = "Outbox"
    filterset_class = OutboxFilterSet
    search_fields = ["dedupe_key", "event"]
    ordering = "-created_at"
    list_display = [
        "dedupe_key",
        "event",
        "channel",
        "status",
        "attempts",
        DateColumn("next_attempt_at", label="Next attempt", sort_key="next_attempt_at"),
        DateColumn("sent_at", label="Sent", sort_key="sent_at"),
    ]
    inspect_view_fields = [
        "dedupe_key",
        "event",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "sent_at",
        "provider_message_id",
        "last_error",
        "created_at",
        "payload",
    ]


class MoneyViewSetGroup(ModelViewSetGroup):
    """The "Money" menu: shown to a user only when they may view at least one of its items."""

    menu_label = "Money"
    menu_icon = "decimal"
    menu_order = 250
    items = (
        TransferViewSet,
        PledgeViewSet,
        WalletViewSet,
        DepositViewSet,
        WebhookEventViewSet,
        OutboxViewSet,
    )
