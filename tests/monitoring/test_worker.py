"""The real django-q2 worker on the Redis broker keeps /healthz's heartbeats fresh, and queue lag shows.

A `manage.py qcluster` (production settings) runs on a new database migrated as the release phase does,
so the "worker heartbeat" schedule is the migration's; its scheduler runs every due schedule at start.
The report is read the way the web reads it, through `monitoring.selectors.health` in another process
on the same database and Redis.
"""

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
import redis

from tests.integration.test_cross_process_publish import ROOT, _with_path, environment

pytestmark = pytest.mark.xdist_group("monitoring_worker")

REPORT = "import json; from monitoring.selectors import health; print(json.dumps(health()))"
ENQUEUE = "from django_q.tasks import async_task; async_task('monitoring.tasks.worker_heartbeat')"


@pytest.fixture(scope="module")
def env(new_database):
    redis_url = _with_path(os.environ["FUNDFILL_TEST_REDIS_URL"], "/9")  # a Redis database of its own
    redis.Redis.from_url(redis_url).flushdb()
    env = environment(new_database, redis_url=redis_url)
    env["LOG_LEVEL"] = "INFO"
    manage(env, "migrate", "--noinput")
    return env


def manage(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def report(env) -> dict:
    return json.loads(manage(env, "shell", "-c", REPORT).strip().splitlines()[-1])


def beats(database_url) -> set[str]:
    with psycopg.connect(database_url) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM monitoring_heartbeat")}


def test_the_worker_beats_and_records_the_sweeps_then_a_stopped_worker_shows_as_queue_lag(
    env, new_database, tmp_path
):
    assert report(env)["degraded"] == ["worker", "outbox_sweep", "funds_settle"]  # never ran

    log_path = tmp_path / "qcluster.log"
    with log_path.open("wb") as log:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while beats(new_database) != {"worker", "outbox_sweep", "funds_settle"}:
            assert time.monotonic() < deadline, f"no heartbeats: {log_path.read_text()}"
            time.sleep(0.5)
    finally:
        cluster.send_signal(signal.SIGTERM)  # the main process only: django-q2 1.11 hangs on a group SIGTERM
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=10)

    healthy = report(env)
    assert healthy["status"] == "ok", healthy
    assert healthy["checks"]["broker"] == {"ok": True, "kind": "redis", "queue_lag_seconds": None}

    manage(env, "shell", "-c", ENQUEUE)  # nobody takes it now
    time.sleep(1.1)

    waiting = report(env)["checks"]["broker"]
    assert waiting["kind"] == "redis" and waiting["queue_lag_seconds"] >= 1
