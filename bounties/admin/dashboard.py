"""Fundfill's panels on the Wagtail admin dashboard: what staff should look at today.

Each panel is a Wagtail `Component` added by the `construct_homepage_panels` hook
(`bounties/wagtail_hooks.py`), reads through `bounties.selectors`, and links to the admin
view where the work is done. A panel is added only for a user who may open what it links to:

- funds closing soon and proposals awaiting review: users who may edit or publish pages;
- claims under vote: users who may view claims (the Money menu's permission);
- failed announcements: users who may view the outbox;
- today's pledges and the money in escrow: Finance staff and superusers only, like the payout
  queue. The site's totals are a finance figure, not an editor's, and the `view_pledge`
  permission alone is about single rows.

Panels sit above Wagtail's own (which start at order 100) and say so when they have nothing
to show, so "none" is an answer rather than a missing panel.
"""

from django.urls import reverse
from django.utils import timezone
from wagtail.admin.ui.components import Component
from wagtail.models import Page
from wagtail.permissions import policy_registry

from bounties import selectors
from bounties.models import Claim, Outbox
from bounties.services.payouts import is_finance

ROWS = 10  # rows a panel lists; its link opens the full listing


def may_edit_pages(user) -> bool:
    return policy_registry.get_by_type(Page).user_has_any_permission(user, {"change", "publish"})


def may_view(model):
    def check(user) -> bool:
        return policy_registry.get_by_type(model).user_has_permission(user, "view")

    return check


class DashboardPanel(Component):
    """A panel of the admin home; `is_shown_to(user)` decides whether the hook adds it."""

    name = ""
    template_name = ""
    order = 50

    @staticmethod
    def is_shown_to(user) -> bool:
        return True

    def get_context_data(self, parent_context=None):
        return {"request": (parent_context or {}).get("request"), **self.get_panel_context()}

    def get_panel_context(self) -> dict:
        return {}


class FundsClosingSoonPanel(DashboardPanel):
    name = "fundfill_funds_closing_soon"
    template_name = "bounties/admin/dashboard/funds_closing_soon.html"
    order = 10
    is_shown_to = staticmethod(may_edit_pages)

    def get_panel_context(self):
        funds = selectors.funds_closing_soon()
        return {
            "funds": funds[:ROWS],
            "count": funds.count(),
            "days": selectors.CLOSING_SOON.days,
            "time_zone": timezone.get_current_timezone_name(),
        }


class ClaimsUnderVotePanel(DashboardPanel):
    name = "fundfill_claims_under_vote"
    template_name = "bounties/admin/dashboard/claims_under_vote.html"
    order = 20
    is_shown_to = staticmethod(may_view(Claim))

    def get_panel_context(self):
        claims = selectors.claims_under_vote()
        return {
            "claims": claims[:ROWS],
            "count": claims.count(),
            "now": timezone.now(),
            "all_url": reverse("money_claims:index") + "?status=voting",
        }


class MoneyTodayPanel(DashboardPanel):
    name = "fundfill_money_today"
    template_name = "bounties/admin/dashboard/money_today.html"
    order = 30
    is_shown_to = staticmethod(is_finance)

    def get_panel_context(self):
        figures = selectors.money_today()
        day = figures.day.isoformat()
        return {
            "figures": figures,
            "time_zone": timezone.get_current_timezone_name(),
            "pledges_url": f"{reverse('money_pledges:index')}?created_from={day}&created_to={day}",
        }


class ProposalsInReviewPanel(DashboardPanel):
    name = "fundfill_proposals_in_review"
    template_name = "bounties/admin/dashboard/proposals_in_review.html"
    order = 40
    is_shown_to = staticmethod(may_edit_pages)

    def get_panel_context(self):
        proposals = selectors.proposals_in_review()
        return {"proposals": proposals[:ROWS], "count": len(proposals)}


class FailedAnnouncementsPanel(DashboardPanel):
    name = "fundfill_failed_announcements"
    template_name = "bounties/admin/dashboard/failed_announcements.html"
    order = 50
    is_shown_to = staticmethod(may_view(Outbox))

    def get_panel_context(self):
        failed = selectors.failed_announcements()
        return {
            "rows": failed[:ROWS],
            "count": failed.count(),
            "all_url": reverse("money_outbox:index") + "?status=failed",
        }


PANELS = (
    FundsClosingSoonPanel,
    ClaimsUnderVotePanel,
    MoneyTodayPanel,
    ProposalsInReviewPanel,
    FailedAnnouncementsPanel,
)


def panels_for(user) -> list[DashboardPanel]:
    """The Fundfill panels this user may see, in dashboard order."""
    return [panel() for panel in PANELS if panel.is_shown_to(user)]
