from django.apps import AppConfig

from fundfill import checks  # noqa: F401  (registers the start-up checks)


class FundfillConfig(AppConfig):
    name = "fundfill"
    verbose_name = "Fundfill project"
