"""One read-only viewset per money listing, and the "Money" menu that groups them."""

from urllib.parse import urlencode

from django.db.models import IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import path, reverse
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.viewsets.model import ModelViewSetGroup

from bounties.admin.announcements import OutboxInspectView, OutboxNoteColumn, OutboxRetryView
from bounties.admin.base import (
    MoneyColumn,
    MoneyInspectView,
    ReadOnlyModelViewSet,
    account_label,
    fund_column,
    user_column,
)
from bounties.admin.claims import ClaimViewSet, RefundViewSet
from bounties.admin.filters import (
    DepositFilterSet,
    OutboxFilterSet,
    PledgeFilterSet,
    TransferFilterSet,
    WalletFilterSet,
    WebhookEventFilterSet,
)
from bounties.admin.payouts import PayoutViewSet
from bounties.models import (
    Account,
    AccountKind,
    Deposit,
    Entry,
    Outbox,
    Pledge,
    PledgeStatus,
    Transfer,
    WebhookEvent,
)


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
    inspect_view_class = OutboxInspectView
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
        OutboxNoteColumn(),
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

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [path("retry/<int:pk>/", OutboxRetryView.as_view(), name="retry")]


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
        PayoutViewSet,
        ClaimViewSet,
        RefundViewSet,
    )
