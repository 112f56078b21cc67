"""The only code that changes money or fund state.

Every public function is one `money_operation`: a durable transaction (nesting one
inside another unit of work raises at once), retried a few times when the
database reports a serialisation failure, deadlock or lock timeout — safe,
because the whole transaction rolled back and idempotency keys make a replay
harmless — and then refused with TryAgainLater (no money moved).
"""

import functools
import random
import time

from django.db import OperationalError, transaction

from bounties.errors import TryAgainLater

RETRIES = 3
# SQLSTATEs worth retrying: serialization_failure, deadlock_detected, lock_not_available.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


def _retryable(exc):
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate in RETRYABLE_SQLSTATES
    return "database is locked" in str(exc)  # SQLite under contention


def money_operation(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for attempt in range(RETRIES + 1):
            try:
                with transaction.atomic(durable=True):
                    return func(*args, **kwargs)
            except OperationalError as exc:
                if not _retryable(exc):
                    raise
                if attempt == RETRIES:
                    raise TryAgainLater() from exc
                time.sleep(random.uniform(0.005, 0.05) * (2**attempt))

    wrapper.money_operation = True
    return wrapper
