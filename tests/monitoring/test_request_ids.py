"""One id per request: in the X-Request-ID header, on every log line, on error pages, in API errors."""

import io
import json
import logging
import re

import pytest
from django.test import Client
from django_q.tasks import async_task

from monitoring import requestid
from monitoring.logs import JsonFormatter
from monitoring.requestid import RequestIdFilter
from pagecache.middleware import HEADER as PAGE_CACHE_HEADER

pytestmark = pytest.mark.django_db

FRESH = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log():
    """The root logger's lines as production writes them (the filter and formatter of settings' LOGGING)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(), logging.getLogger("django.request")]  # the second does not propagate
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def test_each_response_gets_a_fresh_id(client, site_tree):
    first, second = client.get("/"), client.get("/")

    assert FRESH.fullmatch(first["X-Request-ID"]) and FRESH.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_plain_incoming_id_is_kept_so_the_proxys_log_and_ours_share_it(client, site_tree):
    heroku_style = "0b4c7f2e-3e3c-4b55-9c1e-6c8f7a1d2b3c"

    assert client.get("/", headers={"X-Request-ID": heroku_style})["X-Request-ID"] == heroku_style


@pytest.mark.parametrize(
    "incoming",
    ["", "two words", "<script>alert(1)</script>", "a" * 129, "caf\u00e9", "id\r\nSet-Cookie: x=1"],
)
def test_an_unsafe_incoming_id_is_replaced(client, site_tree, incoming):
    response = client.get("/", headers={"X-Request-ID": incoming})

    assert FRESH.fullmatch(response["X-Request-ID"])


def test_the_404_page_shows_the_id_a_user_can_quote(client, site_tree):
    response = client.get("/no-such-page/", headers={"X-Request-ID": "ticket-42"})

    assert response.status_code == 404 and response["X-Request-ID"] == "ticket-42"
    assert 'Reference: <code class="request-id">ticket-42</code>' in response.content.decode()


def test_the_500_page_and_its_log_line_carry_the_same_id(site_tree, monkeypatch, json_log):
    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("search.views.TemplateResponse", explode)

    response = Client(raise_request_exception=False).get("/search/", {"q": "audit"})

    request_id = response["X-Request-ID"]
    assert response.status_code == 500
    assert f'<code class="request-id">{request_id}</code>' in response.content.decode()
    [line] = [line for line in json_log() if line["logger"] == "fundfill.errors"]
    assert line["request_id"] == request_id and line["level"] == "ERROR"
    assert "RuntimeError: simulated failure" in line["exception"]
    # Django's own line for the 500 carries it too.
    assert any(line["logger"] == "django.request" and line["request_id"] == request_id for line in json_log())


def test_api_errors_carry_the_id_in_their_body(client, fund):
    unknown = client.get("/api/v1/no-such-endpoint/")
    refused = client.post(
        f"/api/v1/funds/{fund.pk}/pledges/", {"amount_cents": 100}, content_type="application/json"
    )

    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert unknown.json()["error"]["request_id"] == unknown["X-Request-ID"]
    assert refused.status_code in (401, 403) and refused.json()["error"]["code"] == "not_authenticated"
    assert refused.json()["error"]["request_id"] == refused["X-Request-ID"]


def test_a_page_from_the_page_cache_carries_its_own_requests_id(page_cache, fund):
    Client().get(fund.url, headers={"X-Request-ID": "first"})

    hit = Client().get(fund.url, headers={"X-Request-ID": "second"})

    assert hit[PAGE_CACHE_HEADER] == "hit"
    assert hit["X-Request-ID"] == "second"


def test_a_worker_tasks_log_lines_carry_the_task_id_and_the_request_gets_its_own_back(json_log):
    requestid.activate("the-request")

    task_id = async_task("tests.monitoring.tasks.log_a_line")  # sync in tests: the worker's code, in-process

    [line] = [line for line in json_log() if line["logger"] == "fundfill.tests.task"]
    assert line["request_id"] == f"task-{task_id}"
    assert requestid.current() == "the-request"


def test_json_lines_carry_extra_fields_such_as_the_sqlstate(json_log):
    logging.getLogger("fundfill.money").warning(
        "retrying after %s", "a deadlock", extra={"sqlstate": "40P01"}
    )

    [line] = json_log()
    assert line["message"] == "retrying after a deadlock" and line["sqlstate"] == "40P01"
    assert set(line) == {"timestamp", "level", "logger", "message", "request_id", "sqlstate"}
