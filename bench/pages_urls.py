"""The site's URLs plus `/bench/bare/`: a view that does nothing, behind every middleware the site runs.

bench/pages.py reports page figures against it as well as against bench/bareview.py (no
middleware at all): the first ratio shows what the pages cost on top of the site's own stack.
"""

from django.http import HttpResponse
from django.urls import path

from fundfill.urls import urlpatterns as site_urlpatterns


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), *site_urlpatterns]
