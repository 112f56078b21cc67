"""Feedback and mentions in the Wagtail admin: the listings with their filters, an editor marking a
feedback done (written to the audit log), and the dashboard's newest mentions for editors only."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.models import ModelLogEntry

from feedback.admin import MentionsPanel
from feedback.models import Feedback, FeedbackStatus, Mention, MentionSource
from tests.factories import UserFactory
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)


def staff(username, group):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def editor():
    return staff("eddie", "Editors")


def listing_rows(html) -> list[str]:
    table = parse_html(html).find("table", class_="listing")
    return [" ".join(row.text.split()) for row in table.find("tbody").find_all("tr")]


def test_feedback_sent_from_a_page_is_listed_for_an_editor_and_filtered_by_status(client, editor, fund):
    Feedback.objects.create(message="Old and handled", status=FeedbackStatus.DONE)
    Client().post("/feedback/", {"message": "Typo on the fund page", "page_url": "/funds/audit-truecrypt/"})
    client.force_login(editor)

    response = client.get(reverse("feedback:index"))

    assert response.status_code == 200
    rows = listing_rows(response.content)
    assert len(rows) == 2
    # Newest first: the reader's message, from the page it was sent from, still new.
    assert "Typo on the fund page" in rows[0] and "/funds/audit-truecrypt/" in rows[0] and "New" in rows[0]
    assert "Old and handled" in rows[1] and "Done" in rows[1]
    new_only = listing_rows(client.get(reverse("feedback:index") + "?status=new").content)
    assert len(new_only) == 1 and "Typo on the fund page" in new_only[0]


@pytest.mark.parametrize("group", ["Editors", "Moderators"])
def test_editors_and_moderators_mark_feedback_done_with_a_note_and_the_audit_log_says_who(client, group):
    feedback = Feedback.objects.create(message="Pledge button hidden", page_url="/funds/x/")
    user = staff(f"{group.lower()}-1", group)
    client.force_login(user)
    edit_url = reverse("feedback:edit", args=(feedback.pk,))
    form = parse_html(client.get(edit_url).content)
    assert "Pledge button hidden" in form.text  # the message is shown, read-only

    response = client.post(
        edit_url, {"status": "done", "staff_note": "Fixed in the phone layout.", "message": "tampered"}
    )

    assert response.status_code == 302
    feedback.refresh_from_db()
    assert (feedback.status, feedback.staff_note) == (FeedbackStatus.DONE, "Fixed in the phone layout.")
    assert feedback.message == "Pledge button hidden"  # read-only fields cannot be changed
    (entry,) = ModelLogEntry.objects.filter(object_id=str(feedback.pk), action="wagtail.edit")
    assert entry.user == user


def test_a_bad_status_is_a_form_error_and_changes_nothing(client, editor):
    feedback = Feedback.objects.create(message="Hello")
    client.force_login(editor)
    response = client.post(
        reverse("feedback:edit", args=(feedback.pk,)), {"status": "deleted", "staff_note": ""}
    )
    assert response.status_code == 200  # the form again, with its error
    assert "Select a valid choice" in response.content.decode()
    feedback.refresh_from_db()
    assert feedback.status == FeedbackStatus.NEW


def test_people_without_the_permission_see_no_feedback(client, fund):
    Feedback.objects.create(message="Private note")
    client.force_login(staff("fiona", "Finance"))
    assert client.get(reverse("feedback:index")).status_code in (302, 403)
    anonymous = Client().get(reverse("feedback:index"))
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


@pytest.fixture
def some_mentions(fund):
    for n in range(12):
        Mention.objects.create(
            source=MentionSource.X if n % 2 else MentionSource.HN,
            external_id=str(1000 + n),
            url=f"https://x.com/u{n}/status/{1000 + n}",
            author=f"user{n}",
            text=f"Mention number {n}",
            created_at=NOW - timedelta(minutes=60 - n),
            fund=fund if n == 11 else None,
            seen=n < 3,
        )


def mentions_panel(client, user):
    client.force_login(user)
    page = parse_html(client.get(reverse("wagtailadmin_home")).content)
    return page.find_all(id="fundfill-mentions-content")


def test_the_dashboard_panel_shows_an_editor_the_newest_mentions(client, editor, some_mentions, fund):
    (panel,) = mentions_panel(client, editor)

    assert "9 mentions not yet seen." in " ".join(panel.text.split())
    rows = panel.find("tbody").find_all("tr")
    assert len(rows) == 10
    # Newest first: 11, 10, …, 2 (0 and 1 are older than the ten shown).
    assert [row.find("a").text.strip() for row in rows] == [f"Mention number {n}" for n in range(11, 1, -1)]
    first = " ".join(rows[0].text.split())
    assert first.startswith("New:") and "X" in first and "user11" in first and fund.title in first
    assert "New:" not in rows[-1].text  # number 2 was seen
    assert panel.find("a", href=reverse("mentions:index"))


def test_the_panel_says_when_nothing_was_found(client, editor, site_tree):
    (panel,) = mentions_panel(client, editor)
    assert "No mention found yet on X or Hacker News." in panel.text


def test_no_panel_for_staff_who_may_not_view_mentions_nor_for_anonymous_users(client, some_mentions):
    assert mentions_panel(client, staff("fiona", "Finance")) == []
    anonymous = Client().get(reverse("wagtailadmin_home"))
    assert anonymous.status_code == 302
    assert b"Mention number" not in anonymous.content


def test_the_mentions_listing_filters_by_source_and_an_editor_marks_one_seen(client, editor, some_mentions):
    client.force_login(editor)
    hn_only = listing_rows(client.get(reverse("mentions:index") + "?source=hn").content)
    assert len(hn_only) == 6 and all("Hacker News" in row for row in hn_only)

    mention = Mention.objects.get(external_id="1011")
    edit_page = client.get(reverse("mentions:edit", args=(mention.pk,)))
    assert edit_page.status_code == 200
    assert "Mention number 11" in edit_page.content.decode() and "user11" in edit_page.content.decode()
    response = client.post(reverse("mentions:edit", args=(mention.pk,)), {"seen": "on"})
    assert response.status_code == 302
    mention.refresh_from_db()
    assert mention.seen


def test_the_panel_reads_the_same_few_queries_however_many_mentions_name_funds(some_mentions, fund):
    def queries_to_render() -> int:
        with CaptureQueriesContext(connection) as captured:
            MentionsPanel().render_html({})
        return len(captured)

    few = queries_to_render()
    Mention.objects.filter(fund__isnull=True).update(fund=fund)  # every row now shows a fund's title
    assert queries_to_render() == few == 2  # the rows with their funds, and the unseen count
