"""An editor posts fund news in the Wagtail admin and switches on the incident notice; the next
reader (a cookie-less client, served from the anonymous page cache) sees each change at once.
"""

from datetime import date

import pytest
import requests
from django.core import mail
from django.core.management import call_command
from selenium.webdriver.common.by import By

from bounties.models import FundUpdatePage
from home.models import IncidentNotice
from tests.factories import UserFactory
from tests.money import back
from tests.ui.a11y import screenshot
from tests.ui.test_editor_features_fund import (
    admin_log_in,
    editor,  # noqa: F401 (fixture)
    publish_from_footer,
    type_into,
)

pytestmark = pytest.mark.ui


def reader_gets(live_server, path):
    response = requests.get(live_server.url + path, timeout=10)
    assert response.status_code == 200, path
    return response


@pytest.mark.usefixtures("editor")  # the superuser `admin_log_in` signs in as
def test_editor_posts_news_and_switches_on_the_notice_and_the_next_reader_sees_both(
    live_server, browser, wait, page_cache, fund, home_page, settings
):
    settings.ANNOUNCERS = "console"
    backer = UserFactory(username="bo", email="bo@example.com")
    back(backer, fund, 500)  # told by email when the notice names this fund
    call_command("deliver_outbox")
    mail.outbox.clear()  # the pledge's receipts
    # Readers have the fund page and the homepage from the cache.
    for path in (fund.url, "/"):
        reader_gets(live_server, path)
        assert reader_gets(live_server, path).headers["X-Page-Cache"] == "hit"

    # News: the editor adds a child page of the fund and publishes it.
    admin_log_in(browser, wait, live_server)
    browser.get(f"{live_server.url}/admin/pages/add/bounties/fundupdatepage/{fund.pk}/")
    type_into(browser, "title", "Auditors chosen")
    publish_from_footer(browser, wait)
    wait.text(".messages", "published")
    news = FundUpdatePage.objects.get(title="Auditors chosen")
    assert news.live and news.date == date.today()
    fund_page = reader_gets(live_server, fund.url)
    assert "Auditors chosen" in fund_page.text and news.url in fund_page.text
    assert "Auditors chosen" in reader_gets(live_server, news.url).text

    # The incident notice: Settings → Incident notice, switched on with a message.
    site_id = home_page.get_site().pk
    browser.get(f"{live_server.url}/admin/settings/home/incidentnotice/{site_id}/")
    checkbox = wait.visible("#id_active")
    if not checkbox.is_selected():
        checkbox.click()
    message = browser.find_element(By.CSS_SELECTOR, "#id_message")
    message.clear()
    message.send_keys("Card payments are slow; your wallet money is safe.")
    # Also posted on the site's social accounts, and emailed to the fund's backers.
    for box in (
        browser.find_element(By.CSS_SELECTOR, "#id_announce"),
        browser.find_element(By.XPATH, "//label[contains(., 'Audit TrueCrypt')]//input[@type='checkbox']"),
    ):
        browser.execute_script(
            "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", box
        )  # not under the sticky footer
        box.click()
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "footer button[type=submit]").click()
    wait.text(".messages", "updated")
    assert IncidentNotice.for_site(home_page.get_site()).active
    call_command("deliver_outbox")  # what the worker's nudge has not already sent
    told = [m for m in mail.outbox if "Card payments are slow" in m.body]
    assert [m.to for m in told] == [["bo@example.com"]]

    # Every page the reader loads next carries it: the cached ones were purged by the save.
    for path in ("/", fund.url, news.url):
        assert "Card payments are slow; your wallet money is safe." in reader_gets(live_server, path).text, (
            path
        )
    browser.get(live_server.url + "/")
    wait.text("body", "Card payments are slow")
    screenshot(browser, "editor-incident-notice")
