"""Serving a page in fewer queries: the page cache's miss path, measured by bench/pages.py.

Most requests are page-cache hits; a miss renders the page (every `PAGE_CACHE_SECONDS`
per URL, and for every URL at once after a publish), so its cost is what the site
pays on its busiest second. Profiling it showed SQL round trips (and the ORM building
them) ahead of template work, so these cut queries without changing what is served:

- `FastRouteMixin.route` (on the site root): Wagtail walks a URL one level at a time,
  two queries a level (the child, then its specific row). We fetch every page on the
  path in one query, then the target's specific row in one more, with the related rows
  its template needs (`route_select_related`). A live routable page on the way still
  gets first claim on the rest of the path, as in Wagtail's walk.
- `FastServeMixin.get_view_restrictions`: the restrictions on a page and its ancestors
  (aliases resolved as Wagtail does) in one query instead of two.
- `serve` (Wagtail's view, under the same URL name): the Site, the route, the page's view
  restrictions and the site's root paths are remembered per process until the next
  publish (`pagecache.memo`), so a render after the first costs none of those queries.
- `public_pages`: Wagtail's `public()` for listings, its restricted subtrees remembered too.
- `remember_site`: the Site part of that, for views outside `serve` too (search).

tests/pagecache/test_serving.py checks every route against Wagtail's own walk.
"""

from django.db.models import Q
from django.urls import Resolver404
from django.utils import translation
from wagtail.contrib.routable_page.models import RoutablePageMixin
from wagtail.models import Page, PageViewRestriction, Site

from pagecache import memo


def serve(request, path):
    """Wagtail's `serve`, with the Site and the route remembered for the generation (`pagecache.memo`)."""
    from wagtail import views as wagtail_views  # not at import time: models import this module

    if request.method in ("GET", "HEAD") and remember_site(request):
        key = ("route", request._get_raw_host(), request.get_port(), path, translation.get_language())
        request._wagtail_route_for_request = memo.remember(request, key, lambda: _route(request, path))
    return wagtail_views.serve(request, path)


def remember_site(request) -> bool:
    """The request's Site and root paths, remembered; False when this request may not use the memo."""
    if not memo.stamp(request):
        return False
    key = ("site", request._get_raw_host(), request.get_port())
    found = memo.remember(request, key, lambda: (Site.find_for_request(request), Site.get_site_root_paths()))
    request._wagtail_site, request._wagtail_cached_site_root_paths = found
    return True


def _route(request, path):
    """Wagtail's route (None for a 404), as it may be remembered: no live rows, restrictions kept."""
    route = Page.route_for_request(request, path)
    page = route[0] if route else None
    if isinstance(page, FastServeMixin):
        page.without_live_relations()
        page._remembered_restrictions = list(page.get_view_restrictions())
    return route


def public_pages(pages, request):
    """`pages.public()`, with the restricted subtrees remembered per publish (one query then, none a render)."""

    def restricted_paths():
        return sorted({r.page.path for r in PageViewRestriction.objects.select_related("page")})

    q = Q()
    for path in memo.remember(request, ("restricted-paths",), restricted_paths):
        q |= Q(path__startswith=path)
    return pages.exclude(q) if q else pages


class FastServeMixin:
    """For every page type: one-query view-restriction check, and what to load with the page."""

    # Related rows the page's own template reads (select_related when routing to it).
    route_select_related: tuple[str, ...] = ()
    # Of those, the ones that change without a publish (money): read afresh on every render.
    live_relations: tuple[str, ...] = ()

    def without_live_relations(self):
        """This page as it may be remembered (`pagecache.memo`): rows that change without a publish dropped."""
        for name in self.live_relations:
            self._state.fields_cache.pop(name, None)
        return self

    def get_view_restrictions(self):
        remembered = getattr(self, "_remembered_restrictions", None)
        if remembered is not None:
            return remembered
        if self.alias_of_id:
            return super().get_view_restrictions()
        paths = [self.path[:end] for end in range(self.steplen, len(self.path) + 1, self.steplen)]
        on_path = Page.objects.filter(path__in=paths)
        return PageViewRestriction.objects.filter(
            Q(page__in=on_path.filter(alias_of__isnull=True).values("pk"))
            | Q(page__in=on_path.filter(alias_of__isnull=False).values("alias_of"))
        )


def _claims(page, remaining) -> bool:
    """Would this (live, routable) page serve `remaining` itself, before looking at its children?"""
    cls = page.specific_class
    if cls is None or not issubclass(cls, RoutablePageMixin) or not page.live:
        return False
    try:
        cls.get_resolver().resolve("/" + "".join(f"{part}/" for part in remaining))
    except Resolver404:
        return False
    return True


def _walks_like_wagtail(page) -> bool:
    """Pages whose `route` is Wagtail's own (or a routable page's) can be walked through."""
    cls = page.specific_class
    if cls is None:
        return False
    route = cls.route
    return route is Page.route or route is RoutablePageMixin.route or route is FastRouteMixin.route


# Deeper paths are walked this far in one query, and on from there the Wagtail way.
MAX_LEVELS = 12


class FastRouteMixin(FastServeMixin):
    """For the site root: route any URL below it in two queries."""

    def route(self, request, path_components):
        if not path_components or _claims(self, path_components):
            return super().route(request, path_components)
        levels = min(len(path_components), MAX_LEVELS)
        prefixes = [
            self.url_path + "".join(f"{part}/" for part in path_components[:n]) for n in range(1, levels + 1)
        ]
        on_path = {
            page.depth: page
            for page in Page.objects.filter(url_path__in=prefixes, path__startswith=self.path)
        }
        page, consumed = self, 0
        for level in range(1, levels + 1):
            child = on_path.get(self.depth + level)
            if child is None:
                break
            child._cached_parent_obj = page  # as Wagtail's walk does: get_parent() costs no query
            page, consumed = child, level
            remaining = path_components[consumed:]
            if not remaining or not _walks_like_wagtail(page) or _claims(page, remaining):
                break
        if page is self:
            return super().route(request, path_components)
        model = page.specific_class
        if model is None:
            return page.specific.route(request, path_components[consumed:])
        specific = model._default_manager.select_related(*model.route_select_related).get(pk=page.pk)
        specific._cached_parent_obj = page._cached_parent_obj
        return specific.route(request, path_components[consumed:])
