"""Wagtail admin hooks: the Finance menu (stuck money, money stories, reports), the stuck-money
dashboard panel, the support actions' audit-log actions, and "Money" links from fund pages and
the user listing. Each is shown to Finance staff and superusers only (`is_finance`).
"""

from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem
from wagtail.admin.widgets import Button
from wagtail.log_actions import LogFormatter

from bounties.models import FundPage
from bounties.services.payouts import is_finance
from finance import urls
from finance.panels import StuckMoneyPanel
from finance.reports import REPORTS


class FinanceMenuItem(MenuItem):
    def is_shown(self, request):
        return is_finance(request.user)


class FinanceSubmenuItem(SubmenuMenuItem):
    def is_shown(self, request):
        return is_finance(request.user)


@hooks.register("register_admin_urls")
def register_finance_urls():
    return [path("finance/", include(urls, namespace="finance"))]


def finance_menu_items():
    items = [
        FinanceMenuItem(
            "Stuck money", reverse("finance:stuck"), name="stuck-money", icon_name="warning", order=10
        ),
        FinanceMenuItem(
            "Money stories", reverse("finance:find_user"), name="money-stories", icon_name="user", order=20
        ),
    ]
    items += [
        FinanceMenuItem(
            report.page_title,
            reverse(f"finance:report_{report.name}"),
            name=f"finance-report-{report.name}",
            icon_name="table",
            order=100 + index,
        )
        for index, report in enumerate(REPORTS)
    ]
    return items


@hooks.register("register_admin_menu_item")
def register_finance_menu():
    return FinanceSubmenuItem(
        "Finance", Menu(items=finance_menu_items()), name="finance", icon_name="decimal", order=350
    )


@hooks.register("register_reports_menu_item")
def register_stuck_money_report():
    return FinanceMenuItem(
        "Stuck money", reverse("finance:stuck"), name="finance-stuck-money", icon_name="warning", order=1000
    )


def _reports_menu_item(report, order):
    def register():
        return FinanceMenuItem(
            report.page_title,
            reverse(f"finance:report_{report.name}"),
            name=f"finance-{report.name}",
            icon_name="table",
            order=order,
        )

    return register


# The Finance reports in Wagtail's Reports menu too (one hook function per item), after its own.
for index, report in enumerate(REPORTS):
    hooks.register("register_reports_menu_item", _reports_menu_item(report, 1001 + index))


@hooks.register("construct_homepage_panels")
def add_stuck_money_panel(request, panels):
    if is_finance(request.user):
        panels.append(StuckMoneyPanel())


SUPPORT_ACTIONS = {
    # action: (label, message); the member's "why" follows the message (finance/services.py)
    "finance.pledge_complete": ("Finance: complete a pending pledge", "Pledge completed by Finance"),
    "finance.refund_retry": ("Finance: retry a failed refund", "Refund sent again by Finance"),
    "finance.payout_retry": ("Finance: retry a failed payout", "Payout asked for again by Finance"),
    "finance.contact": ("Finance: email the user", "User emailed by Finance"),
}


class WhyLogFormatter(LogFormatter):
    """The entry's message with the member's reason, so the site history says who did it and why."""

    def format_message(self, log_entry):
        why = (log_entry.data or {}).get("why")
        return f"{self.message}: “{why}”" if why else self.message


@hooks.register("register_log_actions")
def register_support_log_actions(actions):
    for action, (label, message) in SUPPORT_ACTIONS.items():
        actions.register_action(action)(
            type("SupportLogFormatter", (WhyLogFormatter,), {"label": label, "message": message})
        )


def _money_button(page, user, priority):
    if issubclass(page.specific_class or type(page), FundPage) and is_finance(user):
        yield Button(
            "Money", reverse("finance:fund_money", args=(page.pk,)), icon_name="decimal", priority=priority
        )


@hooks.register("register_page_listing_more_buttons")
def fund_money_listing_button(page, user, next_url=None):
    yield from _money_button(page, user, 70)


@hooks.register("register_page_header_buttons")
def fund_money_header_button(page, user, view_name, next_url=None):
    yield from _money_button(page, user, 80)


@hooks.register("register_user_listing_buttons")
def money_story_user_button(user, request_user):
    if is_finance(request_user):
        yield Button(
            "Money story", reverse("finance:story", args=(user.pk,)), icon_name="decimal", priority=50
        )
