"""The Finance reports, read as worked examples: each figure is a sum the test works out by hand,
in the listing, its CSV and its XLSX (read back with openpyxl), with the date filters; only
Finance staff may open them."""

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from bounties.models import Pledge
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.ledger import ledger_violations
from bounties.services.pledging import pledge_create_with_card
from bounties.services.settlement import funds_settle
from finance.reports import REPORTS
from tests.bounties.test_settlement import escrow_passes
from tests.factories import UserFactory
from tests.finance.test_admin import LOGIN, text
from tests.money import back

pytestmark = pytest.mark.django_db


def report(name):
    return reverse(f"finance:report_{name}")


def export_csv(client, name, **params) -> list[list[str]]:
    response = client.get(report(name), {**params, "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert f"fundfill-{name}-" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def export_xlsx(client, name, **params) -> list[tuple]:
    response = client.get(report(name), {**params, "export": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(book.active.iter_rows(values_only=True))


@pytest.fixture
def worked_example(fund, make_fund):
    """Audit TrueCrypt: $10, $30 and $60 backers; a claim the $60 backer approves: $100 awarded.
    Fix OpenSSL: ada pledges $25 today, bob $40 yesterday; its escrow date passes and both are
    refunded to their wallets today. A card pledge still waiting for its payment counts nowhere."""
    for name, cents in (("ten", 1_000), ("thirty", 3_000), ("sixty", 6_000)):
        back(UserFactory(username=name), fund, cents)
    claimant = UserFactory(username="claimant")
    claim = claim_submit(
        user=claimant, fund_id=fund.pk, statement="I audited it.", url="https://example.com/a"
    )
    vote_cast(user=UserFactory(username="sixty"), claim_id=claim.pk, approve=True)

    openssl = make_fund(title="Fix OpenSSL")
    back(UserFactory(username="ada"), openssl, 2_500)
    bob_pledge = back(UserFactory(username="bob"), openssl, 4_000)
    Pledge.objects.filter(pk=bob_pledge.pk).update(created_at=timezone.now() - timedelta(days=1))
    pledge_create_with_card(
        user=UserFactory(), fund_id=openssl.pk, amount_cents=900, key="w", gateway="local"
    )
    escrow_passes(openssl)
    assert funds_settle() == 2
    assert ledger_violations() == []
    return {"truecrypt": fund, "openssl": openssl, "claim": claim}


def test_pledges_by_fund_and_day(client, fiona, worked_example):
    today, yesterday = timezone.localdate(), timezone.localdate() - timedelta(days=1)
    client.force_login(fiona)
    words = text(client.get(report("pledges")))
    assert "Audit TrueCrypt 3 3 $100" in words
    assert "Fix OpenSSL 1 1 $25" in words and "Fix OpenSSL 1 1 $40" in words

    rows = export_csv(client, "pledges")
    assert rows == [
        ["Day", "Fund", "Pledges", "Backers", "Amount (cents)"],
        [str(today), "Audit TrueCrypt", "3", "3", "10000"],
        [str(today), "Fix OpenSSL", "1", "1", "2500"],
        [str(yesterday), "Fix OpenSSL", "1", "1", "4000"],
    ]
    # The date filter: from today on, yesterday's row is gone.
    assert [row[1:] for row in export_csv(client, "pledges", created_from=str(today))[1:]] == [
        ["Audit TrueCrypt", "3", "3", "10000"],
        ["Fix OpenSSL", "1", "1", "2500"],
    ]
    # The fund filter.
    only = export_csv(client, "pledges", fund=worked_example["openssl"].pk)
    assert [row[1] for row in only[1:]] == ["Fix OpenSSL", "Fix OpenSSL"]

    sheet = export_xlsx(client, "pledges")
    assert sheet[0] == ("Day", "Fund", "Pledges", "Backers", "Amount (cents)")
    assert [row[1:] for row in sheet[1:]] == [
        ("Audit TrueCrypt", 3, 3, 10000),
        ("Fix OpenSSL", 1, 1, 2500),
        ("Fix OpenSSL", 1, 1, 4000),
    ]
    assert [row[0] for row in sheet[1:]] == [today, today, yesterday]  # dates, not text


def test_backers_per_fund(client, fiona, worked_example):
    client.force_login(fiona)
    assert export_csv(client, "backers") == [
        ["Fund", "State", "Backers", "Pledges", "Pledged (cents)", "In escrow now (cents)"],
        ["Audit TrueCrypt", "awarded", "3", "3", "10000", "0"],
        # Still open: the card pledge waiting for its payment is not settled.
        ["Fix OpenSSL", "open", "2", "2", "6500", "0"],
    ]
    # Counting only today's pledges: bob's is left out.
    today = str(timezone.localdate())
    assert export_xlsx(client, "backers", pledged_from=today)[1:] == [
        ("Audit TrueCrypt", "awarded", 3, 3, 10000, 0),
        ("Fix OpenSSL", "open", 1, 1, 2500, 0),
    ]


def test_claims_and_outcomes(client, fiona, worked_example):
    client.force_login(fiona)
    claim = worked_example["claim"]
    rows = export_csv(client, "claims")
    assert rows[0][:10] == [
        "Claim",
        "Fund",
        "Submitted by",
        "Claimants",
        "Outcome",
        "Eligible weight (cents)",
        "Approve (cents)",
        "Reject (cents)",
        "Awarded (cents)",
        "Submitted",
    ]
    assert rows[1][:9] == [
        str(claim.pk),
        "Audit TrueCrypt",
        "claimant",
        "1",
        "accepted",
        "10000",
        "6000",
        "0",
        "10000",
    ]
    assert "$100" in text(client.get(report("claims")))
    assert export_csv(client, "claims", status="rejected")[1:] == []


def test_settlements(client, fiona, worked_example):
    client.force_login(fiona)
    today = str(timezone.localdate())
    assert export_csv(client, "settlements") == [
        ["Day", "Fund", "Outcome", "Pledges", "Amount (cents)"],
        [today, "Fix OpenSSL", "refunded", "2", "6500"],
    ]
    assert (
        export_csv(client, "settlements", settled_to=str(timezone.localdate() - timedelta(days=1)))[1:] == []
    )


def test_payouts_and_refunds(client, fiona, failed_payout, failed_refund):
    from finance.services import support_payout_retry, support_refund_retry

    support_payout_retry(payout_id=failed_payout.pk, staff=fiona, why="again")
    support_refund_retry(refund_id=failed_refund.pk, staff=fiona, why="again")
    today = str(timezone.localdate())
    client.force_login(fiona)
    assert export_csv(client, "payouts") == [
        ["Day", "State", "Method", "How many", "Amount (cents)"],
        [today, "failed", "manual", "1", "30000"],
        [today, "requested", "manual", "1", "30000"],
    ]
    assert export_csv(client, "payouts", status="requested")[1:] == [
        [today, "requested", "manual", "1", "30000"]
    ]
    sheet = export_xlsx(client, "refunds")
    assert sheet[0] == ("Day", "State", "How many", "Amount (cents)")
    assert sheet[1:] == [
        (timezone.localdate(), "failed", 1, 3000),
        (timezone.localdate(), "succeeded", 1, 3000),
    ]


def test_bad_filter_input_is_a_form_error_not_a_500(client, fiona, worked_example):
    client.force_login(fiona)
    response = client.get(report("pledges"), {"created_from": "not-a-date", "fund": "x"})
    assert response.status_code == 200
    assert "Enter a valid date." in text(response)


def test_only_finance_opens_the_reports(client, fiona, editor):
    for view in REPORTS:
        url = report(view.name)
        assert client.get(url).url.startswith(LOGIN)
        client.force_login(editor)
        assert client.get(url).status_code == 403
        assert client.get(url, {"export": "csv"}).status_code == 403
        client.force_login(fiona)
        assert client.get(url).status_code == 200
        assert client.get(reverse(f"finance:report_{view.name}_results")).status_code == 200
        client.logout()
