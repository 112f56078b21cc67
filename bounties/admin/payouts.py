"""The payout queue in the Money menu: Finance staff approve, mark paid and mark failed manual payouts.

Only members of the Finance group and superusers see it (`FinancePermissionPolicy`,
registered in `bounties/wagtail_hooks.py`). The listing and inspect views are read-only
like the other money views; each action is a small form view that calls its service
(`bounties.services.payouts`) and reports the outcome as a Wagtail message. The services
check again who may act and what the payout's state allows, so a stale page or a hand-made
POST gets the same refusal as the form.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.auth import permission_denied
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets.button import Button, HeaderButton
from wagtail.log_actions import registry as log_registry
from wagtail.permission_policies import ModelPermissionPolicy

from bounties.admin.base import (
    MoneyColumn,
    MoneyIndexView,
    MoneyInspectView,
    ReadOnlyModelViewSet,
    user_column,
)
from bounties.admin.filters import date_filter, username_filter
from bounties.errors import BountiesError
from bounties.models import Payout, PayoutStatus
from bounties.money import format_cents as money
from bounties.services.payouts import (
    FINANCE_GROUP,
    MANUAL,
    is_finance,
    needs_two_approvals,
    payout_approve,
    payout_fail,
    payout_mark_paid,
)


class FinancePermissionPolicy(ModelPermissionPolicy):
    """Grants "view" of payouts to Finance staff and superusers, and no other action to anyone.

    Acting on a payout is not a model permission: the action views and the services check
    Finance membership themselves.
    """

    def user_has_permission(self, user, action):
        return action == "view" and is_finance(user)

    def users_with_any_permission(self, actions):
        if "view" not in actions:
            return get_user_model().objects.none()
        finance = Q(is_superuser=True) | Q(groups__name=FINANCE_GROUP)
        return get_user_model().objects.filter(finance, is_active=True).distinct()


class PayoutFilterSet(WagtailFilterSet):
    user = username_filter()
    created = date_filter()

    class Meta:
        model = Payout
        fields = ["status", "method", "user", "created"]


# --- What a Finance member may do to a payout now --------------------------------------------------


def can_approve(payout: Payout) -> bool:
    if payout.method != MANUAL or payout.status not in (PayoutStatus.REQUESTED, PayoutStatus.APPROVED):
        return False
    return payout.approved_by_id is None or (
        needs_two_approvals(payout) and payout.second_approved_by_id is None
    )


def can_settle(payout: Payout) -> bool:
    return payout.method == MANUAL and payout.status in (PayoutStatus.REQUESTED, PayoutStatus.APPROVED)


def approvals(payout: Payout) -> str:
    names = [u.get_username() for u in (payout.approved_by, payout.second_approved_by) if u is not None]
    needed = 2 if needs_two_approvals(payout) else 1
    if payout.method != MANUAL:
        return "Stripe"
    return f"{len(names)} of {needed}" + (f" ({', '.join(names)})" if names else "")


ACTIONS = (
    # url name, label, icon, shown when, lets money leave (never offered to the payout's own winner)
    ("approve", "Approve", "check", can_approve, True),
    ("mark_paid", "Mark paid", "tick-inverse", can_settle, True),
    ("mark_failed", "Mark failed", "warning", can_settle, False),
)


def action_buttons(payout: Payout, button_class, *, staff, **kwargs):
    """The actions `staff` may take on `payout` now (the services refuse the rest anyway)."""
    own = payout.user_id == staff.pk
    return [
        button_class(label, url=reverse(f"money_payouts:{name}", args=(payout.pk,)), icon_name=icon, **kwargs)
        for name, label, icon, shown, releases_money in ACTIONS
        if shown(payout) and not (own and releases_money)
    ]


# --- Views -----------------------------------------------------------------------------------------


class PayoutIndexView(MoneyIndexView):
    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if is_finance(self.request.user):
            buttons += action_buttons(instance, Button, staff=self.request.user, priority=30)
        return buttons


class PayoutInspectView(MoneyInspectView):
    extra_labels = {"approvals": "Approvals", "history": "History"}

    def get_header_buttons(self):
        buttons = super().get_header_buttons()
        if is_finance(self.request.user):
            buttons += action_buttons(self.object, HeaderButton, staff=self.request.user)
        return buttons

    def get_approvals_display_value(self):
        return approvals(self.object)

    def get_history_display_value(self):
        entries = log_registry.get_logs_for_instance(self.object).select_related("user").order_by("timestamp")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: {} by {}</li>",
                (
                    (
                        f"{entry.timestamp:%Y-%m-%d %H:%M}",
                        entry.message,
                        entry.user_display_name or "the system",
                    )
                    for entry in entries
                ),
            ),
        )


class ApproveForm(forms.Form):
    pass


class MarkPaidForm(forms.Form):
    reference = forms.CharField(
        max_length=200, help_text="The bank or provider reference of the payment you made.", strip=True
    )


class MarkFailedForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the winner. The money goes back to their payout balance.",
        strip=True,
    )


class PayoutActionView(WagtailAdminTemplateMixin, FormView):
    """One Finance action on one payout: a short form, then the service, then a message."""

    template_name = "bounties/admin/payout_action.html"
    header_icon = "upload"
    label = ""
    done = ""
    form_class = ApproveForm

    def dispatch(self, request, *args, **kwargs):
        if not is_finance(request.user):
            return permission_denied(request)
        self.object = get_object_or_404(Payout.objects.select_related("user"), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def act(self, **cleaned):
        raise NotImplementedError

    def inspect_url(self):
        return reverse("money_payouts:inspect", args=(self.object.pk,))

    def get_page_title(self):
        return self.label

    def get_page_subtitle(self):
        return f"Payout #{self.object.pk}: {money(self.object.amount_cents)} to {self.object.user.get_username()}"

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("money_payouts:index"), "label": "Payouts"},
            {"url": self.inspect_url(), "label": f"Payout #{self.object.pk}"},
            {"url": "", "label": self.label},
        ]

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            payout=self.object,
            approvals=approvals(self.object),
            action_url=self.request.path,
            submit_button_label=self.label,
            submit_button_active_label=self.label,
            **kwargs,
        )

    def form_valid(self, form):
        try:
            payout = self.act(**form.cleaned_data)
        except BountiesError as refusal:
            messages.error(self.request, refusal.user_message)
            return redirect(self.inspect_url())
        messages.success(self.request, f"Payout #{payout.pk} {self.done}.")
        return redirect(self.inspect_url())


class ApproveView(PayoutActionView):
    label = "Approve"

    def act(self):
        payout = payout_approve(payout_id=self.object.pk, staff=self.request.user)
        self.done = (
            "approved; a second, different member of Finance must approve it too"
            if can_approve(payout)
            else "approved"
        )
        return payout


class MarkPaidView(PayoutActionView):
    label = "Mark paid"
    done = "marked paid"
    form_class = MarkPaidForm

    def act(self, reference):
        return payout_mark_paid(payout_id=self.object.pk, staff=self.request.user, reference=reference)


class MarkFailedView(PayoutActionView):
    label = "Mark failed"
    done = "marked failed; its money is back in the winner's payout balance"
    form_class = MarkFailedForm

    def act(self, reason):
        return payout_fail(payout_id=self.object.pk, staff=self.request.user, reason=reason)


class PayoutViewSet(ReadOnlyModelViewSet):
    model = Payout
    name = "money_payouts"
    url_prefix = "money/payouts"
    icon = "upload"
    menu_label = "Payouts"
    index_view_class = PayoutIndexView
    inspect_view_class = PayoutInspectView
    filterset_class = PayoutFilterSet
    search_fields = ["user__username", "reference", "provider_id"]
    queryset = Payout.objects.select_related("user", "approved_by", "second_approved_by")
    money_fields = {"amount_cents": "Amount"}
    list_display = [
        "id",
        user_column(),
        MoneyColumn("amount_cents", label="Amount", sort_key="amount_cents"),
        "method",
        "status",
        Column("approvals", label="Approvals", accessor=approvals),
        DateColumn("created_at", label="Requested", sort_key="created_at"),
    ]
    inspect_view_fields = [
        "user",
        "amount_cents",
        "method",
        "status",
        "approvals",
        "reference",
        "provider_id",
        "failure_reason",
        "transfer",
        "reversal_transfer",
        "paid_at",
        "created_at",
        "history",
    ]

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("approve/<int:pk>/", ApproveView.as_view(), name="approve"),
            path("mark-paid/<int:pk>/", MarkPaidView.as_view(), name="mark_paid"),
            path("mark-failed/<int:pk>/", MarkFailedView.as_view(), name="mark_failed"),
        ]

    def get_permissions_to_register(self):
        # Finance membership, not a model permission, lets staff see payouts.
        return Permission.objects.none()
