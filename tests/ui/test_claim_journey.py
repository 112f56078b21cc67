"""The claim cycle in browsers: a claimant claims a bounty, two backers vote in their own browsers,
the fund page shows the outcome and the winner sees the award on the wallet page; then a backer
of a fund that fails chooses "back to my card" and reads what became of the money.

Money enters wallets the production way (`tests.money.top_up`) and pledges through the service,
so the browsers spend their time on the pages this journey is about.
"""

import shutil
import tempfile
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from bounties.models import Claim, ClaimStatus, Fund, FundPage, FundStatus, Pledge, PledgeStatus
from bounties.selectors import balances
from bounties.services.ledger import ledger_violations, wallet_for
from bounties.services.settlement import funds_settle
from tests.factories import UserFactory
from tests.money import back
from tests.ui.a11y import screenshot
from tests.ui.conftest import CHROMEDRIVER, Wait, chromium_options
from tests.ui.test_backer_journey import log_in

pytestmark = pytest.mark.ui

WORK = "https://example.com/truecrypt-audit.pdf"


@contextmanager
def own_browser():
    """A second headless Chromium with its own profile: another person's browser session."""
    profile = tempfile.mkdtemp(prefix="fundfill-chromium-")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chromium_options(profile))
    driver.set_page_load_timeout(30)
    try:
        yield driver, Wait(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def vote(driver, wait, live_server, claim, decision, reason=""):
    driver.get(f"{live_server.url}/claims/{claim.pk}/")
    wait.clickable(f".vote-form input[value={decision}]").click()
    if reason:
        driver.find_element(By.ID, "id_reason").send_keys(reason)
    with wait.navigation():
        driver.find_element(By.CSS_SELECTOR, ".vote-form button[type=submit]").click()


def test_a_claim_is_voted_on_and_paid_and_a_failed_fund_goes_back_to_the_card(
    live_server, browser, wait, fund, make_fund
):
    carol, ann, ben = (UserFactory(username=name) for name in ("carol", "ann", "ben"))
    back(ann, fund, 3_000)
    back(ben, fund, 7_000)

    # Carol claims the bounty from the fund page (its link opens the claim form).
    log_in(browser, wait, live_server, "carol")
    browser.get(live_server.url + fund.url)
    with wait.navigation():
        wait.clickable(".claim-start a").click()
    wait.path(f"/funds/{fund.pk}/claim/")
    wait.visible("#id_statement").send_keys("I audited TrueCrypt; the report is linked.")
    browser.find_element(By.ID, "id_url").send_keys(WORK)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, ".claim-form button[type=submit]").click()
    claim = Claim.objects.get(fund_id=fund.pk)
    wait.path(f"/claims/{claim.pk}/")
    assert "Your claim is under vote until" in wait.visible(".messages").text
    assert "cannot vote on it" in wait.visible(".claim__own").text
    assert "of $100 that can vote" in wait.visible(".tally__figures").text

    # Ann rejects in her own browser: first without a reason (a form error), then with one.
    with own_browser() as (anns, ann_wait):
        log_in(anns, ann_wait, live_server, "ann")
        vote(anns, ann_wait, live_server, claim, "reject")
        assert "Say why you reject this claim" in ann_wait.visible(".vote-form .field--error").text
        anns.find_element(By.ID, "id_reason").send_keys("The report skips the bootloader.")
        with ann_wait.navigation():
            anns.find_element(By.CSS_SELECTOR, ".vote-form button[type=submit]").click()
        assert "recorded as reject, with the $30" in ann_wait.visible(".messages").text
        assert "Reject: $30" in ann_wait.visible(".tally__figures").text

        # Ben approves in his: $70 of $100 passes half, so the claim is accepted at once.
        with own_browser() as (bens, ben_wait):
            log_in(bens, ben_wait, live_server, "ben")
            vote(bens, ben_wait, live_server, claim, "approve")
            assert "That decided it: the claim is accepted" in ben_wait.visible(".messages").text
            timeline = ben_wait.visible(".timeline").text
            assert "ann voted to reject" in timeline and "The report skips the bootloader." in timeline
            assert "$100 to carol" in timeline

        # The fund page shows the outcome to Ann.
        anns.get(live_server.url + fund.url)
        assert "The escrow was paid to carol (100%)" in ann_wait.visible(".claim-item--accepted").text
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.ACCEPTED
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.AWARDED

    # Carol sees the award as her payout balance (held against card disputes for now).
    with wait.navigation():
        wait.clickable(".site-nav a[href='/wallet/']").click()
    assert wait.visible(".wallet__payout-amount").text == "$100"
    assert balances(user=carol).payout_cents == 10_000

    # Ann backs another fund, and asks for her money back to her card if nobody wins.
    other = make_fund(title="Port it to Rust", slug="port-it-to-rust")
    pledge = back(ann, other, 2_500)
    browser.delete_all_cookies()
    log_in(browser, wait, live_server, "ann")
    browser.get(f"{live_server.url}/pledges/{pledge.pk}/")
    assert "Back to my wallet" in wait.visible(".settlement__current").text  # the default
    wait.clickable(".settlement-form input[value=card]").click()
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, ".settlement-form button[type=submit]").click()
    assert "goes back to my card" in wait.visible(".messages").text

    # Nobody claims it before its escrow date: the scheduled pass settles it to her card.
    past = timezone.now() - timedelta(minutes=1)
    FundPage.objects.filter(pk=other.pk).update(pledge_deadline=past - timedelta(days=1), escrow_until=past)
    Pledge.objects.filter(fund_id=other.pk).update(escrow_until=past)
    assert funds_settle() == 1
    browser.refresh()
    assert wait.visible(".receipt__status").text.lower() == "refunded"
    assert "was sent back to the card you added $25 with" in wait.visible(".receipt__cashout").text
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.REFUNDED
    assert Fund.objects.get(pk=other.pk).status == FundStatus.FAILED
    assert wallet_for(ann).balance == 0  # in escrow elsewhere, or on its way to her card
    assert ledger_violations() == []
    screenshot(browser, "claim-journey")
