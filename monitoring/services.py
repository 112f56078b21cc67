"""The one write of this app: a job says it is alive."""

from django.utils import timezone

from monitoring.models import Heartbeat


def heartbeat_record(*, name: str, at=None) -> None:
    """Record that the job `name` just completed (one upsert; concurrent workers simply both win)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": at or timezone.now()})
