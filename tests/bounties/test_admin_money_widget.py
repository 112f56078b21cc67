"""Editors type a fund's goal in dollars in the Wagtail admin; the page stores integer cents (issue 13, item 7)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from wagtail.test.utils.form_data import querydict_from_html

from bounties.admin.widgets import DollarsField, DollarsWidget
from bounties.models import FundPage
from tests.factories import UserFactory
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    client.force_login(UserFactory(username="admin", is_superuser=True, is_staff=True))
    return client


def add_url(fund_index):
    return f"/admin/pages/add/bounties/fundpage/{fund_index.pk}/"


def add_form(client, fund_index, **fields):
    """The add view's own form, filled in as an editor would (the StreamField body left empty)."""
    data = querydict_from_html(client.get(add_url(fund_index)).content.decode(), form_id="page-edit-form")
    deadline = timezone.localtime() + timedelta(days=14)
    data.update(
        {
            "title": "Audit TrueCrypt",
            "slug": "audit-truecrypt",
            "summary": "An independent audit of TrueCrypt.",
            "pledge_deadline": deadline.strftime("%Y-%m-%d %H:%M"),
            "escrow_until": (deadline + timedelta(days=60)).strftime("%Y-%m-%d %H:%M"),
            "body-count": "0",
        }
    )
    data.update(fields)
    return data


def form_errors(response) -> str:
    """The error messages the add view shows, to say why a post was not saved."""
    errors = parse_html(response.content).find_all(class_="error-message")
    return " | ".join(error.text for error in errors)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("25,000", 2_500_000), ("25000.50", 2_500_050), ("$1,000.05", 100_005), ("1", 100)],
)
def test_an_editor_creates_a_fund_typing_the_goal_in_dollars(editor, fund_index, typed, cents):
    response = editor.post(add_url(fund_index), add_form(editor, fund_index, goal_cents=typed))

    assert response.status_code == 302, form_errors(response)
    page = FundPage.objects.get(slug="audit-truecrypt")
    assert page.goal_cents == cents
    assert page.get_latest_revision_as_object().goal_cents == cents


def test_the_add_form_labels_the_goal_in_dollars_and_names_the_time_zone(editor, fund_index):
    page = editor.get(add_url(fund_index)).content.decode()
    html = parse_html(page)
    label = html.find("label", for_="id_goal_cents")
    assert label.text.startswith("Goal")
    assert "In dollars; stored as cents." in page
    assert "Pledges are accepted until this moment (UTC)." in page
    assert "Money stays in escrow until this moment (UTC)" in page
    assert html.find("input", name="goal_cents").get("inputmode") == "decimal"


def test_the_edit_form_shows_the_stored_cents_as_dollars(editor, make_fund):
    fund = make_fund(goal_cents=2_500_000)
    page = parse_html(editor.get(f"/admin/pages/{fund.pk}/edit/").content)
    assert page.find("input", name="goal_cents").get("value") == "25,000.00"


def test_saving_the_edit_form_unchanged_keeps_the_cents(editor, make_fund):
    fund = make_fund(goal_cents=2_500_050)
    edit_url = f"/admin/pages/{fund.pk}/edit/"
    data = querydict_from_html(editor.get(edit_url).content.decode(), form_id="page-edit-form")
    data["body-count"] = "0"
    assert data["goal_cents"] == "25,000.50"

    response = editor.post(edit_url, data)

    assert response.status_code == 302
    assert fund.get_latest_revision_as_object().goal_cents == 2_500_050


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("abc", "Enter an amount in dollars and cents, like 25 or 25.50."),
        ("1.005", "Amounts are in whole cents: use at most two decimal places."),
        ("-25", "Amounts cannot be negative"),
        ("25,50", "Use a dot for cents and commas only between thousands"),
        ("0.99", "The smallest amount is $1."),
        ("", "Enter an amount in dollars and cents"),
    ],
)
def test_a_goal_that_is_not_whole_dollars_and_cents_is_refused_in_words(editor, fund_index, typed, words):
    response = editor.post(add_url(fund_index), add_form(editor, fund_index, goal_cents=typed))

    assert response.status_code == 200
    body = response.content.decode()
    assert words in body
    assert "Enter a whole number" not in body and "greater than or equal to" not in body
    # What the editor typed is shown back to be corrected, not a rounded value.
    assert parse_html(response.content).find("input", name="goal_cents").get("value", "") == typed
    assert not FundPage.objects.filter(slug="audit-truecrypt").exists()


def test_the_widget_and_field_round_trip():
    assert DollarsWidget().format_value(2_500_000) == "25,000.00"
    assert DollarsWidget().format_value(5) == "0.05"
    assert DollarsWidget().format_value("1.005") == "1.005"  # a refused value is shown as typed
    field = DollarsField(min_cents=100)
    assert field.clean("25,000") == 2_500_000
    assert field.clean(" $25000.50 ") == 2_500_050
    assert not field.has_changed(2_500_000, "25,000.00")
    assert field.has_changed(2_500_000, "25,000.01")
