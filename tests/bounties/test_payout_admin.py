"""The payout queue in the Wagtail admin: Finance staff approve, pay and fail payouts through its forms.

Driven through Django's test client as a Finance member would click: each action is a
form that calls the service and answers with a Wagtail message. Everyone else (editors,
the winner) sees no queue and cannot post to it.
"""

import html

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from bounties.models import Payout, PayoutStatus, TransferKind
from bounties.services.ledger import ledger_violations
from bounties.services.payouts import FINANCE_GROUP, payout_request
from tests.bounties.test_payouts import after_hold, award, payout_balance
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("money_payouts:index")


def url(name, payout):
    return reverse(f"money_payouts:{name}", args=(payout.pk,))


def messages_of(response) -> list[str]:
    # Wagtail renders its messages as HTML (escaped, with room for buttons): read them as text.
    return [html.unescape(str(m)).strip() for m in get_messages(response.wsgi_request)]


def post(client, target, data=None):
    """Post as the form does; the messages it answered with; then follow the redirect, which shows them."""
    response = client.post(target, data or {})
    said = messages_of(response)
    if response.status_code == 302:
        client.get(response.url)
    return response, said


def finance_member(username):
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    member = UserFactory(username=username)
    member.groups.add(group)
    return member


@pytest.fixture
def fiona():
    return finance_member("fiona")


@pytest.fixture
def frank():
    return finance_member("frank")


@pytest.fixture
def winner():
    return UserFactory(username="wendy")


@pytest.fixture
def payout(winner, fund):
    """Wendy was awarded $2,000 and asked for all of it (a manual payout: two approvals needed)."""
    award(winner, 200_000, fund=fund)
    return payout_request(user=winner, amount_cents=200_000, key="p", now=after_hold()).payout


def test_finance_sees_the_queue_with_its_actions(client, fiona, payout):
    client.force_login(fiona)
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert INDEX in home  # in the Money menu

    page = client.get(INDEX).content.decode()
    assert "$2,000" in page and "wendy" in page and "0 of 2" in page
    assert url("approve", payout) in page
    assert url("mark_paid", payout) in page and url("mark_failed", payout) in page

    inspect = client.get(url("inspect", payout)).content.decode()
    assert url("approve", payout) in inspect
    assert "Payout requested by wendy" in inspect  # the audit trail


def test_the_queue_filters_by_status_and_method(client, fiona, payout, winner, make_fund):
    award(winner, 5_000, fund=make_fund(title="Other", slug="other"), key="b")
    small = payout_request(user=winner, amount_cents=5_000, key="small", now=after_hold()).payout
    client.force_login(fiona)
    client.post(url("mark_failed", small), {"reason": "Wrong account"})

    requested = client.get(INDEX, {"status": "requested"}).content.decode()
    assert url("inspect", payout) in requested and url("inspect", small) not in requested
    failed = client.get(INDEX, {"status": "failed"}).content.decode()
    assert url("inspect", small) in failed and url("inspect", payout) not in failed
    assert url("inspect", payout) in client.get(INDEX, {"method": "manual"}).content.decode()
    assert url("inspect", payout) not in client.get(INDEX, {"method": "stripe"}).content.decode()


