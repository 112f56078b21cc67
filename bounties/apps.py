from django.apps import AppConfig


class BountiesConfig(AppConfig):
    name = "bounties"
    verbose_name = "Bounties"

    def ready(self):
        from bounties import signals  # noqa: F401  (connects the publish receiver)
