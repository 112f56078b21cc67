from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """What operators read: `/healthz`, request ids on every log line, the worker's heartbeats."""

    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # The worker's heartbeats and the task id on its log lines (django-q2's signals).
        from monitoring import signals  # noqa: F401
