"""django-q2's own retrying is off: the outbox, not the broker, retries a delivery (RELIABILITY §3.5).

A task the broker handed out again while the first run was still going (a `timeout` at or above
`retry`), or re-ran after it failed (`ack_failures` off, `max_attempts` above 1), would be a second
delivery attempt the outbox's lease and backoff never scheduled.
"""

import importlib

import pytest


@pytest.mark.parametrize("module", ["fundfill.settings.base", "fundfill.settings.dev"])
def test_the_broker_runs_each_task_once_and_the_outbox_retries(module):
    cluster = importlib.import_module(module).Q_CLUSTER
    assert cluster["max_attempts"] == 1
    assert cluster["ack_failures"] is True
    assert cluster["timeout"] < cluster["retry"]
