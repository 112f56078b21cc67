"""Creators' pages, request by request: start a fund, the dashboard, resubmitting, news, terms.

Each test says what the creator sees and what was (or was not) created. Editors act the way
they do in the admin: through the workflow's task state (`approve`, `reject`).
"""

import io
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects
from wagtail.models import Site, WorkflowState

from bounties.models import CreatorSettings, FundPage, FundUpdatePage, Pledge
from bounties.selectors import proposals
from bounties.services.proposals import proposal_submit
from tests.bounties.test_proposals import proposal_fields
from tests.factories import UserFactory
from tests.money import back

pytestmark = pytest.mark.django_db

FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


@pytest.fixture(autouse=True)
def _no_creator_rate_limit(settings):
    settings.CREATOR_RATE_LIMIT = ""  # tested on its own below


@pytest.fixture
def creator(fund_index):
    # Older than `new_account_days`: their news is published at once.
    return UserFactory(username="carol", date_joined=timezone.now() - timedelta(days=30))


@pytest.fixture
def editor(db):
    return UserFactory(username="ed", is_staff=True, is_superuser=True)


def typed(when):
    return timezone.localtime(when).strftime(FORMAT)


def form_data(**overrides):
    """The start-a-fund form as a creator fills it in (goal in dollars, dates as the browser sends them)."""
    now = timezone.now()
    return {
        "title": "Audit the OpenSSL heartbeat code",
        "acceptance_criteria": "A public report by a named auditor covering the heartbeat extension.",
        "summary": "Pay for an independent audit of the TLS heartbeat extension.",
        "description": "Heartbleed showed how little review this code gets.\n\nThis fund pays for one.",
        "goal": "5,000",
        "pledge_deadline": typed(now + timedelta(days=30)),
        "escrow_until": typed(now + timedelta(days=90)),
        "failure_policy": "refund",
        "beneficiary_name": "",
        "vote_window_hours": "72",
        "quorum_percent": "10",
        "hashtag": "heartbeat",
        **overrides,
    }


def png(name="cover.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "teal").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def error_next_to(response, field, text):
    """`text` is shown in the field's own block (`_field.html`), not only at the top."""
    html = response.content.decode()
    start = html.index(f'name="{field}"')
    end = html.find('class="field', start)
    assert text in html[start : end if end != -1 else None], f"{text!r} not next to {field}"


def live_fund(creator, editor, **overrides):
    """A proposal by `creator`, approved by `editor`: live and owned by the creator."""
    submitted = proposal_submit(user=creator, fields=proposal_fields(**overrides))
    submitted.workflow_state.current_task_state.approve(user=editor)
    return FundPage.objects.get(pk=submitted.page.pk)


# --- Starting a fund ------------------------------------------------------------------------------


def test_signed_out_readers_are_sent_to_log_in_and_back(client, fund_index):
    for url in ("/start-a-fund/", "/my/funds/"):
        response = client.get(url)
        assertRedirects(response, f"{reverse('login')}?next={quote(url)}", fetch_redirect_response=False)
    response = client.post("/start-a-fund/", form_data())
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not FundPage.objects.filter(title="Audit the OpenSSL heartbeat code").exists()


def test_the_form_has_its_preview_and_says_how_review_works(client, creator):
    client.force_login(creator)
    response = client.get("/start-a-fund/")
    assertContains(response, 'id="proposal-form"')
    assertContains(response, 'id="proposal-preview"')
    assertContains(response, "Send for review</button>")
    assertContains(response, 'href="#how-review-works"')
    assertContains(response, 'id="how-review-works"')
    for name in ("title", "acceptance_criteria", "summary", "description", "goal", "pledge_deadline"):
        assertContains(response, f'name="{name}"')
    assertContains(response, 'type="datetime-local" name="escrow_until"')
    assertContains(response, 'type="radio" name="failure_policy" value="refund"')
    assertContains(response, 'name="image"')
    assertContains(response, "What counts as done")


def test_a_valid_proposal_is_an_in_review_draft_owned_by_its_creator(client, creator):
    client.force_login(creator)
    response = client.post("/start-a-fund/", {**form_data(), "image": png()})
    assertRedirects(response, "/my/funds/", fetch_redirect_response=False)

    page = FundPage.objects.get(title="Audit the OpenSSL heartbeat code")
    assert page.owner == creator and not page.live
    assert page.goal_cents == 500_000  # "5,000" dollars, in cents
    assert page.image is not None and page.image.uploaded_by_user == creator
    assert page.current_workflow_state.status == WorkflowState.STATUS_IN_PROGRESS
    assert [p.status for p in proposals(user=creator)] == ["in_review"]

    dashboard = client.get("/my/funds/")
    assertContains(dashboard, "Your proposal is with our editors")
    # Nobody else sees it at its would-be address until an editor approves it.
    client.logout()
    assert client.get(page.url).status_code == 404


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("goal", "abc", "Enter an amount"),
        ("pledge_deadline", "past", "between a day and a year from now"),
        ("escrow_until", "before", "on or after the pledge deadline"),
    ],
)
def test_invalid_input_is_shown_next_to_its_field_and_creates_nothing(client, creator, field, value, words):
    client.force_login(creator)
    now = timezone.now()
    value = {"past": typed(now - timedelta(days=2)), "before": typed(now + timedelta(days=10))}.get(
        value, value
    )
    response = client.post("/start-a-fund/", form_data(**{field: value}))
    assert response.status_code == 400
    error_next_to(response, field, words)
    assert not FundPage.objects.filter(owner=creator).exists()


