"""Hostile input to the JSON API and the live figures: every answer is a JSON error in the API's shape,
never a 500 or the site's HTML, and nothing leaks from a restricted page."""

import logging

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token
from wagtail.models import PageViewRestriction

from bounties.api.pagination import MAX_LIMIT, MAX_OFFSET
from bounties.models import Fund, Pledge, Transfer
from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
from bounties.services.deposits import deposit_create
from bounties.services.ledger import ledger_violations
from tests.api import assert_error, client_for
from tests.fundfill.test_settings import environment, manage, production_environment

pytestmark = pytest.mark.django_db

BIGINT_OVERFLOW = str(2**63)  # one past PostgreSQL's bigint


@pytest.fixture
def alice(user):
    deposit = deposit_create(user=user, amount_cents=10_000, gateway="local")
    LocalGateway().pay(deposit, SUCCESS_CARD)
    return user


# --- Pagination: limit is capped, offset is checked -------------------------------------------------


@pytest.mark.parametrize("limit", [BIGINT_OVERFLOW, str(MAX_LIMIT + 1), "1" + "0" * 40, "9" * 5_000])
def test_a_huge_limit_is_lowered_to_the_maximum(fund, alice, limit):
    for client, path in ((client_for(), "/api/v1/funds/"), (client_for(alice), "/api/v1/me/pledges/")):
        response = client.get(path, {"limit": limit})
        assert response.status_code == 200, response.content[:500]
        assert response.json()["count"] <= MAX_LIMIT


def test_the_limit_still_pages(fund, make_fund):
    other = make_fund(title="Second")
    body = client_for().get("/api/v1/funds/", {"limit": "1"}).json()
    assert [item["id"] for item in body["results"]] == [other.pk]
    assert "offset=1" in body["next"]


@pytest.mark.parametrize(
    "params",
    [
        {"offset": BIGINT_OVERFLOW},
        {"offset": str(MAX_OFFSET + 1)},
        {"offset": "abc"},
        {"offset": "-1"},
        {"offset": "1.5"},
        {"offset": "²"},  # a digit to str.isdigit(), not to int()
        {"offset": "١"},  # an Arabic-Indic one: int() takes it, the API does not
        {"limit": "abc"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "²"},
    ],
)
def test_a_bad_offset_or_limit_is_a_400_with_a_code(db, alice, params):
    assert_error(client_for().get("/api/v1/funds/", params), 400, "invalid_pagination")
    assert_error(client_for(alice).get("/api/v1/me/pledges/", params), 400, "invalid_pagination")


def test_the_largest_offset_is_an_empty_page(fund):
    body = client_for().get("/api/v1/funds/", {"offset": str(MAX_OFFSET)}).json()
    assert body["results"] == [] and body["count"] == 1


# --- JSON nested too deep ---------------------------------------------------------------------------

DEEP_LIST = "[" * 5_000 + "]" * 5_000
DEEP_OBJECT = '{"a":' * 5_000 + "1" + "}" * 5_000


@pytest.mark.parametrize("raw", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/accounts/", "/api/v1/auth/token/", "/api/v1/wallet/deposits/", "/api/v1/funds/{fund}/pledges/"],
)
def test_json_nested_too_deep_is_invalid_json(alice, fund, path, raw):
    transfers = Transfer.objects.count()
    response = client_for(alice).post(
        path.format(fund=fund.pk), raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
    )
    assert_error(response, 400, "invalid_json")
    assert Transfer.objects.count() == transfers and not Pledge.objects.exists()


# --- Every error under /api/ is JSON in the API's shape ---------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/funds/%0a",
        "/api/v1/%0a",
        "/api/v1/funds/1/%0a/",
        "/api/v2/funds/",
        "/api/",
    ],
)
def test_unknown_api_paths_are_json_404s(site_tree, path):
    for method in ("get", "post", "delete"):
        assert_error(getattr(Client(), method)(path), 404, "not_found")


def test_the_sites_own_404_is_still_html(site_tree):
    response = Client().get("/apix/")
    assert response.status_code == 404 and "We can't find that page" in response.content.decode()


