"""A Finance staff member in the Wagtail admin: logs in, checks the ledger (the transfers listing),
opens the payouts queue, approves a winner's manual payout and marks it paid; the winner's own
payouts page then says it was paid.

The award and the payout request are made through the services, as
`tests/bounties/test_payout_admin.py` does. The transactional database was flushed, so the
Finance group of migration 0009 is made again here, with the same permissions.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from selenium.webdriver.common.by import By

from bounties.models import Payout, PayoutStatus
from bounties.services.ledger import ledger_violations
from bounties.services.payouts import FINANCE_GROUP, payout_request
from tests.bounties.test_payouts import after_hold, award
from tests.factories import UserFactory
from tests.ui.a11y import screenshot
from tests.ui.test_backer_journey import PASSWORD, log_in

pytestmark = pytest.mark.ui

VIEW_MODELS = ["transfer", "pledge", "account", "deposit", "payout"]  # as migration 0009 grants


def finance_member(username):
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="wagtailadmin", codename="access_admin"),
        *Permission.objects.filter(
            content_type__app_label="bounties", codename__in=[f"view_{model}" for model in VIEW_MODELS]
        ),
    )
    member = UserFactory(username=username)
    member.groups.add(group)
    return member


@pytest.fixture
def payout(fund):
    """Wendy was awarded $500 of Audit TrueCrypt and asked for all of it: a manual payout (one approval)."""
    wendy = UserFactory(username="wendy")
    award(wendy, 50_000, fund=fund)
    return payout_request(user=wendy, amount_cents=50_000, key="payout-1", now=after_hold()).payout


def admin_url(name, payout=None):
    suffix = {"index": "", "inspect": "inspect/", "approve": "approve/", "mark_paid": "mark-paid/"}[name]
    return f"/admin/money/payouts/{suffix}" + (f"{payout.pk}/" if payout else "")


def test_finance_approves_a_manual_payout_and_marks_it_paid(live_server, browser, wait, payout):
    finance_member("fiona")

    # Fiona logs into the admin.
    browser.get(f"{live_server.url}/admin/login/")
    wait.visible("#id_username").send_keys("fiona")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.path("/admin/")

    # The ledger: every transfer behind the payout, the award to wendy among them.
    browser.get(f"{live_server.url}/admin/money/transfers/")
    listing = wait.visible("table.listing").text
    assert "Awarded (test)" in listing and "wendy" in listing and "$500" in listing

    # The payouts queue: wendy's request, waiting for its one approval.
    browser.get(live_server.url + admin_url("index"))
    inspect = admin_url("inspect", payout)
    row = wait.visible(f"table.listing a[href='{inspect}']").find_element(By.XPATH, "./ancestor::tr")
    assert "wendy" in row.text and "$500" in row.text and "0 of 1" in row.text
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, f"table.listing a[href='{inspect}']").click()
    wait.path(inspect)

    # Approve: a confirmation form, then the message.
    with wait.navigation():
        wait.clickable(f"a[href='{admin_url('approve', payout)}']").click()
    wait.path(admin_url("approve", payout))
    assert "$500" in wait.visible("main").text and "wendy" in browser.find_element(By.TAG_NAME, "main").text
    with wait.navigation():
        wait.clickable("main form button[type=submit]").click()
    wait.path(inspect)
    wait.text(".messages", f"Payout #{payout.pk} approved.")  # Wagtail shows its messages after a moment
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.APPROVED and payout.approved_by.username == "fiona"

    # Mark paid, with the bank's reference.
    with wait.navigation():
        wait.clickable(f"a[href='{admin_url('mark_paid', payout)}']").click()
    wait.path(admin_url("mark_paid", payout))
    wait.visible("#id_reference").send_keys("BANK-2026-0042")
    with wait.navigation():
        wait.clickable("main form button[type=submit]").click()
    wait.path(inspect)
    wait.text(".messages", f"Payout #{payout.pk} marked paid.")
    payout = Payout.objects.get(pk=payout.pk)
    assert payout.status == PayoutStatus.PAID and payout.reference == "BANK-2026-0042"
    assert ledger_violations() == []

    # Wendy's payouts page says it was paid.
    browser.delete_all_cookies()
    log_in(browser, wait, live_server, "wendy")
    browser.get(live_server.url + "/wallet/payouts/")
    rows = wait.all_visible(".payout-row")
    assert len(rows) == 1
    assert f"Payout #{payout.pk} · BANK-2026-0042" in rows[0].text and "$500" in rows[0].text
    assert rows[0].find_element(By.CSS_SELECTOR, ".payout-row__status").text.startswith("Paid on ")
    assert "Paid: your bank shows it" in rows[0].find_element(By.CSS_SELECTOR, ".payout-row__next").text
    assert wait.visible(".payouts__amount").text == "$0"
    screenshot(browser, "finance-payout-paid")
