"""A backer's money journey: sign up → add money by test card → pledge on a fund page → see it → withdraw.

Also: a double click on the pledge button pledges once, two simultaneous submits of the same
form pledge once (the server's key, not the page's script, is the guard), a declined
card says why, and the pledge button says, as the backer types, whether the money comes
from the wallet or the shortfall from a card.
"""

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from bounties.models import Deposit, DepositStatus, Fund, Pledge, PledgeStatus, Transfer
from bounties.services.ledger import ledger_violations, wallet_for
from tests.factories import UserFactory
from tests.money import top_up
from tests.ui.a11y import screenshot

pytestmark = pytest.mark.ui

PASSWORD = "correct horse battery"


def sign_up(browser, wait, live_server, username):
    browser.get(f"{live_server.url}/accounts/signup/?next=/wallet/")
    wait.visible("#id_username").send_keys(username)
    browser.find_element(By.ID, "id_email").send_keys(f"{username}@example.com")
    browser.find_element(By.ID, "id_password1").send_keys(PASSWORD)
    browser.find_element(By.ID, "id_password2").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.path("/wallet/")


def log_in(browser, wait, live_server, username):
    browser.get(f"{live_server.url}/accounts/login/?next=/wallet/")
    wait.visible("#id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.path("/wallet/")


def add_money(browser, wait, amount, card):
    """From the wallet: the amount form, then the test-card checkout. Leaves the browser on the result."""
    with wait.navigation():
        wait.clickable("main a[href='/wallet/add/']").click()
    wait.visible("#id_amount").send_keys(amount)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.visible("#id_card").send_keys(card)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()


def open_pledge_page(browser, wait, live_server, fund, amount):
    """The fund page's small form leads to the pledge page (the cached fund page carries no key)."""
    browser.get(live_server.url + fund.url)
    wait.visible(".fund__money #pledge-amount").send_keys(amount)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, ".pledge-start button[type=submit]").click()
    wait.path(f"/funds/{fund.pk}/pledge/")
    assert wait.visible("#id_amount").get_attribute("value") == amount


def test_backer_adds_money_pledges_sees_it_and_withdraws(live_server, browser, wait, fund):
    sign_up(browser, wait, live_server, "dana")
    dana = get_user_model().objects.get(username="dana")
    assert wait.visible(".wallet__amount").text == "$0"

    # $50 by the test card that succeeds.
    add_money(browser, wait, "50", "4242 4242 4242 4242")
    wait.path("/wallet/")
    assert wait.visible(".messages").text == "Added $50 to your wallet."
    assert wait.visible(".wallet__amount").text == "$50"
    assert wait.visible(".wallet__history").text.count("Added $50 by card") == 1

    # Pledge $25 from the fund page, double-clicking the button.
    open_pledge_page(browser, wait, live_server, fund, "25")
    button = wait.clickable(".pledge-form button[type=submit]")
    with wait.navigation():
        ActionChains(browser).double_click(button).perform()
    pledge = Pledge.objects.get(user=dana)  # one pledge, not two
    wait.path(f"/pledges/{pledge.pk}/")
    assert "Pledged $25 to Audit TrueCrypt. The money is in escrow." in wait.visible(".messages").text
    assert wait.visible(".receipt__status").text.lower() == "in escrow"  # shown in capitals
    assert wallet_for(dana).balance == 2_500  # debited once
    assert Transfer.objects.filter(kind="pledge").count() == 1

    # The fund page counts the pledge and the backer.
    browser.get(live_server.url + fund.url)
    figures = wait.visible(".fund__money .progress__figures").text
    assert "$25 pledged of $1,000" in figures
    assert "1 backer" in figures

    # My pledges lists it; withdrawing returns the $25 to the wallet.
    with wait.navigation():
        wait.clickable(".site-nav a[href='/pledges/']").click()
    rows = wait.all_visible(".pledge-row")
    assert len(rows) == 1
    assert "Audit TrueCrypt" in rows[0].text and "$25" in rows[0].text and "In escrow" in rows[0].text
    with wait.navigation():
        rows[0].find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.path("/pledges/")
    assert wait.visible(".messages").text == "Withdrew $25 back to your wallet."
    assert wait.visible(".pledge-row__status").text == "Withdrawn to your wallet"

    with wait.navigation():
        wait.clickable(".site-nav a[href='/wallet/']").click()
    assert wait.visible(".wallet__amount").text == "$50"
    history = wait.visible(".wallet__history").text
    assert "Pledged $25 to Audit TrueCrypt" in history
    assert "Withdrew $25 from Audit TrueCrypt" in history
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 0
    assert ledger_violations() == []
    screenshot(browser, "backer-journey")


