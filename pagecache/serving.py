"""Serving a live page with what only a publish changes remembered, through Wagtail's public methods only.

Wagtail serves every page, with its own URL and view (`wagtail_serve`): it finds the Site
(`Site.find_for_request`), walks the URL from the site's root page (`Page.route`), runs the
`before_serve_page` hooks (its view-restriction check asks `page.get_view_restrictions()`)
and calls `page.serve`. Two of those are page methods, and the mixins here extend them:

- `FastRouteMixin.route` (the site root): Wagtail's own walk, remembered per process until
  the next publish (`pagecache.memo`), with the view restrictions of the page it found. A
  render after the first walks nothing: a fund page's walk is four queries (the child, then
  its specific row, a level) and its restrictions two more.
- `FastServeMixin.get_view_restrictions` (every page type): the restrictions the route
  brought; Wagtail's own query for an instance that did not come from a remembered route.

The route's page is pickled by the memo right after Wagtail's walk, before anything reads its
relations, so nothing that changes without a publish (a fund's `Fund` row, its figures) is
remembered with it. The Site (`get_site_for_hostname`) and the root page's specific row are
still read by Wagtail on every request, before any page method runs: remembering them would
mean writing Wagtail's private request attributes (`_wagtail_site`, `_wagtail_route_for_request`),
which this project does not do. Profiled, the Site lookup is about 40 % of a remembered fund
page render: bench/pages.py run back to back on the shared 2-core box measured the uncached
fund page at 180 req/s with those attributes remembered and 92 without (8.4 % and 4.8 % of the
bare view); cached pages did not change (about 90 % either way).

`public_pages`: Wagtail's `public()` for listings, with the restricted subtrees remembered too.

tests/pagecache/test_serving.py serves every page of the demo tree, with aliases and view
restrictions, with the memo and through Wagtail's own route, and compares them.
"""

from django.db.models import Q
from django.http import Http404
from wagtail.models import PageViewRestriction
from wagtail.url_routing import RouteResult

from pagecache import memo


class FastServeMixin:
    """For every page type: the view restrictions a remembered route brought, else Wagtail's own."""

    # Set on the page a remembered route returns (never stored with it): Wagtail's answer for it.
    remembered_view_restrictions = None

    def get_view_restrictions(self):
        if self.remembered_view_restrictions is not None:
            return self.remembered_view_restrictions
        return super().get_view_restrictions()


class FastRouteMixin(FastServeMixin):
    """For the site root: Wagtail's route, remembered until the next publish for live GET and HEAD requests."""

    def route(self, request, path_components):
        if request.method not in ("GET", "HEAD") or not memo.stamp(request):
            return super().route(request, path_components)
        key = ("route", self.pk, *path_components)
        found = memo.remember(request, key, lambda: self._walk(request, path_components))
        if found is None:
            raise Http404
        page, args, kwargs, restrictions = found
        page.remembered_view_restrictions = restrictions
        return RouteResult(page, args=args, kwargs=kwargs)

    def _walk(self, request, path_components):
        """Wagtail's walk as it may be remembered: `(page, args, kwargs, restrictions)`, or None for a 404."""
        try:
            page, args, kwargs = super().route(request, path_components)
        except Http404:
            return None
        return page, args, kwargs, list(page.get_view_restrictions())


def public_pages(pages, request):
    """`pages.public()`, with the restricted subtrees remembered per publish (one query then, none a render)."""

    def restricted_paths():
        return sorted({r.page.path for r in PageViewRestriction.objects.select_related("page")})

    q = Q()
    for path in memo.remember(request, ("restricted-paths",), restricted_paths):
        q |= Q(path__startswith=path)
    return pages.exclude(q) if q else pages
