from django.apps import AppConfig


class PageCacheConfig(AppConfig):
    name = "pagecache"
    verbose_name = "Page cache"

    def ready(self):
        # Imported once the models are loaded (it imports Wagtail's), as Django's docs do for signals.
        from pagecache import purge

        purge.connect_signals()
