"""The site's URLs plus two floors, behind every middleware the site runs.

- `/bench/bare/`: a view that does nothing.
- `/bench/route/<path>`: Wagtail's public routing of `<path>` (`Page.route_for_request`: the
  Site lookup, the site root's specific row, then `route`, remembered by the memo as on a real
  page view) and nothing else: the floor under any page served through `wagtail_serve`, since
  every page view pays it before a page method renders anything.

bench/pages.py reports page figures against it as well as against bench/bareview.py (no
middleware at all): the first ratio shows what the pages cost on top of the site's own stack.
"""

from django.http import HttpResponse
from django.urls import path
from wagtail.models import Page

from fundfill.urls import urlpatterns as site_urlpatterns


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


def route(request, path):
    found = Page.route_for_request(request, path)
    return HttpResponse(b"ok" if found else b"none", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), path("bench/route/<path:path>", route), *site_urlpatterns]
