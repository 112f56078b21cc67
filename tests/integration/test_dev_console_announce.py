"""`make run`'s promise: with the console channel, pledging past a milestone prints the announcement
in the worker's output within seconds.

Set up as `make run` does (Makefile `run`, Procfile.dev): the dev settings (`fundfill.settings.dev`,
the embedded SQLite, django-q2's ORM broker, `ANNOUNCERS` unset so `console`) on a scratch SQLite
file, `migrate` and `load_demo`, then the worker as Procfile.dev starts it (`bin/worker`, which runs
`manage.py qcluster` in a session of its own). A pledge is made through the service in a `manage.py
shell -c` process, as the site's pledge view would make it: a fund of the demo's index (a factory
fund, so its total is known) goes from 0 to exactly 25 %. Its milestone's nudge reaches the worker
through the ORM queue, and the worker logs `announce milestone:<fund>:25:console: …`.

No PostgreSQL or Redis: none of the harness's services are used.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
# "Within seconds": from the pledge's commit to the console line, on a worker already up (with the
# demo's own backlog of nudges in its queue, as after a first `make run`).
ANNOUNCE_WITHIN_SECONDS = 15

# What the harness or a developer's shell sets that `make run` would not see.
DROPPED = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "MEDIA_ROOT", "SITE_URL")
DROPPED_PREFIXES = (
    "FUNDFILL_",
    "ANNOUNCE",
    "OUTBOX_",
    "Q_",
    "EMAIL_",
    "TWITTER_",
    "MASTODON_",
    "BLUESKY_",
    "STRIPE_",
    "PAYMENT_",
    "LOG_",
)

PLEDGE = """
import uuid
from bounties.models import FundIndexPage
from bounties.services.pledging import pledge_create
from tests.factories import FundPageFactory, UserFactory, publish
from tests.money import top_up

fund = publish(FundPageFactory(
    parent=FundIndexPage.objects.get(), title="Console milestone", slug="console-milestone", goal_cents=10_000
))
backer = UserFactory(username="console-backer")
top_up(backer, 2_500)
pledge_create(user=backer, fund_id=fund.pk, amount_cents=2_500, key=uuid.uuid4().hex)  # 25% exactly
print(f"FUND {fund.pk}", flush=True)
"""


def dev_environment(tmp_path):
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in DROPPED and not name.startswith(DROPPED_PREFIXES)
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "fundfill.settings.dev",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SITE_URL": "http://127.0.0.1:8000",  # as `make run` sets it
        "PYTHONUNBUFFERED": "1",
    }


def manage(*args, env, timeout=240):
    result = subprocess.run(
        [*MANAGE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def wait_for(predicate, what, timeout):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)
    return value


def children(pid):
    """The pids of `pid`'s child processes (bin/worker's qcluster), read from /proc."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def stop(worker, cluster_pids):
    """As honcho stops it: SIGTERM to bin/worker, which forwards it to qcluster's main pid alone. Whatever
    is still up after that is SIGKILLed with its process group (qcluster has a session of its own)."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    for pid in cluster_pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_make_run_prints_a_milestone_announcement_within_seconds_of_the_pledge(tmp_path):
    env = dev_environment(tmp_path)
    started = time.monotonic()
    manage("migrate", "--noinput", env=env)
    manage("load_demo", env=env)
    print(f"migrated and loaded the demo in {time.monotonic() - started:.1f}s")

    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    # Procfile.dev's `worker:` line (honcho runs it with the same environment as `web:`).
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "bin" / "worker")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster_pids, pledger = [], None
    try:
        wait_for(
            lambda: "running." in log_path.read_text(errors="replace"), f"the worker up ({log_path})", 60
        )
        cluster_pids = children(worker.pid)

        pledger = subprocess.Popen(
            [*MANAGE, "shell", "-c", PLEDGE],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        output = []
        for row in pledger.stdout:  # "FUND <pk>" comes once the pledge has committed
            output.append(row)
            if row.startswith("FUND "):
                break
        committed = time.monotonic()
        assert output and output[-1].startswith("FUND "), "".join(output) + pledger.stdout.read()
        fund = int(output[-1].split()[1])
        assert pledger.wait(timeout=60) == 0, pledger.stdout.read()
        line = f"announce milestone:{fund}:25:console: "

        def announced():
            return [row for row in log_path.read_text(errors="replace").splitlines() if line in row]

        try:
            lines = wait_for(announced, f"{line!r} in the worker's output", ANNOUNCE_WITHIN_SECONDS)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- worker output ---\n{log_path.read_text()[-4000:]}") from None
        print(f"announced {time.monotonic() - committed:.1f}s after the pledge committed")
        assert len(lines) == 1, lines
        assert "Console milestone has reached 25% of its $100 goal." in lines[0]
        assert "http://127.0.0.1:8000/funds/console-milestone/" in lines[0]
    finally:
        if pledger is not None and pledger.poll() is None:
            os.killpg(pledger.pid, signal.SIGKILL)
            pledger.wait(timeout=10)
        stop(worker, cluster_pids)
        log.close()
    assert worker.returncode is not None
