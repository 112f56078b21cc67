"""A creator's journey: propose a fund on "Start a fund" → an editor approves it in the Wagtail admin
→ it is live and a backer pledges to it; the admin's page history shows each step under the person
who took it.

The creator and the backer are ordinary (non-staff) users; the editor is a staff user in Wagtail's
"Editors" group, the group the "Fund review" workflow's task belongs to. Journeys run on a flushed
(transactional) database, so the set-up puts back the group Wagtail's migrations made.
"""

from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from selenium.webdriver.common.by import By
from wagtail.models import GroupPagePermission, Page, PageLogEntry

from bounties.models import FundPage, Outbox, Pledge
from tests.factories import UserFactory
from tests.money import top_up
from tests.ui.a11y import screenshot
from tests.ui.test_backer_journey import log_in, open_pledge_page

pytestmark = pytest.mark.ui

TITLE = "Reverse-engineer the Frobnitz firmware"
EDITOR_PASSWORD = "fundfill-editor"


def page_permission(codename):
    return Permission.objects.get(content_type__app_label="wagtailcore", codename=codename)


def editors_group():
    """Wagtail's "Editors" group as its migrations make it: admin access, add and edit pages."""
    group, _ = Group.objects.get_or_create(name="Editors")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    root = Page.get_first_root_node()
    for codename in ("add_page", "change_page"):
        GroupPagePermission.objects.get_or_create(
            group=group, page=root, permission=page_permission(codename)
        )
    return group


def make_editor(fund_index):
    """Like `load_demo`'s editor: staff, in "Editors", not a superuser. Publishing under the fund
    index comes from the "Fund review" set-up (`bounties.services.proposals.fund_review`), which the
    creator's proposal runs: approving publishes as the approver."""
    editor = get_user_model().objects.create_user(
        "editor", "editor@example.com", EDITOR_PASSWORD, is_staff=True
    )
    editor.groups.add(editors_group())
    return editor


