from django.apps import AppConfig


class BountiesConfig(AppConfig):
    name = "bounties"
    verbose_name = "Bounties"

    def ready(self):
        from . import signals  # noqa: F401
