"""T19: why the embedded SQLite database runs with transaction_mode IMMEDIATE.

Twenty backers pledge at the same moment on a real SQLite file, each thread with its own
connection. With IMMEDIATE every writer queues for the lock at BEGIN and all succeed; with
DEFERRED a transaction that read first cannot upgrade to a writer while another writes:
"database is locked" at once (the service retries it, and some still escape).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKERS = 20


def manage(env, *args):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def sqlite_site(tmp_path_factory):
    """A migrated SQLite file with the demo funds and twenty funded backers."""
    base = tmp_path_factory.mktemp("sqlite")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="fundfill.settings.dev",
        SQLITE_PATH=str(base / "db.sqlite3"),
        MEDIA_ROOT=str(base / "media"),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo", "--no-backers")
    seed = (
        "from django.contrib.auth import get_user_model\n"
        "from bounties.payments.local_gateway import LocalGateway, SUCCESS_CARD\n"
        "from bounties.services.deposits import deposit_create\n"
        f"for n in range({BACKERS}):\n"
        "    user = get_user_model().objects.create_user(f'racer{n}')\n"
        "    LocalGateway().pay(deposit_create(user=user, amount_cents=1000, gateway='local'), SUCCESS_CARD)\n"
    )
    manage(env, "shell", "-c", seed)
    return env


def race(env, mode):
    result = subprocess.run(
        [sys.executable, "-m", "tests.sqlite_race", mode, env["SQLITE_PATH"]],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_immediate_transactions_queue_writers_instead_of_failing(sqlite_site):
    outcome = race(sqlite_site, "IMMEDIATE")
    assert outcome == {"ok": BACKERS, "locked": 0, "locked_hits": 0, "violations": []}


def test_deferred_transactions_fail_under_the_same_race(sqlite_site):
    outcome = race(sqlite_site, "DEFERRED")
    assert outcome["locked_hits"] > 0  # the failure IMMEDIATE exists to prevent
    assert outcome["violations"] == []  # ...though what did commit is still right