def admin_log_in(browser, wait, live_server, username, password):
    browser.get(f"{live_server.url}/admin/login/")
    wait.visible("#id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(password)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.path("/admin/")


def public_fund_list(live_server) -> str:
    """/funds/ as an anonymous, cookie-less visitor reads it."""
    response = requests.get(f"{live_server.url}/funds/", timeout=10)
    assert response.status_code == 200
    return response.text


def local_input(moment) -> str:
    """A value for <input type=datetime-local>, in the site's time zone as the form reads it."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def fill_proposal_form(browser, wait):
    form = wait.visible("#proposal-form")

    def field(name):
        return form.find_element(By.CSS_SELECTOR, f"[name={name}]")

    def type_into(name, text):
        element = field(name)
        element.clear()
        element.send_keys(text)

    type_into("title", TITLE)
    type_into("acceptance_criteria", "A write-up and tools that dump and reflash the firmware.")
    type_into("summary", "Open up the Frobnitz so its owners can run their own code.")
    # Two paragraphs and a line break, as people type them (the browser sends CRLF): the editor
    # opens the proposal in the admin's editor below.
    type_into("description", "The Frobnitz ships locked;\nwe want it opened.\n\nTools and a write-up.")
    type_into("goal", "5000")
    deadline = timezone.now() + timedelta(days=30)
    for name, moment in (("pledge_deadline", deadline), ("escrow_until", deadline + timedelta(days=60))):
        browser.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            field(name),
            local_input(moment),
        )
    form.find_element(By.CSS_SELECTOR, "[name=failure_policy][value=refund]").click()
    type_into("vote_window_hours", "72")
    type_into("quorum_percent", "20")
    type_into("hashtag", "frobnitz")
    button = form.find_element(By.XPATH, ".//button[normalize-space()='Send for review']")
    with wait.navigation():
        button.click()


def history_row(row) -> tuple[str, str]:
    """(what happened, who) from a row of the admin's page history ("Created\\ncora Just now")."""
    lines = row.text.splitlines()
    return lines[0], lines[-1].split()[0]


def my_fund(wait) -> tuple[str, str]:
    """The creator's one proposal on "My funds": (its data-status, its badge as shown)."""
    item = wait.visible("#my-funds [data-status]")
    assert TITLE in item.find_element(By.CSS_SELECTOR, ".my-fund__title").text
    return item.get_attribute("data-status"), item.find_element(By.CSS_SELECTOR, ".badge").text


def test_a_proposal_is_approved_by_an_editor_goes_live_and_takes_a_pledge(
    live_server, browser, wait, fund_index
):
    make_editor(fund_index)
    creator = UserFactory(username="cora")
    backer = UserFactory(username="bert")
    top_up(backer, 5_000)

    # 1. Cora (not staff) starts a fund; her dashboard says it is in review, the public list lacks it.
    log_in(browser, wait, live_server, "cora")
    browser.get(f"{live_server.url}/start-a-fund/")
    fill_proposal_form(browser, wait)
    wait.path("/my/funds/")
    assert "Your proposal is with our editors" in wait.visible(".messages").text
    assert my_fund(wait) == ("in_review", "In review")
    page = FundPage.objects.get(title=TITLE)
    assert page.owner == creator and not page.live and not creator.is_staff
    assert TITLE not in public_fund_list(live_server)

    # 2. The editor finds it awaiting review on the admin dashboard, opens it and approves it.
    browser.delete_all_cookies()
    admin_log_in(browser, wait, live_server, "editor", EDITOR_PASSWORD)
    panel = wait.visible("#awaiting-review-section")
    with wait.navigation():
        panel.find_element(
            By.XPATH, f".//td[contains(@class, 'title')]//a[normalize-space()='{TITLE}']"
        ).click()
    wait.path(f"/admin/pages/{page.pk}/edit/")
    browser.find_element(By.CSS_SELECTOR, "footer .w-dropdown-button [data-w-dropdown-target=toggle]").click()
    approve = wait.clickable(
        "footer button[data-workflow-action-name=approve]:not([data-workflow-action-modal-url])"
    )
    assert approve.text.strip() == "Approve and Publish"
    with wait.navigation():
        approve.click()
    wait.path(f"/admin/pages/{fund_index.pk}/")  # back to the list of funds
    wait.text(".messages", f"Page '{TITLE}' has been updated.")

    # The page's history in the admin, newest first: the editor approved and published what Cora
    # created and submitted (the "Draft saved" rows between are each one's revision).
    browser.get(f"{live_server.url}/admin/pages/{page.pk}/history/")
    history = [history_row(row) for row in wait.all_visible("table.listing tbody tr")]
    expected = [
        ("Published", "editor"),
        ("Approved at 'Editors' review'. 'Fund review' complete", "editor"),
        ("'Fund review' started. Next step 'Editors' review'", "cora"),
        ("Created", "cora"),
    ]
    assert [row for row in history if row in expected] == expected, history

    # 3. Cora's dashboard says live, and the public list shows it.
    browser.delete_all_cookies()
    log_in(browser, wait, live_server, "cora")
    browser.get(f"{live_server.url}/my/funds/")
    assert my_fund(wait) == ("live", "Live")
    assert TITLE in public_fund_list(live_server)
    # Announced: the new fund is staged for every channel, and Cora is told it is live.
    assert Outbox.objects.filter(dedupe_key__startswith=f"fund:{page.pk}:published:").exists()
    assert Outbox.objects.filter(event="proposal_approved", recipient=creator.email).exists()

    # 4. Bert pledges $25 from the fund page and sees the receipt.
    browser.delete_all_cookies()
    log_in(browser, wait, live_server, "bert")
    page.refresh_from_db()
    open_pledge_page(browser, wait, live_server, page, "25")
    with wait.navigation():
        wait.clickable(".pledge-form button[type=submit]").click()
    pledge = Pledge.objects.get(user=backer)
    wait.path(f"/pledges/{pledge.pk}/")
    assert f"Pledged $25 to {TITLE}. The money is in escrow." in wait.visible(".messages").text
    assert wait.visible(".receipt__status").text.lower() == "in escrow"

    # 5. The log behind that history: Cora created and submitted it, the editor approved and published it.
    entries = set(PageLogEntry.objects.filter(page=page).values_list("action", "user__username"))
    assert {
        ("wagtail.create", "cora"),
        ("wagtail.workflow.start", "cora"),
        ("wagtail.workflow.approve", "editor"),
        ("wagtail.publish", "editor"),
    } <= entries, entries
    screenshot(browser, "creator-journey")