def test_two_different_members_approve_then_one_marks_it_paid(client, fiona, frank, payout):
    client.force_login(fiona)
    assert client.get(url("approve", payout)).status_code == 200  # the confirmation form
    response, said = post(client, url("approve", payout))
    assert response.status_code == 302 and response.url == url("inspect", payout)
    assert said == [
        f"Payout #{payout.pk} approved; a second, different member of Finance must approve it too."
    ]

    # Fiona cannot be the second approver, nor pay it on her approval alone.
    _, said = post(client, url("approve", payout))
    assert said == [
        "You approved this payout already; above $1,000 a second, different member of Finance must "
        "approve it. No money moved."
    ]
    _, said = post(client, url("mark_paid", payout), {"reference": "BANK-1"})
    assert said == [
        "Payouts above $1,000 need two approvals by different members of Finance before they are "
        "marked paid. No money moved."
    ]
    payout.refresh_from_db()
    assert (payout.status, payout.second_approved_by) == (PayoutStatus.APPROVED, None)

    client.force_login(frank)
    _, said = post(client, url("approve", payout))
    assert said == [f"Payout #{payout.pk} approved."]
    page = client.get(url("inspect", payout)).content.decode()
    assert "2 of 2 (fiona, frank)" in page
    assert url("approve", payout) not in page  # nothing left to approve

    # A reference is required: the form says so and nothing changes.
    response = client.post(url("mark_paid", payout), {"reference": "  "})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.APPROVED
    _, said = post(client, url("mark_paid", payout), {"reference": "BANK-1"})
    assert said == [f"Payout #{payout.pk} marked paid."]
    payout.refresh_from_db()
    assert (payout.status, payout.reference, payout.approved_by, payout.second_approved_by) == (
        PayoutStatus.PAID,
        "BANK-1",
        fiona,
        frank,
    )
    page = client.get(url("inspect", payout)).content.decode()
    assert url("mark_paid", payout) not in page and url("mark_failed", payout) not in page
    assert ledger_violations() == []


def test_a_finance_member_is_told_they_cannot_approve_or_pay_their_own_payout(client, fiona, payout, winner):
    winner.groups.add(Group.objects.get(name=FINANCE_GROUP))  # Wendy works in Finance
    winner.user_permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    client.force_login(winner)
    refusal = (
        "This is your own payout: another member of Finance must approve it and mark it paid. No money moved."
    )

    response, said = post(client, url("approve", payout))
    assert (response.status_code, response.url, said) == (302, url("inspect", payout), [refusal])
    response, said = post(client, url("mark_paid", payout), {"reference": "BANK-OWN"})
    assert (response.status_code, response.url, said) == (302, url("inspect", payout), [refusal])
    payout.refresh_from_db()
    assert (payout.status, payout.approved_by, payout.reference) == (PayoutStatus.REQUESTED, None, "")
    # Nor are those actions offered to her (a colleague sees them).
    inspect = client.get(url("inspect", payout)).content.decode()
    assert url("approve", payout) not in inspect and url("mark_paid", payout) not in inspect
    assert url("mark_failed", payout) in inspect
    client.force_login(fiona)
    assert url("approve", payout) in client.get(url("inspect", payout)).content.decode()
    assert ledger_violations() == []


def test_marking_it_failed_returns_the_money(client, fiona, payout, winner):
    client.force_login(fiona)
    _, said = post(client, url("mark_failed", payout), {"reason": "The bank returned it."})
    assert said == [f"Payout #{payout.pk} marked failed; its money is back in the winner's payout balance."]
    payout.refresh_from_db()
    assert (payout.status, payout.failure_reason) == (PayoutStatus.FAILED, "The bank returned it.")
    assert payout.reversal_transfer.kind == TransferKind.PAYOUT_REVERSAL
    assert payout_balance(winner) == 200_000
    # Once failed, a second failure is refused with the service's reason.
    _, said = post(client, url("mark_failed", payout), {"reason": "again"})
    assert said == ["This payout is already failed. No money moved."]
    assert ledger_violations() == []


def test_nobody_else_sees_or_acts_on_payouts(client, payout, winner):
    editor = UserFactory(username="edith")
    editor.groups.add(Group.objects.get(name="Editors"))
    for outsider in (editor, winner):
        client.force_login(outsider)
        home = client.get(reverse("wagtailadmin_home"))
        assert INDEX not in home.content.decode()
        for target in (INDEX, url("inspect", payout), url("approve", payout)):
            assert client.get(target).status_code == 302  # sent away (no admin or no permission)
        response = client.post(url("approve", payout))
        assert response.status_code == 302
        response = client.post(url("mark_paid", payout), {"reference": "BANK"})
        assert response.status_code == 302
    payout.refresh_from_db()
    assert (payout.status, payout.approved_by) == (PayoutStatus.REQUESTED, None)


def test_superusers_are_finance(admin_client, payout):
    assert admin_client.get(INDEX).status_code == 200
    response = admin_client.post(url("mark_failed", payout), {"reason": "Duplicate request"})
    assert response.status_code == 302
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.FAILED
    assert ledger_violations() == []
