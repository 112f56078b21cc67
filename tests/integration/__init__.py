"""Integration tests on PostgreSQL: concurrency, webhooks, injected faults.

Helpers shared by these tests (money enters wallets through `tests.money`):

- `run_concurrently` starts real threads that wait on one `threading.Barrier`
  and then call the service at the same moment; each thread closes its own
  database connection when it ends.
"""

import threading
import time

from django.db import connection

THREAD_TIMEOUT_SECONDS = 60


def run_concurrently(calls, timeout=THREAD_TIMEOUT_SECONDS):
    """Run each zero-argument callable in its own thread, all released at once by a Barrier.

    Returns one item per call, in order: its return value, or the exception it raised.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            connection.ensure_connection()  # connect before the barrier: the race starts at the call
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:  # noqa: B036 - reported to the test, never swallowed
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [i for i, thread in enumerate(threads) if thread.is_alive()]
    assert not stuck, f"threads {stuck} still running after {timeout}s (a hang or a lock wait)"
    return results


def errors_of(results, *expected):
    """The results that are exceptions other than the `expected` refusals (should be empty)."""
    return [r for r in results if isinstance(r, BaseException) and not isinstance(r, expected)]
