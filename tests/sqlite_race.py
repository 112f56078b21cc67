"""T19 worker: concurrent pledges on the embedded SQLite database, in a process of its own.

Run by tests/integration/test_sqlite.py as `python -m tests.sqlite_race MODE DBPATH`.
Prints one JSON line: pledges that succeeded, that failed with a locked database, and how
many "database is locked" errors the service met (retried ones included).
"""

import json
import logging
import os
import sys
import threading
import uuid


class LockedCounter(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record):
        if "database is locked" in (getattr(record, "sqlstate", None) or ""):
            self.count += 1


def main(mode, path):
    os.environ["DJANGO_SETTINGS_MODULE"] = "fundfill.settings.dev"
    os.environ["SQLITE_PATH"] = path
    from django.conf import settings

    settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] = mode
    settings.DATABASES["default"]["OPTIONS"]["timeout"] = 5
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import OperationalError, connection

    from bounties.errors import TryAgainLater
    from bounties.models import FundPage
    from bounties.services.ledger import ledger_violations
    from bounties.services.pledging import pledge_create

    # Count every "database is locked" the service met, from the line `money_operation` logs for each
    # (logger `fundfill.money`, with the error as `sqlstate`), the last attempt's included: the same
    # public seam as the integration tests' `retried` fixture.
    hits = LockedCounter()
    money_logger = logging.getLogger("fundfill.money")
    money_logger.setLevel(logging.WARNING)  # whatever LOG_LEVEL says
    money_logger.addHandler(hits)
    fund = FundPage.objects.get(slug="audit-truecrypt")
    backers = list(get_user_model().objects.filter(username__startswith="racer"))
    run = uuid.uuid4().hex
    barrier = threading.Barrier(len(backers))
    outcome = {"ok": 0, "locked": 0}
    lock = threading.Lock()

    def pledge(user):
        barrier.wait()
        try:
            pledge_create(user=user, fund_id=fund.pk, amount_cents=100, key=f"race-{mode}-{run}")
            result = "ok"
        except (TryAgainLater, OperationalError):
            result = "locked"
        finally:
            connection.close()
        with lock:
            outcome[result] += 1

    threads = [threading.Thread(target=pledge, args=(user,)) for user in backers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome["locked_hits"] = hits.count
    outcome["violations"] = ledger_violations()
    print(json.dumps(outcome))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