def test_a_goal_that_is_not_an_amount_says_so_in_a_proposals_words(client, creator):
    client.force_login(creator)
    response = client.post("/start-a-fund/", form_data(goal="abc"))
    form = response.context["form"]
    assert set(form.errors) == {"goal"}
    assert form.errors["goal"] == [
        "Enter an amount in dollars and cents, like 25 or 25.50."
    ]  # no "No money moved"


def test_a_goal_below_the_sites_minimum_is_the_services_refusal_on_the_goal(client, creator):
    client.force_login(creator)
    response = client.post("/start-a-fund/", form_data(goal="5"))
    assert response.status_code == 400
    error_next_to(response, "goal", "The goal must be between $10 and $1,000,000.")
    assert not FundPage.objects.filter(owner=creator).exists()


def test_the_limit_of_proposals_in_review_is_said_on_the_form(client, creator):
    settings = CreatorSettings.for_site(Site.objects.get(is_default_site=True))
    settings.max_proposals_in_review = 1
    settings.save()
    client.force_login(creator)
    assert client.post("/start-a-fund/", form_data()).status_code == 302
    response = client.post("/start-a-fund/", form_data(title="A second fund"))
    assert response.status_code == 409
    assertContains(response, "You already have 1 proposals waiting for review", status_code=409)
    assert FundPage.objects.filter(owner=creator).count() == 1


def test_too_many_posts_in_an_hour_is_a_429_on_the_form(client, creator, settings):
    settings.CREATOR_RATE_LIMIT = "1/d"  # a day: a test never straddles the window's end
    client.force_login(creator)
    assert client.post("/start-a-fund/", form_data()).status_code == 302
    response = client.post("/start-a-fund/", form_data(title="A second fund"))
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    assertContains(response, "Try again in an hour", status_code=429)
    assert FundPage.objects.filter(owner=creator).count() == 1


# --- The dashboard and resubmitting ---------------------------------------------------------------


def test_an_empty_dashboard_offers_to_start_a_fund(client, creator):
    client.force_login(creator)
    response = client.get("/my/funds/")
    assertContains(response, 'id="my-funds"')
    assertContains(response, 'href="/start-a-fund/">Start a fund</a>')
    assertContains(response, 'href="/my/funds/">My funds</a>')  # in the header, beside the account links


