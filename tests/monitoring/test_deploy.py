"""The Procfile's release phase, run as a platform runs it: it migrates a new database and refuses an
insecure configuration before any web node gets the new code."""

import os
import re
import secrets
import subprocess
import sys

import psycopg
import pytest

from tests.integration.test_cross_process_publish import ROOT

pytestmark = pytest.mark.xdist_group("monitoring_deploy")


def release_command() -> str:
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("release:")]
    return line.removeprefix("release:").strip()


def production_env(database_url, **overrides):
    """What a platform sets for a Stripe site on its own domain behind TLS (keys are placeholders)."""
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",  # `python` is the venv's
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "fundfill.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "fundfill.example",
        "SITE_URL": "https://fundfill.example",
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_SECRET_KEY": "sk_live_placeholder",
        "STRIPE_PUBLISHABLE_KEY": "pk_live_placeholder",
        "STRIPE_WEBHOOK_SECRET": "whsec_placeholder",
        "LOG_LEVEL": "WARNING",
    }
    env.update(overrides)
    return env


def release(env):
    return subprocess.run(
        ["bash", "-c", release_command()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_release_migrates_a_new_database_and_the_deploy_check_passes(new_database):
    done = release(production_env(new_database))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    with psycopg.connect(new_database) as conn:
        schedules = {name for (name,) in conn.execute("SELECT name FROM django_q_schedule")}
    assert {"worker heartbeat", "deliver the outbox", "settle funds"} <= schedules


def test_release_stops_on_a_deploy_warning(new_database):
    """On the database the test above migrated (when it ran first), as a redeploy finds it."""
    done = release(production_env(new_database, SECURE_HSTS_SECONDS="0"))

    assert done.returncode != 0
    assert re.search(r"security\.W004", done.stdout + done.stderr)  # HSTS off: the new code never goes live
