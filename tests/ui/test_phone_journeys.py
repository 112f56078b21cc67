"""The key journeys again in a 360 px wide window (a small phone): each step fits the screen with no
horizontal scroll (WCAG 1.4.10) and works with the same taps.

A backer pledges from their wallet and reaches the receipt; a backer votes on a claim; a creator
starts a fund. The window goes back to 1280 × 900 afterwards (the session shares one browser).
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from bounties.models import Pledge, Vote
from bounties.services.claims import claim_submit
from tests.factories import UserFactory
from tests.money import back, top_up
from tests.ui.a11y import assert_no_horizontal_scroll, screenshot
from tests.ui.test_backer_journey import log_in, open_pledge_page
from tests.ui.test_claim_journey import vote

pytestmark = pytest.mark.ui


@pytest.fixture
def phone(browser):
    browser.set_window_size(360, 740)
    try:
        yield browser
    finally:
        browser.set_window_size(1280, 900)


def fits(browser, page):
    assert_no_horizontal_scroll(browser, page=page)


def test_a_backer_pledges_from_a_phone(live_server, phone, wait, fund):
    ada = UserFactory(username="ada")
    top_up(ada, 5_000)
    log_in(phone, wait, live_server, "ada")
    fits(phone, "wallet")

    phone.get(live_server.url + fund.url)
    wait.visible(".fund__money #pledge-amount")
    fits(phone, "fund")
    open_pledge_page(phone, wait, live_server, fund, "25")
    fits(phone, "pledge-form")
    with wait.navigation():
        phone.find_element(
            By.CSS_SELECTOR, "main form.pledge-form button[type=submit], main form button[type=submit]"
        ).click()
    wait.text("main", "$25")
    pledge = Pledge.objects.get(user=ada)
    wait.path(f"/pledges/{pledge.pk}/")
    fits(phone, "pledge-receipt")
    phone.get(f"{live_server.url}/pledges/")
    wait.text("main", fund.title)
    fits(phone, "my-pledges")
    phone.get(f"{live_server.url}/dashboard/")
    wait.text("main", fund.title)
    fits(phone, "dashboard")
    screenshot(phone, "phone-backer-dashboard")


def test_a_backer_votes_on_a_claim_from_a_phone(live_server, phone, wait, fund):
    ann = UserFactory(username="ann")
    back(ann, fund, 6_000)
    back(UserFactory(username="ben"), fund, 4_000)
    claim = claim_submit(
        user=UserFactory(username="carol"),
        fund_id=fund.pk,
        statement="Audited.",
        url="https://example.com/report",
    )
    log_in(phone, wait, live_server, "ann")
    phone.get(f"{live_server.url}/claims/{claim.pk}/")
    wait.visible(".vote-form")
    fits(phone, "claim")
    vote(phone, wait, live_server, claim, "approve")
    assert Vote.objects.get(claim=claim, user=ann).approve
    wait.visible("main")
    fits(phone, "claim-after-vote")
    screenshot(phone, "phone-claim-voted")


def test_a_creator_starts_a_fund_from_a_phone(live_server, phone, wait, fund_index):
    UserFactory(username="cora")
    log_in(phone, wait, live_server, "cora")
    phone.get(f"{live_server.url}/start-a-fund/")
    form = wait.visible("#proposal-form")
    fits(phone, "start-a-fund")
    for name, text in (
        ("title", "Port the Frobnitz driver"),
        ("acceptance_criteria", "The driver is merged upstream."),
        ("summary", "A bounty for an upstream Frobnitz driver."),
        ("goal", "2000"),
    ):
        form.find_element(By.CSS_SELECTOR, f"[name={name}]").send_keys(text)
    deadline = timezone.localtime() + timedelta(days=20)
    for name, moment in (("pledge_deadline", deadline), ("escrow_until", deadline + timedelta(days=40))):
        phone.execute_script(
            "arguments[0].value = arguments[1];",
            form.find_element(By.CSS_SELECTOR, f"[name={name}]"),
            moment.strftime("%Y-%m-%dT%H:%M"),
        )
    submit = form.find_element(By.XPATH, ".//button[contains(., 'Send for review')]")
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'});", submit)
    with wait.navigation():
        submit.click()
    wait.path("/my/funds/")
    wait.visible("#my-funds [data-status=in_review]")
    fits(phone, "my-funds")
    screenshot(phone, "phone-creator-my-funds")