def test_the_dashboard_follows_the_review_and_a_resubmit_resumes_it(client, creator, editor):
    client.force_login(creator)
    client.post("/start-a-fund/", form_data())
    page = FundPage.objects.get(owner=creator)

    response = client.get("/my/funds/")
    assertContains(response, 'data-status="in_review"')
    assertContains(response, "In review since")
    # Not editable while an editor has it.
    assert client.get(f"/my/funds/{page.pk}/edit/").status_code == 409

    page.current_workflow_state.current_task_state.reject(user=editor, comment="Please add a link")
    response = client.get("/my/funds/")
    assertContains(response, 'data-status="changes_requested"')
    assertContains(response, "Changes requested")
    assertContains(response, "Please add a link")
    assertContains(response, f'href="/my/funds/{page.pk}/edit/">Edit and resubmit</a>')

    # The edit form starts from the proposal as it was sent.
    response = client.get(f"/my/funds/{page.pk}/edit/")
    form = response.context["form"]
    assert form.initial["title"] == "Audit the OpenSSL heartbeat code"
    assert form.initial["goal"] == "$5,000"
    assert form.initial["description"].startswith("Heartbleed showed")
    assertContains(response, "Please add a link")

    data = form_data(description="See https://example.com/heartbeat for the code.")
    response = client.post(f"/my/funds/{page.pk}/edit/", data)
    assertRedirects(response, "/my/funds/", fetch_redirect_response=False)
    page.refresh_from_db()
    assert page.current_workflow_state.status == WorkflowState.STATUS_IN_PROGRESS
    assert "example.com/heartbeat" in str(page.get_latest_revision_as_object().body)
    assertContains(client.get("/my/funds/"), 'data-status="in_review"')

    page.current_workflow_state.current_task_state.approve(user=editor)
    response = client.get("/my/funds/")
    page.refresh_from_db()
    assertContains(response, 'data-status="live"')
    assertContains(response, f'href="{page.url}"')
    assertContains(response, f'href="/my/funds/{page.pk}/news/">Post news</a>')
    assertContains(response, f'href="/my/funds/{page.pk}/terms/">Change terms</a>')


def test_the_edit_form_previews_the_image_the_proposal_has_and_keeps_it(client, creator, editor):
    client.force_login(creator)
    client.post("/start-a-fund/", {**form_data(), "image": png()})
    page = FundPage.objects.get(owner=creator)
    image = page.image
    page.current_workflow_state.current_task_state.reject(user=editor, comment="Shorter summary")
    assertContains(client.get(f"/my/funds/{page.pk}/edit/"), 'data-initial="')
    client.post(f"/my/funds/{page.pk}/edit/", form_data(summary="An audit of the heartbeat code."))
    page.refresh_from_db()
    assert page.get_latest_revision_as_object().image == image  # no new file: the image stays


def test_an_invalid_resubmit_is_shown_on_the_form_and_keeps_the_review_waiting(client, creator, editor):
    client.force_login(creator)
    client.post("/start-a-fund/", form_data())
    page = FundPage.objects.get(owner=creator)
    page.current_workflow_state.current_task_state.reject(user=editor, comment="Lower the goal")
    response = client.post(f"/my/funds/{page.pk}/edit/", form_data(goal="1"))
    assert response.status_code == 400
    error_next_to(response, "goal", "The goal must be between")
    page.refresh_from_db()
    assert page.current_workflow_state.status == WorkflowState.STATUS_NEEDS_CHANGES


def test_another_users_fund_is_not_found_on_every_creator_door(client, creator, editor):
    fund = live_fund(creator, editor)
    other = UserFactory(username="mallory")
    client.force_login(other)
    for url in (f"/my/funds/{fund.pk}/edit/", f"/my/funds/{fund.pk}/news/", f"/my/funds/{fund.pk}/terms/"):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"title": "Mine now", "body": "x"}).status_code == 404, url
    assert not FundUpdatePage.objects.exists()
    assertNotContains(client.get("/my/funds/"), fund.title)


