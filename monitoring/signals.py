"""Receivers: django-q2's task signals (task ids on log lines, heartbeats) and the end of a request.

The heartbeats of the outbox sweep and of settlement are written here, when django-q2 reports that
those scheduled tasks succeeded, so the bounties app need not know it is being watched.
"""

import logging

from django.core.signals import request_finished
from django.db import DatabaseError
from django.dispatch import receiver
from django_q.signals import post_execute_in_worker, pre_execute
from django_q.utils import get_func_repr

from monitoring import requestid, services

logger = logging.getLogger(__name__)

# Scheduled tasks whose last success /healthz reports: function -> heartbeat name.
WATCHED_TASKS = {
    "bounties.tasks.outbox_sweep": "outbox_sweep",
    "bounties.tasks.funds_settle": "funds_settle",
}

# The id each running task replaced, to put back when it ends (one task at a time per worker process;
# a `sync` task runs inside a request and must give the request its id back).
_replaced = {}


@receiver(pre_execute, dispatch_uid="monitoring.task_started")
def task_started(sender, func, task, **kwargs):
    _replaced[task["id"]] = requestid.activate(f"task-{task['id']}")


@receiver(post_execute_in_worker, dispatch_uid="monitoring.task_finished")
def task_finished(sender, func, task, **kwargs):
    token = _replaced.pop(task["id"], None)
    if token is not None:
        requestid.deactivate(token)
    name = WATCHED_TASKS.get(get_func_repr(task["func"]))
    if name and task.get("success"):
        try:
            services.heartbeat_record(name=name, at=task.get("stopped"))
        except DatabaseError:  # the task's own work is done; a lost beat only shows as stale
            logger.warning("heartbeat %s not recorded", name, exc_info=True)


@receiver(request_finished, dispatch_uid="monitoring.request_finished")
def request_ended(sender, **kwargs):
    requestid.activate(requestid.NONE)
