"""A reader sends feedback from a fund page's footer and is thanked; an editor (the Editors group, not
a superuser) finds it in the admin's Feedback menu, reads it, and marks it done with a note."""

import pytest
from django.contrib.auth.models import Group, Permission
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from feedback.models import Feedback, FeedbackStatus
from tests.factories import UserFactory
from tests.ui.a11y import axe_check, screenshot

pytestmark = pytest.mark.ui

PASSWORD = "correct horse battery"  # UserFactory's
MESSAGE = "The suggested amounts overlap the pledge button on my phone."


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.FEEDBACK_RATE_LIMIT = ""  # the per-address limit has its own test; the live server is 127.0.0.1
    settings.FEEDBACK_EMAIL_TO = []


@pytest.fixture
def editor(db):
    """A member of Wagtail's "Editors" group, with what the migrations give it here: admin access and
    view and change on feedback (feedback/migrations/0003_*). Made again, as an earlier transactional
    test's flush removes what data migrations made."""
    group, _ = Group.objects.get_or_create(name="Editors")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"),
        *Permission.objects.filter(
            content_type__app_label="feedback", codename__in=["view_feedback", "change_feedback"]
        ),
    )
    user = UserFactory(username="eddie")
    user.groups.add(group)
    return user


def test_a_reader_sends_feedback_from_a_fund_page_and_an_editor_marks_it_done(
    live_server, browser, wait, fund, editor
):
    # The reader, on the fund page, follows the footer's link.
    browser.get(live_server.url + fund.url)
    link = wait.clickable(".site-footer a[href^='/feedback/']")
    assert link.text == "Send feedback"
    with wait.navigation():
        link.click()
    wait.path("/feedback/")
    assert wait.visible("h1").text == "Send feedback"
    axe_check(browser, page="feedback")
    # The honeypot is not there for people.
    assert not browser.find_element(By.ID, "id_website").is_displayed()

    wait.visible("#id_message").send_keys(MESSAGE)
    browser.find_element(By.ID, "id_email").send_keys("reader@example.com")
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form.feedback-form button[type=submit]").click()
    wait.path("/feedback/thanks/")
    assert wait.visible("h1").text == "Thank you"
    back = browser.find_element(By.LINK_TEXT, "Back to the page you were on")
    assert back.get_attribute("href") == live_server.url + fund.url
    feedback = Feedback.objects.get()
    assert (feedback.message, feedback.page_url, feedback.status) == (MESSAGE, fund.url, FeedbackStatus.NEW)

    # The editor signs in and opens Feedback → From readers: the message is there, new.
    browser.get(f"{live_server.url}/admin/login/")
    wait.visible("#id_username").send_keys("eddie")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.path("/admin/")
    browser.get(f"{live_server.url}/admin/feedback/")
    row = wait.visible("table.listing tbody tr")
    assert MESSAGE[:40] in row.text and fund.url in row.text and "New" in row.text
    with wait.navigation():
        row.find_element(By.CSS_SELECTOR, "a").click()

    # The edit page shows the message; the editor marks it done with a note and saves.
    assert MESSAGE in wait.visible("main").text
    Select(browser.find_element(By.ID, "id_status")).select_by_visible_text("Done")
    browser.find_element(By.ID, "id_staff_note").send_keys("Fixed in the 360 px layout.")
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "footer button[type=submit]").click()
    wait.text(".messages", "updated")
    feedback.refresh_from_db()
    assert (feedback.status, feedback.staff_note) == (FeedbackStatus.DONE, "Fixed in the 360 px layout.")

    # The listing's status filter now finds it among the done, not the new.
    browser.get(f"{live_server.url}/admin/feedback/?status=done")
    assert MESSAGE[:40] in wait.visible("table.listing tbody").text
    screenshot(browser, "feedback-done")