# --- News and terms -------------------------------------------------------------------------------


def test_news_from_an_established_account_is_published(client, creator, editor):
    fund = live_fund(creator, editor)
    client.force_login(creator)
    assertContains(client.get(f"/my/funds/{fund.pk}/news/"), "published as soon as you post it")
    response = client.post(f"/my/funds/{fund.pk}/news/", {"title": "Auditor found", "body": "Meet Ann."})
    assertRedirects(response, "/my/funds/", fetch_redirect_response=False)
    news = FundUpdatePage.objects.get(title="Auditor found")
    assert news.live and news.get_parent().pk == fund.pk
    assertContains(client.get("/my/funds/"), "is published on")


def test_news_from_a_new_account_goes_to_an_editor(client, creator, editor):
    fund = live_fund(creator, editor)
    creator.date_joined = timezone.now()
    creator.save(update_fields=["date_joined"])
    client.force_login(creator)
    response = client.post(f"/my/funds/{fund.pk}/news/", {"title": "Auditor found", "body": "Meet Ann."})
    assertRedirects(response, "/my/funds/", fetch_redirect_response=False)
    news = FundUpdatePage.objects.get(title="Auditor found")
    assert not news.live
    assert news.current_workflow_state.status == WorkflowState.STATUS_IN_PROGRESS
    assertContains(client.get("/my/funds/"), "sent to an editor for review")


def test_news_needs_a_title_and_words(client, creator, editor):
    fund = live_fund(creator, editor)
    client.force_login(creator)
    response = client.post(f"/my/funds/{fund.pk}/news/", {"title": "", "body": ""})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"title", "body"}
    assert not FundUpdatePage.objects.exists()


def test_news_waits_until_the_fund_is_live(client, creator):
    client.force_login(creator)
    client.post("/start-a-fund/", form_data())
    page = FundPage.objects.get(owner=creator)
    response = client.get(f"/my/funds/{page.pk}/news/")
    assertContains(response, "once the fund is live", status_code=409)


def test_new_terms_are_published_and_a_pledge_made_before_keeps_its_own(client, creator, editor):
    fund = live_fund(creator, editor)
    backer = UserFactory(username="bob")
    pledge = back(backer, fund, 2_500)
    before = Pledge.objects.get(pk=pledge.pk).escrow_until
    assert before == fund.escrow_until

    client.force_login(creator)
    response = client.get(f"/my/funds/{fund.pk}/terms/")
    assertContains(response, "Pledges already made keep the terms they were made under")
    assert response.context["form"].initial["vote_window_hours"] == 72

    later = fund.escrow_until + timedelta(days=30)
    response = client.post(
        f"/my/funds/{fund.pk}/terms/",
        {
            "escrow_until": typed(later),
            "failure_policy": "beneficiary",
            "beneficiary_name": "The OpenSSL Foundation",
            "vote_window_hours": "96",
            "quorum_percent": "20",
        },
    )
    fund.refresh_from_db()
    assertRedirects(response, fund.url, fetch_redirect_response=False)
    assert fund.escrow_until == later.replace(second=0, microsecond=0)
    assert fund.failure_policy == "beneficiary" and fund.vote_window_hours == 96
    assert not fund.has_unpublished_changes
    assert Pledge.objects.get(pk=pledge.pk).escrow_until == before  # its terms are its own


def test_terms_refused_by_the_rules_are_shown_next_to_the_field(client, creator, editor):
    fund = live_fund(creator, editor)
    client.force_login(creator)
    response = client.post(
        f"/my/funds/{fund.pk}/terms/",
        {
            "escrow_until": typed(fund.escrow_until),
            "failure_policy": "beneficiary",
            "beneficiary_name": "",
            "vote_window_hours": "72",
            "quorum_percent": "10",
        },
    )
    assert response.status_code == 400
    error_next_to(response, "beneficiary_name", "Name the beneficiary")
    fund.refresh_from_db()
    assert fund.failure_policy == "refund"
