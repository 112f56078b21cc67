"""The site's URLs plus /boom/, an unhandled error in a view (for the Sentry and error-page tests)."""

from django.urls import path

from fundfill.urls import handler400, handler403, handler404, handler500  # noqa: F401
from fundfill.urls import urlpatterns as site_urlpatterns


def boom(request):
    raise RuntimeError("the view broke")


urlpatterns = [path("boom/", boom), *site_urlpatterns]
