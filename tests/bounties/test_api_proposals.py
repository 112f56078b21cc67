"""The JSON API for creators: propose a fund (`POST /api/v1/funds/`), follow it (`GET /api/v1/me/proposals/`).

A proposal is a draft fund in Wagtail's "Fund review" workflow: hidden from every public list and
page until an editor approves it. Each refusal answers with its code and creates nothing.
"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from wagtail.models import Page, WorkflowState

from bounties.models import CreatorSettings, FundPage
from bounties.services.proposals import GOAL_MIN_CENTS
from tests.api import assert_error, client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/funds/"
MINE = "/api/v1/me/proposals/"


def proposal(**overrides):
    now = timezone.now()
    body = {
        "title": "Audit the OpenSSL heartbeat code",
        "acceptance_criteria": "A public report by a named auditor covering the heartbeat extension.",
        "summary": "Pay for an independent audit of the TLS heartbeat extension.",
        "description": "Heartbleed showed how little review this code gets.\n\nThis fund pays for one.",
        "goal_cents": 500_000,
        "pledge_deadline": (now + timedelta(days=30)).isoformat(),
        "escrow_until": (now + timedelta(days=90)).isoformat(),
        "failure_policy": "refund",
        "hashtag": "heartbeat",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not ...}


def propose(user, body=None, **overrides):
    return client_for(user).post(URL, body if body is not None else proposal(**overrides), format="json")


def created():
    """What a refused proposal must leave as it was: the pages and the workflow states."""
    return FundPage.objects.count(), WorkflowState.objects.count()


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.CREATOR_RATE_LIMIT = ""  # tested apart below


@pytest.fixture
def carol(fund_index):
    return UserFactory(username="carol", email="carol@example.com")


@pytest.fixture
def editor(db):
    return UserFactory(username="eddie", is_staff=True, is_superuser=True)


def review_of(page_id):
    return FundPage.objects.get(pk=page_id).current_workflow_state.current_task_state


def mine(user):
    response = client_for(user).get(MINE)
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- Proposing and review ----------------------------------------------------------------------------


def test_a_proposal_is_a_draft_owned_by_its_creator_and_in_review(carol):
    response = propose(carol)

    assert response.status_code == 201, response.content
    assert response["Location"] == MINE
    answer = response.json()
    assert answer["status"] == "in_review"
    assert answer["url"] is None and answer["comment"] == "" and answer["submitted_at"]
    assert (answer["title"], answer["goal_cents"], answer["failure_policy"]) == (
        "Audit the OpenSSL heartbeat code",
        500_000,
        "refund",
    )
    assert (answer["vote_window_hours"], answer["quorum_percent"]) == (72, 10)  # the defaults
    page = FundPage.objects.get(pk=answer["id"])
    assert page.owner == carol and not page.live
    assert page.hashtag == "heartbeat"
    assert mine(carol) == [answer]


def test_a_proposal_in_review_is_nowhere_public(carol, fund):
    page_id = propose(carol).json()["id"]
    page = FundPage.objects.get(pk=page_id)

    listed = [item["id"] for item in APIClient().get(URL).json()["results"]]
    assert listed == [fund.pk]
    assert_error(APIClient().get(f"/api/v1/funds/{page_id}/"), 404, "not_found")
    assert APIClient().get(page.get_url()).status_code == 404


def test_an_approved_proposal_goes_live_and_is_listed(carol, editor):
    page_id = propose(carol).json()["id"]

    review_of(page_id).approve(user=editor)

    listed = [item["id"] for item in APIClient().get(URL).json()["results"]]
    assert page_id in listed
    [answer] = mine(carol)
    assert answer["status"] == "live"
    assert answer["url"] == FundPage.objects.get(pk=page_id).get_full_url()
    assert APIClient().get(answer["url"]).status_code == 200


def test_changes_requested_show_the_editors_comment(carol, editor):
    page_id = propose(carol).json()["id"]

    review_of(page_id).reject(user=editor, comment="Add a link to the spec")

    [answer] = mine(carol)
    assert (answer["id"], answer["status"], answer["comment"]) == (
        page_id,
        "changes_requested",
        "Add a link to the spec",
    )
    assert answer["url"] is None
    assert_error(APIClient().get(f"/api/v1/funds/{page_id}/"), 404, "not_found")


def test_a_beneficiary_and_the_voting_rules_are_kept(carol):
    response = propose(
        carol,
        failure_policy="beneficiary",
        beneficiary_name="The OpenSSL Foundation",
        vote_window_hours=24 * 14,
        quorum_percent=0,
    )

    assert response.status_code == 201, response.content
    answer = response.json()
    assert (answer["failure_policy"], answer["beneficiary_name"]) == ("beneficiary", "The OpenSSL Foundation")
    assert (answer["vote_window_hours"], answer["quorum_percent"]) == (336, 0)


def test_my_proposals_are_only_mine_newest_first_and_paged(carol, fund_index):
    first = propose(carol).json()["id"]
    second = propose(carol, title="Fuzz the parser").json()["id"]
    dave = UserFactory(username="dave")
    assert mine(dave) == []

    assert [answer["id"] for answer in mine(carol)] == [second, first]
    page = client_for(carol).get(MINE, {"limit": 1}).json()
    assert (page["count"], [answer["id"] for answer in page["results"]]) == (2, [second])
    assert_error(client_for(carol).get(MINE, {"limit": "x"}), 400, "invalid_pagination")


# --- Refusals ----------------------------------------------------------------------------------------


def _past_deadline():
    return (timezone.now() + timedelta(days=10)).isoformat()


INVALID = [
    pytest.param(proposal(escrow_until=_past_deadline()), "escrow_until", id="escrow-before-deadline"),
    pytest.param(proposal(goal_cents=GOAL_MIN_CENTS - 1), "goal_cents", id="goal-below-minimum"),
    pytest.param(proposal(goal_cents="5000"), "goal_cents", id="goal-as-string"),
    pytest.param(proposal(title=...), "title", id="missing-title"),
    pytest.param(proposal(title="   "), "title", id="blank-title"),
    pytest.param(proposal(title="x" * 256), "title", id="title-too-long"),
    pytest.param(proposal(summary="x" * 301), "summary", id="summary-too-long"),
    pytest.param(proposal(hashtag="#heartbeat"), "hashtag", id="hashtag-with-hash"),
    pytest.param(proposal(failure_policy="keep"), "failure_policy", id="unknown-policy"),
    pytest.param(proposal(failure_policy="beneficiary"), "beneficiary_name", id="beneficiary-unnamed"),
    pytest.param(proposal(vote_window_hours=12), "vote_window_hours", id="vote-window-short"),
    pytest.param(proposal(quorum_percent=101), "quorum_percent", id="quorum-over-100"),
    pytest.param(proposal(pledge_deadline="next week"), "pledge_deadline", id="deadline-not-a-date"),
    pytest.param(proposal(pledge_deadline="9999-12-31T23:59:59Z"), "pledge_deadline", id="deadline-far"),
    pytest.param(proposal(escrow_until=1_900_000_000), "escrow_until", id="escrow-as-a-number"),
    pytest.param(
        proposal(pledge_deadline=(timezone.now() + timedelta(hours=2)).isoformat()),
        "pledge_deadline",
        id="deadline-too-soon",
    ),
    pytest.param(["not", "an", "object"], "__all__", id="not-an-object"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
def test_invalid_proposals_name_the_field_and_create_nothing(carol, body, field):
    before = created()

    error = assert_error(propose(carol, body), 400, "invalid_proposal")

    assert error["details"]["fields"][field], error
    assert all(
        isinstance(message, str) for messages in error["details"]["fields"].values() for message in messages
    )
    assert created() == before


def test_the_goal_below_the_minimum_says_the_sites_limits(carol):
    error = assert_error(propose(carol, goal_cents=GOAL_MIN_CENTS - 1), 400, "invalid_proposal")
    assert error["details"]["fields"]["goal_cents"] == ["The goal must be between $10 and $1,000,000."]


@pytest.mark.parametrize("raw", ['{"title": ', "[1, 2", "null", '"a string"'])
def test_a_body_that_is_not_a_json_object_is_refused(carol, raw):
    before = created()
    response = client_for(carol).post(URL, raw, content_type="application/json")
    if raw in ("null", '"a string"'):
        error = assert_error(response, 400, "invalid_proposal")
        assert error["details"]["fields"]["__all__"]
    else:
        assert_error(response, 400, "invalid_json")  # not JSON at all: the API's usual answer
    assert created() == before


def test_the_limit_of_proposals_in_review_is_a_409(carol, site_tree):
    home, _ = site_tree
    creator_settings = CreatorSettings.for_site(Page.objects.get(pk=home.pk).get_site())
    creator_settings.max_proposals_in_review = 1
    creator_settings.save()
    assert propose(carol).status_code == 201
    before = created()

    assert_error(propose(carol, title="A second fund"), 409, "too_many_proposals")
    assert created() == before


def test_too_many_posts_in_an_hour_is_a_429(carol, settings):
    settings.CREATOR_RATE_LIMIT = "0/h"
    before = created()

    response = propose(carol)

    assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] == "3600"
    assert created() == before


def test_proposing_needs_a_token_but_listing_does_not(fund_index):
    before = created()
    assert_error(APIClient().post(URL, proposal(), format="json"), 401, "not_authenticated")
    assert_error(APIClient().get(MINE), 401, "not_authenticated")
    assert APIClient().get(URL).status_code == 200
    assert created() == before


# --- Schema ------------------------------------------------------------------------------------------


def test_the_schema_documents_proposing_and_my_proposals(db):
    schema = json.loads(APIClient().get("/api/v1/schema/?format=json").content)
    funds = schema["paths"]["/api/v1/funds/"]
    assert funds["post"]["operationId"] == "fund_propose"
    assert set(funds["post"]["responses"]) == {"201", "400", "401", "409", "429"}
    assert {} in funds["get"]["security"] and {} not in funds["post"]["security"]  # listing stays public
    assert funds["get"]["description"] == "Every published, public fund, newest first."
    assert "Location" in funds["post"]["responses"]["201"]["headers"]
    assert schema["paths"]["/api/v1/me/proposals/"]["get"]["operationId"] == "my_proposals_list"
    assert "image" not in schema["components"]["schemas"]["ProposalRequest"]["properties"]
