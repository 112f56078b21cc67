"""Support actions clicked at once by several Finance members (or one impatient one): real threads
against PostgreSQL, each in its own transaction. Money moves once, the audit log says so once."""

import pytest
from wagtail.models import ModelLogEntry

from bounties import selectors as bounty_selectors
from bounties.models import Cashout, PledgeStatus, Transfer, TransferKind
from bounties.services.ledger import ledger_violations
from finance import services
from tests.integration import errors_of, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

CLICKS = 5


def test_five_completes_of_one_pledge_at_once_move_its_money_once(paid_pledge, fiona):
    results = run_concurrently(
        [lambda: services.support_pledge_complete(pledge_id=paid_pledge.pk, staff=fiona, why="Outage")]
        * CLICKS
    )

    assert errors_of(results) == []
    assert sorted(outcome.moved for outcome in results) == [False] * (CLICKS - 1) + [True]
    paid_pledge.refresh_from_db()
    assert paid_pledge.status == PledgeStatus.ACTIVE
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 1
    assert ModelLogEntry.objects.filter(action="finance.pledge_complete").count() == 1
    assert ledger_violations() == []


def test_five_retries_of_one_refund_at_once_send_it_once(failed_refund, fiona):
    erin = failed_refund.cashout.user
    results = run_concurrently(
        [lambda: services.support_refund_retry(refund_id=failed_refund.pk, staff=fiona, why="Other card")]
        * CLICKS
    )

    assert errors_of(results) == []
    assert sum(outcome.moved for outcome in results) == 1
    assert Cashout.objects.filter(user=erin).count() == 2  # the first cash-out and one retry
    assert bounty_selectors.wallet_balance(user=erin) == 5_000
    assert ModelLogEntry.objects.filter(action="finance.refund_retry").count() == 1
    assert ledger_violations() == []
