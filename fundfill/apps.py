from django.apps import AppConfig


class FundfillConfig(AppConfig):
    name = "fundfill"
    verbose_name = "Fundfill project"

    def ready(self):
        from fundfill import checks, pagecache  # noqa: F401

        pagecache.connect_signals()
