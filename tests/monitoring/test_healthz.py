"""`/healthz` as a load balancer and an operator read it: what is down (503), what is late (200, degraded)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from bounties.models import Deposit, Outbox
from monitoring.models import Heartbeat
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

JOBS = ("worker", "outbox_sweep", "funds_settle")


def run_the_scheduled_jobs():
    """What the schedules run each minute, through django-q2 (sync in tests: the worker code, in-process)."""
    for func in (
        "monitoring.tasks.worker_heartbeat",
        "bounties.tasks.outbox_sweep",
        "bounties.tasks.funds_settle",
    ):
        async_task(func)


def healthz(client, **headers):
    response = client.get("/healthz", headers=headers)
    return response, response.json()


def test_all_well_is_ok_with_every_check_and_never_cached(client):
    run_the_scheduled_jobs()

    response, report = healthz(client)

    assert response.status_code == 200
    assert report["status"] == "ok" and report["degraded"] == []
    checks = report["checks"]
    assert checks["database"] == {"ok": True} and checks["cache"] == {"ok": True}
    assert checks["broker"] == {"ok": True, "kind": "orm", "queue_lag_seconds": None}
    for job in JOBS:
        assert checks[job]["ok"] and 0 <= checks[job]["age_seconds"] < 5
    assert checks["oldest_pending_deposit"] == {"ok": True, "age_seconds": None}
    assert checks["oldest_pending_outbox"] == {"ok": True, "age_seconds": None}
    # Nothing on the way may answer for this node, and the probe opens no session.
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert not response.cookies
    assert response["Content-Type"] == "application/json"


def test_a_new_install_is_degraded_until_the_worker_has_run_each_job(client):
    response, report = healthz(client)

    assert response.status_code == 200  # late background work is a person's alert, not the balancer's
    assert report["status"] == "degraded"
    assert report["degraded"] == list(JOBS)
    assert report["checks"]["worker"] == {"ok": False, "age_seconds": None, "error": "never ran"}


def test_a_failing_sweep_records_no_heartbeat(client, monkeypatch):
    def broken():
        raise RuntimeError("the outbox table is locked")

    monkeypatch.setattr("bounties.services.delivery.due_ids", broken)
    async_task("monitoring.tasks.worker_heartbeat")
    with pytest.raises(RuntimeError):
        async_task("bounties.tasks.outbox_sweep")  # sync tasks raise, as the worker would record a failure

    assert set(Heartbeat.objects.values_list("name", flat=True)) == {"worker"}
    assert "outbox_sweep" in healthz(client)[1]["degraded"]


def test_a_stale_worker_and_settlement_say_which_and_how_old(client):
    run_the_scheduled_jobs()
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    Heartbeat.objects.filter(name__in=["worker", "funds_settle"]).update(at=ten_minutes_ago)

    response, report = healthz(client)

    assert response.status_code == 200 and report["status"] == "degraded"
    assert report["degraded"] == ["worker", "funds_settle"]
    assert report["checks"]["worker"]["error"] == "older than 180 s"
    assert 600 <= report["checks"]["worker"]["age_seconds"] < 605
    assert report["checks"]["outbox_sweep"]["ok"]


def test_queue_lag_is_the_age_of_the_oldest_task_waiting_on_the_broker(client):
    run_the_scheduled_jobs()
    broker = get_broker()
    for minutes in (5, 1):  # a worker that stopped taking tasks five minutes ago
        task = {
            "id": f"waiting-{minutes}",
            "name": f"waiting-{minutes}",
            "func": "monitoring.tasks.worker_heartbeat",
            "args": (),
            "kwargs": {},
            "started": timezone.now() - timedelta(minutes=minutes),
        }
        broker.enqueue(SignedPackage.dumps(task))

    response, report = healthz(client)

    assert response.status_code == 200 and report["degraded"] == ["broker"]
    broker_check = report["checks"]["broker"]
    assert broker_check["error"] == "queue lag" and 300 <= broker_check["queue_lag_seconds"] < 305


def test_reports_the_oldest_pending_deposit_and_outbox_row(client):
    run_the_scheduled_jobs()
    user = UserFactory()
    now = timezone.now()
    old = Deposit.objects.create(user=user, amount_cents=2_500, gateway="local")
    Deposit.objects.create(user=user, amount_cents=1_000, gateway="local")  # just opened
    Deposit.objects.create(user=user, amount_cents=9_900, gateway="local", status="succeeded")
    Deposit.objects.filter(pk=old.pk).update(created_at=now - timedelta(minutes=20))
    row = Outbox.objects.create(dedupe_key="healthz:1", event="fund_published")
    Outbox.objects.create(dedupe_key="healthz:2", event="fund_published", status="sent")
    Outbox.objects.filter(pk=row.pk).update(created_at=now - timedelta(hours=1))

    report = healthz(client)[1]

    assert 1_200 <= report["checks"]["oldest_pending_deposit"]["age_seconds"] < 1_205
    assert 3_600 <= report["checks"]["oldest_pending_outbox"]["age_seconds"] < 3_605
    assert report["status"] == "ok"  # reported for the runbooks; an open checkout is no outage


def test_cache_down_is_a_503_that_names_it_and_no_secret(client, settings):
    run_the_scheduled_jobs()
    dead = "redis://:hunter2@127.0.0.1:9/0"  # nothing listens on the discard port
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }

    response, report = healthz(client)

    assert response.status_code == 503
    assert report["status"] == "down" and report["degraded"] == ["cache"]
    assert report["checks"]["cache"] == {"ok": False, "error": "ConnectionError"}
    assert "hunter2" not in response.content.decode() and "127.0.0.1" not in response.content.decode()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get_and_head(client, method):
    assert getattr(client, method)("/healthz").status_code == 405
    assert client.head("/healthz").status_code == 200


def test_the_page_cache_never_answers_for_it_and_a_probe_costs_a_few_queries(
    client, page_cache, django_assert_max_num_queries
):
    run_the_scheduled_jobs()
    assert healthz(client)[1]["status"] == "ok"
    Heartbeat.objects.filter(name="worker").delete()  # the worker is gone a moment later

    with django_assert_max_num_queries(5):
        response, report = healthz(client)

    assert "X-Page-Cache" not in response or response["X-Page-Cache"] != "hit"
    assert report["degraded"] == ["worker"]  # read now, not a stored copy of the last probe
