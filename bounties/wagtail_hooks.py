"""Wagtail admin hooks: the "Money" menu (read-only, and the payout queue where Finance staff act
through the payout services), the payouts' audit-log actions, the dashboard's panels
(`bounties/admin/dashboard.py`), and no fund page deleted while it holds money.

A fund's ledger accounts, transfers and pledges protect its `Fund` row in the
database (`on_delete=PROTECT`), so deleting a fund page that has any would fail
with a server error. These hooks refuse earlier, with a message, and send the
editor back: money must never be orphaned, and the page stays.
"""

from django.db.models import Exists, OuterRef, Q
from django.shortcuts import redirect
from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin import messages
from wagtail.admin.utils import get_valid_next_url_from_request
from wagtail.models import Page
from wagtail.permissions import register_permission_policy

from bounties.admin.announcements import FundAnnouncementsView
from bounties.admin.base import MONEY_MODELS, ReadOnlyPermissionPolicy
from bounties.admin.dashboard import panels_for
from bounties.admin.payouts import FinancePermissionPolicy
from bounties.admin.viewsets import MoneyViewSetGroup
from bounties.admin.webhooks import WebhookEndpointViewSet
from bounties.models import Account, FundPage, Payout, Pledge, Transfer

# Before any view asks for a policy: Wagtail refuses to replace a fallback it has already made.
for model in MONEY_MODELS:
    register_permission_policy(model, ReadOnlyPermissionPolicy(model), exact_class=True)
register_permission_policy(Payout, FinancePermissionPolicy(Payout), exact_class=True)


@hooks.register("register_admin_viewset")
def register_money_views():
    return MoneyViewSetGroup()


@hooks.register("register_admin_viewset")
def register_webhook_endpoints():
    return WebhookEndpointViewSet()


@hooks.register("construct_homepage_panels")
def add_dashboard_panels(request, panels):
    # Only the panels this user may act on; Wagtail sorts all panels by their `order`.
    panels.extend(panels_for(request.user))


def fund_pages_holding_money(pages) -> list[str]:
    """Titles of the fund pages in these pages' subtrees (the pages included) that hold or held money."""
    in_subtrees = Q()
    for page in pages:
        in_subtrees |= Q(path__startswith=page.path)
    if not in_subtrees:
        return []
    # A Fund shares its page's id, so the page's pk names the fund.
    holds_money = (
        Exists(Account.objects.filter(fund_id=OuterRef("pk")))
        | Exists(Pledge.objects.filter(fund_id=OuterRef("pk")))
        | Exists(Transfer.objects.filter(fund_id=OuterRef("pk")))
    )
    return list(
        FundPage.objects.filter(in_subtrees)
        .filter(holds_money)
        .order_by("path")
        .values_list("title", flat=True)
    )


def refusal_message(titles: list[str]) -> str:
    shown = ", ".join(f"“{title}”" for title in titles[:3])
    if len(titles) > 3:
        shown += f" and {len(titles) - 3} more"
    funds = "fund" if len(titles) == 1 else "funds"
    return (
        f"Not deleted: the {funds} {shown} {'has' if len(titles) == 1 else 'have'} pledges or ledger "
        "records, and money must never be orphaned. Unpublish the page instead."
    )


@hooks.register("before_delete_page")
def refuse_deleting_funds_with_money(request, page):
    # Runs before the confirmation page too, so the editor is told before they confirm.
    if titles := fund_pages_holding_money([page]):
        messages.error(request, refusal_message(titles))
        return redirect(
            get_valid_next_url_from_request(request) or reverse("wagtailadmin_pages:edit", args=(page.pk,))
        )


@hooks.register("before_bulk_action")
def refuse_bulk_deleting_funds_with_money(request, action_type, objects, action_class_instance):
    if action_type != "delete" or not issubclass(action_class_instance.model, Page):
        return None
    if titles := fund_pages_holding_money(objects):
        messages.error(request, refusal_message(titles))
        return redirect(action_class_instance.next_url)


@hooks.register("register_log_actions")
def register_payout_log_actions(actions):
    # The audit trail of every payout's state changes (bounties/services/payouts.py).
    actions.register_action("bounties.payout.request", "Payout: request", "Payout requested")
    actions.register_action("bounties.payout.approve", "Payout: approve", "Payout approved")
    actions.register_action("bounties.payout.paid", "Payout: paid", "Payout marked paid")
    actions.register_action("bounties.payout.fail", "Payout: failed", "Payout failed; money returned")


@hooks.register("register_admin_urls")
def register_fund_announcements_url():
    return [
        path(
            "funds/<int:page_id>/announcements/",
            FundAnnouncementsView.as_view(),
            name="bounties_fund_announcements",
        )
    ]
