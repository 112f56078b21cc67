"""A new visitor becomes a backer: fund page → Pledge $25 → log-in page naming the pledge → sign-up
(keeping `next`) → back on the pledge form → pay the $25 by test card → receipt → dashboard.

Also: a double click on the pledge button pledges once; withdrawing from the receipt asks first;
a declined card during a card pledge says why and that no money moved; a cash-out from the
wallet back to the card (the local gateway) leaves a cash-out receipt in the wallet.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from bounties.models import Cashout, Deposit, DepositStatus, Pledge, PledgeStatus, Transfer
from bounties.services.ledger import ledger_violations, wallet_for
from tests.factories import UserFactory
from tests.money import top_up
from tests.ui.a11y import screenshot
from tests.ui.test_backer_journey import PASSWORD, add_money, log_in, open_pledge_page

pytestmark = pytest.mark.ui

SUCCESS_CARD = "4242 4242 4242 4242"
DECLINE_CARD = "4000 0000 0000 0002"


def pay_by_card(browser, wait, card):
    """On the local test-card checkout: type the card and pay."""
    wait.visible("#id_card").send_keys(card)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()


def test_new_visitor_signs_up_from_the_pledge_button_and_pays_by_card(live_server, browser, wait, fund):
    # An anonymous visitor types $25 on the fund page and presses Pledge.
    browser.get(live_server.url + fund.url)
    wait.visible(".fund__money #pledge-amount").send_keys("25")
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, ".pledge-start button[type=submit]").click()

    # The log-in page says which pledge it leads back to.
    wait.path("/accounts/login/")
    assert wait.visible("h1").text == "Log in to pledge $25 to Audit TrueCrypt"
    next_url = parse_qs(urlsplit(browser.current_url).query)["next"][0]
    assert next_url == f"/funds/{fund.pk}/pledge/?amount=25"

    # "Create an account and pledge" keeps `next`.
    switch = wait.clickable("a.funnel__switch")
    assert switch.text == "Create an account and pledge"
    with wait.navigation():
        switch.click()
    wait.path("/accounts/signup/")
    assert parse_qs(urlsplit(browser.current_url).query)["next"] == [next_url]
    assert wait.visible("h1").text == "Create an account to pledge $25 to Audit TrueCrypt"

    wait.visible("#id_username").send_keys("hana")
    browser.find_element(By.ID, "id_email").send_keys("hana@example.com")
    browser.find_element(By.ID, "id_password1").send_keys(PASSWORD)
    browser.find_element(By.ID, "id_password2").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    # Back on the pledge form for $25, nothing pledged yet; the empty wallet means a card pays it all.
    wait.path(f"/funds/{fund.pk}/pledge/")
    hana = get_user_model().objects.get(username="hana")
    assert "Welcome to Fundfill, hana!" in wait.visible(".messages").text
    assert wait.visible("#id_amount").get_attribute("value") == "25"
    button = wait.visible(".pledge-form button[type=submit]")
    assert button.text == "Pledge $25 · pay $25 by card"
    assert not Pledge.objects.exists()

    with wait.navigation():
        button.click()
    assert wait.visible(".checkout__amount").text == "$25"
    pay_by_card(browser, wait, SUCCESS_CARD)

    # The pledge receipt: amount, fund, in escrow.
    pledge = Pledge.objects.get(user=hana)
    wait.path(f"/pledges/{pledge.pk}/")
    assert "Pledged $25 to Audit TrueCrypt. The money is in escrow." in wait.visible(".messages").text
    assert wait.visible(".receipt__amount").text == "$25"
    assert wait.visible(".receipt__fund").text == "Audit TrueCrypt"
    assert wait.visible(".receipt__status").text.lower() == "in escrow"
    assert pledge.amount_cents == 2_500 and pledge.status == PledgeStatus.ACTIVE
    assert wallet_for(hana).balance == 0  # the card paid exactly the pledge

    # The dashboard lists it. (Opened by address: the header's links fold into a menu on phones.)
    browser.get(live_server.url + "/dashboard/")
    assert wait.visible("h1").text == "Your dashboard"
    rows = wait.all_visible(".dashboard-pledges .dashboard-pledge")
    assert len(rows) == 1
    assert rows[0].get_attribute("data-status") == "active"
    assert "Audit TrueCrypt" in rows[0].text and "$25" in rows[0].text and "In escrow" in rows[0].text
    assert ledger_violations() == []
    screenshot(browser, "backer-signup-journey")


def test_double_clicking_the_pledge_button_pledges_once(live_server, browser, wait, fund):
    ivy = UserFactory(username="ivy")
    top_up(ivy, 5_000)
    log_in(browser, wait, live_server, "ivy")
    open_pledge_page(browser, wait, live_server, fund, "25")
    button = wait.clickable(".pledge-form button[type=submit]")
    assert button.text == "Pledge $25 from your wallet"
    with wait.navigation():
        ActionChains(browser).double_click(button).perform()

    pledge = Pledge.objects.get(user=ivy)
    wait.path(f"/pledges/{pledge.pk}/")
    assert wait.visible(".receipt__amount").text == "$25"
    assert Pledge.objects.count() == 1
    assert Transfer.objects.filter(kind="pledge").count() == 1
    assert wallet_for(ivy).balance == 2_500  # $50 - $25, once
    assert ledger_violations() == []
    screenshot(browser, "backer-signup-double-click")


def test_withdrawing_from_the_receipt_asks_first_then_returns_the_money(live_server, browser, wait, fund):
    jan = UserFactory(username="jan")
    top_up(jan, 4_000)
    log_in(browser, wait, live_server, "jan")
    open_pledge_page(browser, wait, live_server, fund, "30")
    with wait.navigation():
        wait.clickable(".pledge-form button[type=submit]").click()
    pledge = Pledge.objects.get(user=jan)
    wait.path(f"/pledges/{pledge.pk}/")
    assert wallet_for(jan).balance == 1_000

    # Withdraw on the receipt only asks.
    with wait.navigation():
        wait.clickable("a.receipt__withdraw").click()
    wait.path(f"/pledges/{pledge.pk}/withdraw/")
    assert wait.visible("h1.withdraw__question").text == "Withdraw $30 from Audit TrueCrypt?"
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.ACTIVE  # asking moved nothing
    assert wallet_for(jan).balance == 1_000

    # Confirming withdraws it.
    confirm = wait.clickable(".withdraw-form button[type=submit]")
    assert confirm.text == "Withdraw $30"
    with wait.navigation():
        confirm.click()
    wait.path("/pledges/")
    assert wait.visible(".messages").text == "Withdrew $30 back to your wallet."
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.WITHDRAWN
    assert wallet_for(jan).balance == 4_000

    browser.get(live_server.url + "/wallet/")
    assert wait.visible(".wallet__amount").text == "$40"
    assert "Withdrew $30 from Audit TrueCrypt" in wait.visible(".wallet__history").text
    assert ledger_violations() == []
    screenshot(browser, "backer-signup-withdraw")


def test_a_declined_card_on_a_card_pledge_says_why_and_that_no_money_moved(live_server, browser, wait, fund):
    kim = UserFactory(username="kim")
    log_in(browser, wait, live_server, "kim")
    open_pledge_page(browser, wait, live_server, fund, "25")
    button = wait.visible(".pledge-form button[type=submit]")
    assert button.text == "Pledge $25 · pay $25 by card"
    with wait.navigation():
        button.click()
    pay_by_card(browser, wait, DECLINE_CARD)

    alert = wait.visible("main [role=alert]")
    assert "Your card was declined (test card ending 0002)." in alert.text
    assert "No money moved." in alert.text
    assert "Try the pledge again" in wait.visible("main a.button").text
    assert Deposit.objects.get(user=kim).status == DepositStatus.DECLINED
    assert not Pledge.objects.filter(user=kim, status=PledgeStatus.ACTIVE).exists()
    assert wallet_for(kim).balance == 0
    assert not Transfer.objects.exists()
    screenshot(browser, "backer-signup-declined-card")


def test_cash_out_from_the_wallet_back_to_the_card(live_server, browser, wait, fund):
    lee = UserFactory(username="lee")
    log_in(browser, wait, live_server, "lee")
    add_money(browser, wait, "40", SUCCESS_CARD)
    wait.path("/wallet/")
    assert wait.visible(".wallet__amount").text == "$40"

    # Send $15 back to the card from the wallet's own form.
    form = wait.visible("form.cashout-form")
    form.find_element(By.CSS_SELECTOR, "input[name=amount]").send_keys("15")
    with wait.navigation():
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.path("/wallet/")
    assert "$15 was sent back to" in wait.visible(".messages").text
    assert wait.visible(".wallet__amount").text == "$25"

    receipt = wait.visible(".cashouts .cashout-item")
    cashout = Cashout.objects.get(user=lee)
    assert receipt.find_element(By.CSS_SELECTOR, ".receipt-card__kind").text.lower() == "cash-out receipt"
    assert receipt.find_element(By.CSS_SELECTOR, ".receipt__amount").text == "$15"
    assert receipt.find_element(By.CSS_SELECTOR, ".receipt__reference").text == f"Cash-out #{cashout.pk}"
    assert "$15 was sent back to" in receipt.find_element(By.CSS_SELECTOR, ".receipt__next").text
    assert cashout.amount_cents == 1_500
    assert wallet_for(lee).balance == 2_500
    assert ledger_violations() == []
    screenshot(browser, "backer-signup-cashout")
