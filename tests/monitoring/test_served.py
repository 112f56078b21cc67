"""A production gunicorn, as a load balancer, a user and Sentry see it.

The node's PostgreSQL refuses connections (nothing listens on the discard port) while Redis, its cache,
answers: `/healthz` must say 503 and why, without a secret; every log line on stdout is one JSON object
carrying the request's id. An unhandled error in a view reaches a local fake of Sentry's ingest
endpoint (tests/fakes/sentry_server.py) through sentry-sdk, tagged with the id the user sees on the
500 page, and without the visitor's cookies.
"""

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.fakes.sentry_server import FakeSentry
from tests.harness.services import free_port
from tests.integration.test_cross_process_publish import BIN, ROOT, environment

pytestmark = pytest.mark.xdist_group("monitoring_served")

DEAD_DATABASE = "postgres://postgres:db-password-1234@127.0.0.1:9/fundfill"


@pytest.fixture(scope="module")
def sentry():
    with FakeSentry() as fake:
        yield fake


@pytest.fixture(scope="module")
def node(sentry, tmp_path_factory):
    """(port, read_log) of a production gunicorn whose database is down and whose Redis is up."""
    import os

    port = free_port()
    env = environment(DEAD_DATABASE, redis_url=os.environ["FUNDFILL_TEST_REDIS_URL"], port=port)
    env.update(DJANGO_SETTINGS_MODULE="tests.monitoring.served_settings", SENTRY_DSN=sentry.dsn)
    env.pop("LOG_FORMAT", None)  # production's default: JSON
    log_path = tmp_path_factory.mktemp("node") / "gunicorn.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "fundfill.wsgi",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(port, "/static/css/fundfill.css")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not start: {log_path.read_text()}") from None
                time.sleep(0.2)

        def json_lines():
            return [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]

        yield port, json_lines
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def get(port, path, headers=None):
    """(status, headers, body) of a GET, errors included."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_database_down_is_a_503_naming_it_and_the_log_says_why_on_one_json_line(node):
    port, json_lines = node

    status, headers, body = get(port, "/healthz", {"X-Request-ID": "probe-1"})

    assert status == 503 and headers["X-Request-ID"] == "probe-1"
    report = json.loads(body)
    assert report["status"] == "down" and report["degraded"] == ["database"]
    assert report["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert report["checks"]["cache"] == {"ok": True}
    assert set(report["checks"]) == {"database", "cache"}  # what needs the database is not tried
    assert "db-password-1234" not in body and "127.0.0.1" not in body
    lines = {line["logger"]: line for line in json_lines() if line["request_id"] == "probe-1"}
    assert lines["monitoring.selectors"]["level"] == "WARNING"
    assert lines["monitoring.selectors"]["message"] == "healthz: database failed"
    assert "OperationalError" in lines["monitoring.selectors"]["exception"]
    # Django logs the 503 after every middleware has returned: the id is still on its line.
    assert lines["django.request"]["message"] == "Service Unavailable: /healthz"
    assert lines["django.request"]["status_code"] == 503


def test_an_unhandled_error_reaches_sentry_with_the_id_on_the_users_500_page(node, sentry):
    port, json_lines = node

    status, headers, body = get(port, "/boom/", {"X-Request-ID": "support-7", "Cookie": "sessionid=s3cr3t"})

    assert status == 500 and headers["X-Request-ID"] == "support-7"
    assert "Something went wrong on our side" in body
    assert '<code class="request-id">support-7</code>' in body
    [event] = [e for e in sentry.wait_for_events(1) if e["tags"].get("request_id") == "support-7"]
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError" and exception["value"] == "the view broke"
    assert event["request"]["url"].endswith("/boom/")
    assert "s3cr3t" not in json.dumps(event)  # send_default_pii=False: no cookies, no user
    assert "user" not in event or "ip_address" not in event["user"]
    assert any(
        line["logger"] == "fundfill.errors" and line["request_id"] == "support-7" for line in json_lines()
    )
