"""A Finance staff member fixes stuck money in the Wagtail admin: logs in, sees a card pledge stuck
for half an hour in the dashboard's "Stuck money" panel, opens its "Complete" action, gives a
reason and completes it; the pledge is gone from the stuck list, its money is in escrow, and the
site history says who did it and why.

The stuck pledge is made as production would leave it (`tests/finance/stuck.py`): a card pledge
whose payment reached the wallet while the pledge step was lost. The transactional database was
flushed, so the Finance group is made again here with its migrations' permissions.
"""

import pytest
from selenium.webdriver.common.by import By

from bounties import selectors
from bounties.models import Pledge, PledgeStatus
from bounties.services.ledger import ledger_violations
from bounties.services.pledging import pledge_create_with_card
from tests.factories import UserFactory
from tests.finance.stuck import backdate, credit_only, finance_member
from tests.ui.a11y import screenshot
from tests.ui.test_backer_journey import PASSWORD

pytestmark = pytest.mark.ui


@pytest.fixture
def stuck_pledge(fund):
    """Bob pledged $25 to Audit TrueCrypt by card 30 minutes ago; the $25 is in his wallet, the pledge pending."""
    bob = UserFactory(username="bob")
    outcome = pledge_create_with_card(user=bob, fund_id=fund.pk, amount_cents=2_500, key="k", gateway="local")
    credit_only(outcome.deposit)
    backdate(Pledge, outcome.pledge.pk, 30)
    return outcome.pledge


def test_finance_completes_a_stuck_card_pledge_from_the_dashboard(live_server, browser, wait, stuck_pledge):
    finance_member("fiona")

    # Fiona logs into the admin.
    browser.get(f"{live_server.url}/admin/login/")
    wait.visible("#id_username").send_keys("fiona")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.path("/admin/")

    # The dashboard's "Stuck money" panel lists Bob's pledge, with what she can do.
    panel = wait.visible("#fundfill-stuck-money-section, [id^='fundfill-stuck-money']")
    assert "1 thing needs Finance" in panel.text
    row = panel.find_element(By.XPATH, ".//tr[contains(., 'Card pledge pending')]")
    assert (
        f"Pledge #{stuck_pledge.pk} to Audit TrueCrypt" in row.text
        and "bob" in row.text
        and "$25" in row.text
    )

    # Complete: a form that says what it acts on and asks why.
    complete = f"/admin/finance/pledges/{stuck_pledge.pk}/complete/"
    with wait.navigation():
        row.find_element(By.CSS_SELECTOR, f"a[href='{complete}']").click()
    wait.path(complete)
    assert f"Pledge #{stuck_pledge.pk} to Audit TrueCrypt: $25 of bob" in wait.visible("main").text
    wait.visible("#id_why").send_keys("Card payment landed during the outage; pledge step lost")
    with wait.navigation():
        wait.clickable("main form button[type=submit]").click()

    # Back on the stuck-money page: it says the money moved, and nothing is stuck any more.
    wait.path("/admin/finance/")
    wait.text(".messages", f"Pledge #{stuck_pledge.pk} completed: $25 moved from the wallet into escrow.")
    assert "No money is stuck." in browser.find_element(By.TAG_NAME, "main").text
    pledge = Pledge.objects.get(pk=stuck_pledge.pk)
    assert pledge.status == PledgeStatus.ACTIVE and selectors.wallet_balance(user=pledge.user) == 0
    assert ledger_violations() == []

    # The dashboard agrees.
    browser.get(f"{live_server.url}/admin/")
    wait.text("[id^='fundfill-stuck-money']", "No money is stuck.")

    # Wagtail's site history: who completed it, and why.
    browser.get(f"{live_server.url}/admin/reports/site-history/")
    history = wait.visible("table.listing").text
    assert "Pledge completed by Finance: “Card payment landed during the outage; pledge step lost”" in history
    assert "fiona" in history
    screenshot(browser, "finance-support-pledge-completed")