@pytest.mark.parametrize("path", ["/api/v1/accounts/", "/api/v1/auth/token/", "/api/v1/wallet/deposits/"])
def test_a_body_over_the_size_limit_is_a_413(alice, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = '{"username": "%s", "password": "x"}' % ("a" * 2_000)
    response = client_for(alice).post(path, body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_a_bad_host_under_api_is_a_json_400(db, settings):
    settings.ALLOWED_HOSTS = ["fundfill.example"]
    response = Client(HTTP_HOST="evil.example").get("/api/v1/funds/")
    assert_error(response, 400, "bad_request")


@pytest.fixture
def broken_wallet(monkeypatch):
    """Make /api/v1/wallet/ fail the way a bug would."""

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("bounties.selectors.balances", explode)


def test_an_api_500_is_json_with_the_reference_that_is_in_the_log(alice, broken_wallet, caplog):
    client = Client(raise_request_exception=False)
    token, _ = Token.objects.get_or_create(user=alice)

    with caplog.at_level(logging.ERROR, logger="fundfill.errors"):
        response = client.get("/api/v1/wallet/", HTTP_AUTHORIZATION=f"Token {token.key}")

    error = assert_error(response, 500, "server_error")
    reference = response["X-Error-Reference"]
    assert reference == response["X-Request-ID"]  # the request id: it leads to every log line
    assert error["details"] == {"reference": reference}
    assert reference in error["message"] and "No money moved" in error["message"]
    logged = [record for record in caplog.records if record.name == "fundfill.errors"]
    assert len(logged) == 1 and reference in logged[0].getMessage()
    assert "RuntimeError: simulated failure" in caplog.text


# --- The browsable API is off outside DEBUG ---------------------------------------------------------


def test_format_api_is_a_json_404_without_debug(fund):
    response = client_for().get("/api/v1/funds/", {"format": "api"})
    assert_error(response, 404, "not_found")
    browser = client_for().get("/api/v1/funds/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert browser.status_code == 200 and browser["Content-Type"] == "application/json"
    assert_error(client_for().get("/api/v1/funds/", HTTP_ACCEPT="text/html"), 406, "not_acceptable")


def test_only_debug_settings_offer_the_browsable_api(tmp_path):
    probe = "from django.conf import settings as s; print(*s.REST_FRAMEWORK['DEFAULT_RENDERER_CLASSES'])"
    production = manage("shell", "-c", probe, env=production_environment(tmp_path))
    assert production.stdout.splitlines()[-1].split() == ["rest_framework.renderers.JSONRenderer"], (
        production.stderr
    )
    dev = manage(
        "shell",
        "-c",
        probe,
        env=environment(DJANGO_SETTINGS_MODULE="fundfill.settings.dev", SQLITE_PATH=str(tmp_path / "d.db")),
    )
    assert "rest_framework.renderers.BrowsableAPIRenderer" in dev.stdout.splitlines()[-1].split(), dev.stderr


# --- /funds/live.json ---------------------------------------------------------------------------------


@pytest.fixture
def _empty_live_cache():
    cache.delete_many([f"live-figures:{n}" for n in range(1, 200)])


@pytest.mark.parametrize("ids", ["%C2%B2", "1,%C2%B2", "%D9%A1", "%EF%BC%91", "%E2%91%A0"])
def test_live_ids_take_ascii_digits_only(db, ids):
    response = Client().get(f"/funds/live.json?ids={ids}")
    assert_error(response, 400, "invalid_ids")


@pytest.mark.parametrize("restriction", [PageViewRestriction.PASSWORD, PageViewRestriction.LOGIN])
def test_live_figures_leave_out_restricted_funds(
    fund, make_fund, fund_index, restriction, _empty_live_cache, django_assert_num_queries
):
    private = make_fund(title="Members only")
    PageViewRestriction.objects.create(page=private, restriction_type=restriction, password="letmein")
    Fund.objects.filter(pk=private.pk).update(pledged_cents=5_000, backer_count=3)

    with django_assert_num_queries(1):
        body = Client().get(f"/funds/live.json?ids={fund.pk},{private.pk}").json()

    assert set(body["funds"]) == {str(fund.pk)}
    api_ids = {item["id"] for item in client_for().get("/api/v1/funds/").json()["results"]}
    assert api_ids == {fund.pk}  # the same rule as the API's


def test_live_figures_leave_out_funds_under_a_restricted_section(fund, fund_index, _empty_live_cache):
    PageViewRestriction.objects.create(page=fund_index, restriction_type=PageViewRestriction.LOGIN)
    assert Client().get(f"/funds/live.json?ids={fund.pk}").json() == {"funds": {}}
    assert client_for().get("/api/v1/funds/").json()["results"] == []


def test_ledger_is_clean_after_the_hostile_requests(alice, fund):
    for raw in (DEEP_LIST, DEEP_OBJECT):
        client_for(alice).post(
            f"/api/v1/funds/{fund.pk}/pledges/",
            raw,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k",
        )
    assert ledger_violations() == []
