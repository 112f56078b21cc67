"""What `/healthz` reports: each dependency and background job, read cheaply enough to probe every few seconds.

Two kinds of trouble, answered differently. **Down** (HTTP 503): this node cannot serve, because the
database or the cache does not answer; a load balancer should take it out of rotation. **Degraded**
(HTTP 200): the node serves pages and takes money, but background work is late (no worker heartbeat,
a queue that is not drained, a sweep or settlement that stopped); taking nodes out would not help, so it
is an alert for a person, naming the check. No check says more than its type of error: the report is
public, and a connection error can name hosts.

A probe costs one query per check that needs the database (five at most) and one cache read.
"""

import functools
import logging
from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from bounties.models import Deposit, DepositStatus, Outbox, OutboxStatus
from monitoring.models import Heartbeat

logger = logging.getLogger(__name__)

# A job is late when its heartbeat is older than this (each is scheduled every minute).
STALE_SECONDS = {"worker": 180, "outbox_sweep": 300, "funds_settle": 300}
# The oldest task waiting on the broker longer than this means the workers do not keep up.
QUEUE_LAG_SECONDS = 120
CRITICAL = ("database", "cache")  # down: answer 503


def health(*, now: datetime | None = None) -> dict:
    """The `/healthz` report: `{"status": "ok" | "degraded" | "down", "checks": {...}, "degraded": [...]}`."""
    now = now or timezone.now()
    checks = {"database": _check(_database), "cache": _check(_cache)}
    if checks["database"]["ok"]:
        checks["broker"] = _check(_broker, now)
        beats = dict(Heartbeat.objects.values_list("name", "at"))
        for name, limit in STALE_SECONDS.items():
            checks[name] = _beat(beats.get(name), limit, now)
        checks["oldest_pending_deposit"] = _oldest(Deposit.objects.filter(status=DepositStatus.PENDING), now)
        checks["oldest_pending_outbox"] = _oldest(
            Outbox.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]), now
        )
    degraded = [name for name, check in checks.items() if not check["ok"]]
    if any(name in CRITICAL for name in degraded):
        status = "down"
    else:
        status = "degraded" if degraded else "ok"
    return {"status": status, "checks": checks, "degraded": degraded, "time": now.isoformat()}


def _check(probe, *args) -> dict:
    try:
        return {"ok": True, **probe(*args)}
    except Exception as exc:  # any failure is the answer, not a 500
        logger.warning("healthz: %s failed", probe.__name__.lstrip("_"), exc_info=True)
        return {"ok": False, "error": type(exc).__name__}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def _cache() -> dict:
    # A read, not a write: probes every few seconds must not churn the cache (or, without Redis, the table).
    caches[settings.PAGE_CACHE_ALIAS].get("monitoring:healthz")
    return {}


def _broker(now: datetime) -> dict:
    """django-q2's broker as configured (Redis with `REDIS_URL`, else the ORM), and its oldest task's age."""
    if Conf.REDIS:
        broker = _redis_broker()
        broker.ping()
        # rpush to enqueue, blpop to dequeue: the oldest waiting task is at the head.
        payload = broker.connection.lindex(broker.list_key, 0)
        kind = "redis"
    else:
        oldest = OrmQ.objects.using(Conf.ORM).filter(key=Conf.CLUSTER_NAME).order_by("id").first()
        payload = oldest.payload if oldest else None
        kind = "orm"
    lag = None if payload is None else _seconds(now - SignedPackage.loads(payload)["started"])
    if lag is not None and lag > QUEUE_LAG_SECONDS:
        return {"kind": kind, "queue_lag_seconds": lag, "ok": False, "error": "queue lag"}
    return {"kind": kind, "queue_lag_seconds": lag}


@functools.cache
def _redis_broker():
    # One client (and connection pool) per process, not one per probe.
    return get_broker()


def _beat(at: datetime | None, limit: int, now: datetime) -> dict:
    if at is None:
        return {"ok": False, "age_seconds": None, "error": "never ran"}
    age = _seconds(now - at)
    if age > limit:
        return {"ok": False, "age_seconds": age, "error": f"older than {limit} s"}
    return {"ok": True, "age_seconds": age}


def _oldest(queryset, now: datetime) -> dict:
    """Reported, never alarming by itself: a checkout left open is pending too (the runbooks say when to act)."""
    oldest = queryset.aggregate(oldest=Min("created_at"))["oldest"]
    return {"ok": True, "age_seconds": _seconds(now - oldest) if oldest else None}


def _seconds(delta) -> int:
    return max(0, int(delta.total_seconds()))
