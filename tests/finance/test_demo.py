"""The Finance admin on the demo site (`manage.py load_demo`): its figures agree with the ledger
and with each fund's own counters, which the pledge transactions keep."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from bounties.models import Account, AccountKind, Fund, PledgeStatus
from finance import selectors
from tests.demo.test_load_demo import load_demo
from tests.finance.test_admin import text
from tests.finance.test_reports import export_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(client):
    load_demo()
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_nothing_is_stuck_in_the_demo(demo):
    assert "No money is stuck." in text(demo.get(reverse("wagtailadmin_home")))


def test_backers_per_fund_are_the_funds_own_counters(demo):
    funds = Fund.objects.select_related("page").filter(pledges__isnull=False).distinct()
    # The demo withdraws and settles nothing, so every pledge that reached escrow is still
    # counted by its fund: the report (pledges, in SQL) and the counters must agree.
    assert not Fund.objects.filter(
        pledges__status__in=[PledgeStatus.WITHDRAWN, PledgeStatus.REFUNDED]
    ).exists()
    rows = {row[0]: row[1:] for row in export_csv(demo, "backers")[1:]}
    assert len(rows) == funds.count() > 0
    for fund in funds:
        escrow = (
            Account.objects.filter(kind=AccountKind.ESCROW, fund=fund)
            .values_list("balance", flat=True)
            .first()
        )
        assert rows[fund.page.title] == [
            fund.status,
            str(fund.backer_count),
            str(fund.pledges.exclude(status__in=selectors.NOT_MOVED).count()),
            str(fund.pledged_cents),
            str(escrow or 0),
        ], fund.page.title


def test_each_funds_timeline_ends_at_its_escrow(demo):
    for fund in Fund.objects.select_related("page").filter(pledges__isnull=False).distinct():
        escrow = Account.objects.get(kind=AccountKind.ESCROW, fund=fund).balance
        series = selectors.escrow_series(fund=fund)
        assert series[-1].balance_cents == escrow
        assert sum(day.in_cents for day in series) == fund.pledged_cents  # nothing left escrow but awards
        page = text(demo.get(reverse("finance:fund_money", args=(fund.pk,))))
        assert f"Money of {fund.page.title}" in page
