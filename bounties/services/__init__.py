"""The only code that changes money or fund state.

Every public function is one `money_operation`: a durable transaction (nesting one
inside another unit of work raises at once), retried a few times when the
database reports a serialisation failure, deadlock or lock timeout — safe,
because the whole transaction rolled back and idempotency keys make a replay
harmless — and then refused with TryAgainLater (no money moved).

A dropped connection (a database restart or failover, `pg_terminate_backend`) is
retried on a new connection the same way. If it dropped during COMMIT the attempt
may have committed: the retry's idempotency key then finds it instead of moving the
money again. When every attempt loses the connection the answer is ConnectionLost,
which says only what is certain: sending the request again is safe.
"""

import functools
import logging
import random
import time

from django.db import InterfaceError, OperationalError, connection, transaction

from bounties.errors import ConnectionLost, TryAgainLater

logger = logging.getLogger("fundfill.money")

RETRIES = 3
# SQLSTATEs worth retrying: serialization_failure, deadlock_detected, lock_not_available.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
# The server ended the session: admin_shutdown, crash_shutdown, cannot_connect_now (and class 08).
CONNECTION_LOST_SQLSTATES = {"57P01", "57P02", "57P03"}


def _retryable(exc):
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate in RETRYABLE_SQLSTATES
    return "database is locked" in str(exc)  # SQLite under contention


def _connection_lost(exc):
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    # Django drops a connection it could not roll back on (transaction.Atomic.__exit__).
    return sqlstate in CONNECTION_LOST_SQLSTATES or sqlstate.startswith("08") or connection.connection is None


def money_operation(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for attempt in range(RETRIES + 1):
            try:
                with transaction.atomic(durable=True):
                    return func(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                lost = _connection_lost(exc)
                if not lost and not _retryable(exc):
                    raise
                sqlstate = getattr(exc.__cause__, "sqlstate", None) or ("lost" if lost else str(exc))
                # One line per retried attempt, with its SQLSTATE (40P01 = deadlock): what operators
                # watch under load, and what the concurrency tests count.
                logger.warning(
                    "%s: attempt %d of %d rolled back (%s)",
                    func.__qualname__,
                    attempt + 1,
                    RETRIES + 1,
                    sqlstate,
                    extra={"sqlstate": sqlstate},
                )
                if lost:
                    connection.close()  # the next attempt opens a new one
                if attempt == RETRIES:
                    raise (ConnectionLost() if lost else TryAgainLater()) from exc
                time.sleep(random.uniform(0.005, 0.05) * (2**attempt))

    wrapper.money_operation = True
    return wrapper
