"""An editor creates a fund in the Wagtail admin typing its goal in dollars, and features another
fund; the next reader sees it (T24).

The reader is a cookie-less HTTP client, as a link-preview crawler or a first visit is,
and reads the homepage from the anonymous page cache both before and after the switch.
"""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bounties.models import FundPage
from tests.factories import publish
from tests.pages_html import head_and_hero_text, parse_page
from tests.ui.a11y import screenshot

pytestmark = pytest.mark.ui

PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor(db):
    return get_user_model().objects.create_superuser("editor", "editor@example.com", PASSWORD)


@pytest.fixture
def funds(home_page, make_fund):
    a = make_fund(
        title="Audit TrueCrypt", slug="audit-truecrypt", summary="An independent audit of TrueCrypt."
    )
    b = make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Lift a print and unlock an iPhone.")
    home_page.featured_fund = a
    publish(home_page)
    return a, b


def reader_loads_homepage(live_server):
    """A fresh, cookie-less reader."""
    response = requests.get(live_server.url + "/", timeout=10)
    assert response.status_code == 200
    return response


def test_editor_features_another_fund_and_the_next_reader_sees_it(
    live_server, browser, wait, page_cache, editor, funds, home_page
):
    # Readers are being served the homepage featuring A from the cache.
    reader_loads_homepage(live_server)
    before = reader_loads_homepage(live_server)
    assert before.headers["X-Page-Cache"] == "hit"
    assert parse_page(before.text).meta["og:title"] == "Audit TrueCrypt"

    # The editor signs in to the admin and opens the homepage.
    browser.get(f"{live_server.url}/admin/login/")
    wait.visible("#id_username").send_keys("editor")
    browser.find_element(By.CSS_SELECTOR, "#id_password").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    browser.get(f"{live_server.url}/admin/pages/{home_page.pk}/edit/")
    chooser = wait.visible("#id_featured_fund-chooser")
    assert chooser.find_element(By.CSS_SELECTOR, "[data-chooser-title]").text == "Audit TrueCrypt"

    # Featured fund → "Choose another page" → B in the chooser.
    chooser.find_element(By.CSS_SELECTOR, "[data-w-dropdown-target=toggle]").click()
    wait.clickable("#id_featured_fund-chooser [data-chooser-action-choose]").click()
    choice = wait.clickable(".modal a.choose-page[data-title='Bypass TouchID']")
    choice.click()
    wait.text("#id_featured_fund-chooser [data-chooser-title]", "Bypass TouchID")

    # Publish (from the footer's action menu).
    browser.find_element(By.CSS_SELECTOR, "footer .w-dropdown-button [data-w-dropdown-target=toggle]").click()
    with wait.navigation():
        wait.clickable("button[name=action-publish]").click()
    wait.text(".messages", "published")

    # The reader's very next load shows B everywhere, and none of A, in <head> and the hero.
    after = reader_loads_homepage(live_server)
    page = parse_page(after.text)
    assert page.meta["og:title"] == page.meta["twitter:title"] == "Bypass TouchID"
    assert page.meta["og:description"] == "Lift a print and unlock an iPhone."
    # The homepage's canonical is its own (issue 13 item 4); the hero shows the featured fund.
    assert urlsplit(page.links["canonical"]).path == "/"
    assert "Bypass TouchID" in "\n".join(page.hero)
    seen = head_and_hero_text(page)
    for old in ["Audit TrueCrypt", "An independent audit of TrueCrypt.", "/funds/audit-truecrypt/"]:
        assert old not in seen
    screenshot(browser, "editor-features-fund")


def admin_log_in(browser, wait, live_server):
    browser.get(f"{live_server.url}/admin/login/")
    wait.visible("#id_username").send_keys("editor")
    browser.find_element(By.CSS_SELECTOR, "#id_password").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def type_into(browser, name, text):
    field = browser.find_element(By.CSS_SELECTOR, f"#id_{name}")
    field.clear()
    field.send_keys(text, Keys.TAB)  # Tab closes the admin's date picker


def publish_from_footer(browser, wait):
    browser.find_element(By.CSS_SELECTOR, "footer .w-dropdown-button [data-w-dropdown-target=toggle]").click()
    with wait.navigation():
        wait.clickable("button[name=action-publish]").click()


def test_editor_creates_a_fund_typing_the_goal_in_dollars(live_server, browser, wait, editor, fund_index):
    admin_log_in(browser, wait, live_server)
    browser.get(f"{live_server.url}/admin/pages/add/bounties/fundpage/{fund_index.pk}/")
    label = wait.visible("label[for=id_goal_cents]")
    assert label.text.startswith("Goal")

    # The editor fills in the fund, the goal as people write dollars, with a slip: a tenth of a cent.
    type_into(browser, "title", "Audit VeraCrypt")
    type_into(browser, "summary", "An independent audit of VeraCrypt.")
    deadline = timezone.localtime() + timedelta(days=14)
    type_into(browser, "pledge_deadline", deadline.strftime("%Y-%m-%d %H:%M"))
    type_into(browser, "escrow_until", (deadline + timedelta(days=60)).strftime("%Y-%m-%d %H:%M"))
    type_into(browser, "goal_cents", "25,000.005")
    publish_from_footer(browser, wait)

    # Refused in words, with what was typed kept to correct; nothing saved.
    wait.text("body", "Amounts are in whole cents: use at most two decimal places.")
    assert browser.find_element(By.CSS_SELECTOR, "#id_goal_cents").get_attribute("value") == "25,000.005"
    assert not FundPage.objects.filter(title="Audit VeraCrypt").exists()

    type_into(browser, "goal_cents", "25,000")
    publish_from_footer(browser, wait)
    wait.text(".messages", "published")

    # Stored as cents; the edit form shows it back in dollars, and readers see $25,000.
    page = FundPage.objects.get(title="Audit VeraCrypt")
    assert page.live and page.goal_cents == 2_500_000
    browser.get(f"{live_server.url}/admin/pages/{page.pk}/edit/")
    assert wait.visible("#id_goal_cents").get_attribute("value") == "25,000.00"
    assert "$25,000" in requests.get(live_server.url + page.url, timeout=10).text
    screenshot(browser, "editor-creates-fund")