def test_two_simultaneous_submits_of_one_pledge_form_pledge_once(live_server, browser, wait, fund):
    erin = UserFactory(username="erin")
    log_in(browser, wait, live_server, "erin")
    add_money(browser, wait, "40", "4242424242424242")
    wait.path("/wallet/")
    open_pledge_page(browser, wait, live_server, fund, "30")

    # Bypass the page's once-only script: send the same form twice at the same moment.
    statuses = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const form = document.querySelector(".pledge-form");
        const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
        Promise.all([send(), send()]).then(rs => done(rs.map(r => r.status)));
        """
    )
    assert statuses == [200, 200]  # each followed its redirect to the receipt
    pledge = Pledge.objects.get(user=erin)
    assert pledge.status == PledgeStatus.ACTIVE
    assert wallet_for(erin).balance == 1_000  # $40 - $30, once
    state = Fund.objects.get(pk=fund.pk)
    assert (state.pledged_cents, state.backer_count) == (3_000, 1)
    assert ledger_violations() == []
    screenshot(browser, "backer-double-submit")


def test_declined_card_shows_its_reason(live_server, browser, wait, fund):
    frank = UserFactory(username="frank")
    log_in(browser, wait, live_server, "frank")
    add_money(browser, wait, "20", "4000 0000 0000 0002")

    alert = wait.visible("main [role=alert]")
    assert "Your card was declined (test card ending 0002). No money moved." in alert.text
    assert Deposit.objects.get(user=frank).status == DepositStatus.DECLINED
    assert wallet_for(frank).balance == 0
    assert not Transfer.objects.exists()
    screenshot(browser, "backer-declined-card")


def test_the_pledge_button_says_wallet_or_card_as_the_backer_types(live_server, browser, wait, fund):
    gus = UserFactory(username="gus")
    top_up(gus, 1_000)  # $10 in the wallet
    log_in(browser, wait, live_server, "gus")
    open_pledge_page(browser, wait, live_server, fund, "25")
    button = wait.visible(".pledge-form button[type=submit]")
    assert button.text == "Pledge $25 · pay $15 by card"  # the server's text for ?amount=25

    # The page's script follows the box: enough in the wallet, then short again.
    amount = browser.find_element(By.ID, "id_amount")
    amount.clear()
    amount.send_keys("5")
    wait.text(".pledge-form button[type=submit]", "Pledge $5 from your wallet")
    amount.clear()
    amount.send_keys("30")
    wait.text(".pledge-form button[type=submit]", "Pledge $30 · pay $20 by card")

    # One press: the card checkout for the $20 difference, then the pledge's receipt.
    with wait.navigation():
        button.click()
    assert "$20" in wait.visible(".checkout__amount").text
    wait.visible("#id_card").send_keys("4242 4242 4242 4242")
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    pledge = Pledge.objects.get(user=gus)
    wait.path(f"/pledges/{pledge.pk}/")
    assert "Thank you for backing Audit TrueCrypt" in wait.visible(".receipt-card__thanks").text
    assert pledge.amount_cents == 3_000 and pledge.status == PledgeStatus.ACTIVE
    assert wallet_for(gus).balance == 0  # $10 + $20 - $30
    assert ledger_violations() == []
    screenshot(browser, "backer-pledge-button-card")
