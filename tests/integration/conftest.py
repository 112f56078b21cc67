import collections
import logging

import pytest


class _SqlstateCounter(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.counts = collections.Counter()

    def emit(self, record):
        if sqlstate := getattr(record, "sqlstate", None):
            self.counts[sqlstate] += 1


@pytest.fixture
def retried():
    """Counts the database errors `money_operation` rolled back and retried, by SQLSTATE (40P01 = deadlock).

    From the line it logs for each (logger `fundfill.money`), as an operator would see them.
    """
    handler = _SqlstateCounter()
    money_logger = logging.getLogger("fundfill.money")
    money_logger.addHandler(handler)
    try:
        yield handler.counts
    finally:
        money_logger.removeHandler(handler)
