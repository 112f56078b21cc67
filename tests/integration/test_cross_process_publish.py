"""A publish in one process is on every web process's next page (issue item 10).

The homepage's featured fund is switched by `manage.py shell` (as an editor's publish in
another web process, or the worker's scheduled publishing, would be), while a gunicorn
with two workers and production settings serves the homepage from its page cache. After
`PAGE_CACHE_LOCAL_SECONDS`, the only window allowed, every anonymous request to either
worker must show the new fund in <title> and the link-preview tags and nothing of the old
one in the head or the hero. Entries stay fresh far longer (`PAGE_CACHE_SECONDS=300`), so
nothing but the purge can make a worker render again: that is what is proved, once with
Redis and once without (the database cache, created by `migrate` alone).
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.harness.services import free_port
from tests.pages_html import head_and_hero_text, parse_page

pytestmark = pytest.mark.xdist_group("cross_process_publish")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCAL_SECONDS = 0.1
REQUESTS = 24  # per check at least, and until both workers answered
MAX_REQUESTS = 400

SWITCH = """
import json
from bounties.models import FundPage
from home.models import HomePage
home = HomePage.objects.get()
old = home.featured_fund
new = FundPage.objects.live().exclude(pk=old.pk).order_by("pk").first()
home.featured_fund = new
home.save_revision().publish()
print(json.dumps({"old": [old.title, old.url], "new": [new.title, new.url]}))
"""

# One process for both steps: a Django start-up less.
SET_UP = """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("load_demo", backers=False, verbosity=0)
"""


def _with_path(url, path):
    return urlunsplit(urlsplit(url)._replace(path=path))


@pytest.fixture(scope="module")
def database():
    """A database of its own on the harness's PostgreSQL, migrated, with the demo content."""
    server = os.environ["FUNDFILL_TEST_DATABASE_URL"]
    name = f"fundfill_publish_{secrets.token_hex(4)}"
    with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_path(server, f"/{name}")
    try:
        # `migrate` alone must make the database cache usable: no createcachetable step.
        manage(environment(url, redis_url=""), "shell", "-c", SET_UP)
        yield url
    finally:
        with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(database_url, *, redis_url, port=8000):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FUNDFILL_", "STRIPE_", "REDIS_", "DATABASE_", "PAGE_", "PYTEST_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.served_settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url,
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        PAYMENT_GATEWAY="local",
        ALLOW_LOCAL_PAYMENTS="true",
        SITE_URL=f"http://127.0.0.1:{port}",
        PAGE_CACHE_SECONDS="300",
        PAGE_CACHE_LOCAL_SECONDS=str(LOCAL_SECONDS),
        LOG_LEVEL="WARNING",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"manage.py {args[0]}: {result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture
def gunicorn(tmp_path):
    started = []

    def start(env, port):
        log = (tmp_path / f"gunicorn-{port}.log").open("wb")
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "tests.worker_pid_wsgi:application",
                "--workers",
                "2",
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
        started.append((proc, log))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                get(port, "/static/css/fundfill.css")
                return proc
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not start: {log.name}")

    yield start
    for proc, log in started:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as response:
        return response.headers["X-Worker-Pid"], response.headers.get("X-Page-Cache"), response.read()


def homepage_from_both_workers(port, requests=REQUESTS):
    """Homepage views, eight at a time, until both workers answered and at least `requests` came.

    As (worker pid, X-Page-Cache, parsed page). Cached hits take a millisecond, so one worker
    can win every connection of a batch: batches go on until the other answered too.
    """
    answers = []
    with ThreadPoolExecutor(8) as pool:
        while len(answers) < requests or len({pid for pid, _, _ in answers}) < 2:
            assert len(answers) < MAX_REQUESTS, f"only worker {answers[0][0]} answered"
            answers += pool.map(lambda _: get(port, "/"), range(8))
    return [(pid, state, parse_page(html)) for pid, state, html in answers]


@pytest.mark.parametrize("shared", ["database", "redis"], ids=["without-redis", "with-redis"])
def test_a_publish_in_another_process_is_on_every_workers_next_homepage(database, gunicorn, shared):
    redis_url = ""
    if shared == "redis":
        redis_url = _with_path(os.environ["FUNDFILL_TEST_REDIS_URL"], "/7")  # not the suite's db
    port = free_port()
    env = environment(database, redis_url=redis_url, port=port)
    gunicorn(env, port)

    # Both workers hold the homepage as it is now, and serve it from their cache.
    before = homepage_from_both_workers(port, requests=REQUESTS * 2)
    featured = before[0][2].meta["og:title"]
    assert {page.meta["og:title"] for _, _, page in before} == {featured}
    assert {pid for pid, state, _ in before if state == "hit"} == {pid for pid, _, _ in before}

    # Another process publishes the homepage with another fund.
    switched = json.loads(manage(env, "shell", "-c", SWITCH).strip().splitlines()[-1])
    (old_title, old_url), (new_title, new_url) = switched["old"], switched["new"]
    assert old_title == featured and new_title != old_title
    time.sleep(LOCAL_SECONDS + 0.05)

    # The very next requests, to both workers, show the new fund and nothing of the old.
    for pid, state, page in homepage_from_both_workers(port):
        text = head_and_hero_text(page)
        # The homepage names the site, then the featured fund; its own URL is its canonical one.
        assert page.title == f"Fundfill · {new_title}", (pid, state, page.title)
        assert page.meta["og:title"] == new_title, (pid, state)
        assert old_title not in text, f"worker {pid} ({state}) still shows {old_title!r}"
        assert old_url not in text, f"worker {pid} ({state}) still links {old_url!r}"
        assert page.meta["og:url"] == f"http://127.0.0.1:{port}/", (pid, state)
        assert new_url in text, f"worker {pid} ({state}) does not link the new fund {new_url!r}"
