"""The stuck-money panel on the Wagtail dashboard, for Finance staff and superusers only.

Added by the `construct_homepage_panels` hook (`finance/wagtail_hooks.py`), in the style of
`bounties/admin/dashboard.py`: it says "none" when nothing is stuck, so the answer is never a
missing panel, and each row links to its support action.
"""

from django.urls import reverse
from wagtail.admin.ui.components import Component

from finance import selectors
from finance.views import stuck_rows

ROWS = 10  # rows the panel lists; its link opens the whole report


class StuckMoneyPanel(Component):
    name = "fundfill_stuck_money"
    template_name = "finance/panels/stuck_money.html"
    order = 35  # after "Money today"

    def get_context_data(self, parent_context=None):
        rows = stuck_rows(selectors.stuck_money())
        return {
            "request": (parent_context or {}).get("request"),
            "rows": rows[:ROWS],
            "count": len(rows),
            "all_url": reverse("finance:stuck"),
        }
