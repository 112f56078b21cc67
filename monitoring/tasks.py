"""django-q2 tasks of the monitoring app (one-liners, as in bounties/tasks.py)."""

from monitoring import services


def worker_heartbeat():
    """Every minute ("worker heartbeat"): proves a worker is taking tasks off the broker."""
    services.heartbeat_record(name="worker")
