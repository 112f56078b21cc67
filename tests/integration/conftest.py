import collections

import pytest

import bounties.services


@pytest.fixture
def retried(monkeypatch):
    """Counts the database errors `money_operation` retried, by SQLSTATE (40P01 = deadlock)."""
    counts = collections.Counter()
    real_retryable = bounties.services._retryable

    def counting(exc):
        counts[getattr(exc.__cause__, "sqlstate", None) or str(exc)] += 1
        return real_retryable(exc)

    monkeypatch.setattr(bounties.services, "_retryable", counting)
    return counts
