"""Settings as an operator meets them: production checks, a missing secret, and the embedded default.

Each test runs manage.py in a subprocess with the venv's Python, so it sees the settings
module and environment an operator would, not the test settings this process runs with.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(REPO / "manage.py")]

# Variables from the developer's shell or the test harness that would change what a run sees.
LEAKY = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "SQLITE_PATH",
    "MEDIA_ROOT",
    "SITE_URL",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "PAYMENT_GATEWAY",
    "ALLOW_LOCAL_PAYMENTS",
    "FUNDFILL_FAULTS",
)


def environment(**values):
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in LEAKY and not name.startswith("STRIPE_")
    }
    return {**env, **values}


def manage(*args, env, timeout=180):
    return subprocess.run(
        [*MANAGE, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def production_environment(tmp_path, **values):
    """What an operator sets in production (Stripe keys are dummies: checks do not call Stripe).

    The database is a scratch file, so nothing here touches the repository's dev database.
    """
    return environment(
        DJANGO_SETTINGS_MODULE="fundfill.settings.production",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="fundfill.example",
        SITE_URL="https://fundfill.example",
        PAYMENT_GATEWAY="stripe",
        STRIPE_SECRET_KEY="sk_test_" + secrets.token_hex(12),
        STRIPE_PUBLISHABLE_KEY="pk_test_" + secrets.token_hex(12),
        STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_hex(12),
        **values,
    )


def test_production_passes_the_deploy_checks(tmp_path):
    env = production_environment(tmp_path)

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def secure_cookie_flags(env) -> list[str]:
    """SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE as the settings in `env` make them."""
    printed = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
        env=env,
    )
    assert printed.returncode == 0, printed.stderr
    return printed.stdout.split()


def test_production_behind_a_redirecting_proxy_keeps_secure_cookies_and_passes_the_checks(tmp_path):
    # The platform's router does the HTTPS redirect, so the app's own redirect is off:
    # that must not quietly drop the Secure flag from the session and CSRF cookies.
    env = production_environment(tmp_path, SECURE_SSL_REDIRECT="false")

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout

    assert secure_cookie_flags(env) == ["True", "True"]


def test_insecure_cookies_only_when_an_operator_says_so(tmp_path):
    env = production_environment(tmp_path, SECURE_SSL_REDIRECT="false", INSECURE_COOKIES="true")

    assert secure_cookie_flags(env) == ["False", "False"]


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    env = production_environment(tmp_path)
    del env["SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_dev_sqlite_uses_immediate_transactions_and_waits_for_the_lock(tmp_path):
    env = environment(
        DJANGO_SETTINGS_MODULE="fundfill.settings.dev", SQLITE_PATH=str(tmp_path / "db.sqlite3")
    )
    probe = (
        "from django.db import connection; connection.ensure_connection(); "
        "print(connection.vendor, connection.transaction_mode, connection.settings_dict['OPTIONS']['timeout'])"
    )

    result = manage("shell", "-c", probe, env=env)

    assert result.returncode == 0, result.stderr
    vendor, mode, timeout = result.stdout.strip().splitlines()[-1].split()
    assert (vendor, mode) == ("sqlite", "IMMEDIATE")
    assert float(timeout) >= 5


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base_url, server, deadline):
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            urllib.request.urlopen(base_url + "/admin/login/", timeout=2)
            return True
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    return False


def get_status(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_embedded_default_migrates_loads_the_demo_and_serves(tmp_path):
    env = environment(
        DJANGO_SETTINGS_MODULE="fundfill.settings.dev",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    for command in (["migrate", "--noinput"], ["load_demo"]):
        result = manage(*command, env=env)
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "runserver.log").open("w")
    server = subprocess.Popen(
        [*MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        serving = wait_until_serving(base_url, server, time.monotonic() + 60)
        assert serving, (tmp_path / "runserver.log").read_text()

        statuses = {
            path: get_status(base_url + path)
            for path in (
                "/",
                "/funds/audit-truecrypt/",
                "/search/?q=audit",
                "/funds/feed/",
                "/accounts/login/",
                "/admin/login/",
            )
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        log.close()

    assert statuses == dict.fromkeys(statuses, 200), (tmp_path / "runserver.log").read_text()


def test_pages_carry_a_report_only_content_security_policy(fund, client):
    response = client.get("/funds/audit-truecrypt/")
    policy = response["Content-Security-Policy-Report-Only"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'" and "https://checkout.stripe.com" in directives["form-action"]
    assert "Content-Security-Policy" not in response  # nothing is blocked yet


def test_the_wagtail_admin_is_left_out_of_the_policy(admin_client):
    assert "Content-Security-Policy-Report-Only" not in admin_client.get("/admin/")
