"""When each background job last finished: what `/healthz` compares with the clock."""

from django.db import models


class Heartbeat(models.Model):
    """The last time a named background job completed: one row per job, overwritten each run.

    `worker` is written by a task of its own every minute (the "worker heartbeat" schedule), so a
    stale row means no worker is taking tasks; `outbox_sweep` and `funds_settle` are written when
    those scheduled tasks succeed (`monitoring.signals`), so a stale row means the job stopped or fails.
    """

    name = models.CharField(max_length=64, primary_key=True)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
