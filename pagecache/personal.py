"""Signed-in readers get the anonymous page from the cache, with their own parts swapped in.

A page's content is the same for everyone who may see it (listings show public pages only;
the fund page's figures are the same for all). What differs is small and marked: the header's
account links (log in, or the reader's own links and a log-out form with their CSRF token) and
the flash messages. Templates render each of those through `{% personal "<part>" %}`, which
wraps it in markers. For a reader with a session, CSRF or messages cookie, `PersonalPageMiddleware`
takes the anonymous entry of the same URL and replaces what is between each pair of markers
with that part rendered for this request, like an edge-side include. The cached entry itself
is never changed, and nothing personal is ever stored: each personal answer is built per
request and marked `private, no-cache`.

No entry is used unless it is one an anonymous reader would be served now (fresh, current
generation). Without one, the page is fetched as an anonymous reader would fetch it (a request
without cookies through the whole stack, which renders and stores it, or waits for another
render as anonymous readers do), so signed-in traffic keeps the entry fresh too. A page an
anonymous reader is not given (a view restriction sends them to log in; a password form) is
never stored, so it is rendered in full for the signed-in reader, as are previews and every
page for editors (the Wagtail userbar is theirs alone).
"""

import io
import pickle
import time
from functools import cache

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpResponse
from django.template.context_processors import csrf
from django.template.loader import get_template
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.module_loading import import_string

from pagecache.middleware import (
    HEADER,
    _is_page_view,
    _normalized_query,
    entry_key,
    fresh_entry,
    request_may_use_cache,
)

# Each part, by name: the template that renders it, from `request` and the context below.
PARTS = {
    "account": "includes/account_links.html",
    "messages": "includes/messages.html",
}
# Headers of the stored response that do not describe a personal copy of it.
NOT_COPIED = {"content-length", "cache-control", "expires", "etag", HEADER.lower(), "x-request-id"}
# Answers of the anonymous fetch that are the anonymous page (anything else is not used).
ANONYMOUS_PAGE = {"hit", "miss", "stale"}


def markers(name: str) -> tuple[str, str]:
    """The comments around a part (safe strings: the tag puts them into the page as they are)."""
    return format_html("<!--personal:{}-->", name), format_html("<!--/personal:{}-->", name)


def render_part(name: str, request) -> str:
    """The part as this request's reader sees it, between its markers."""
    start, end = markers(name)
    values = {"request": request, "messages": get_messages(request), **csrf(request)}
    return f"{start}{get_template(PARTS[name]).render(values)}{end}"


def personalise(content: str, request) -> str | None:
    """`content` with every part rendered for `request`; None if a part's markers are missing."""
    for name in PARTS:
        start, end = markers(name)
        begin = content.find(start)
        finish = content.find(end, begin)
        if begin < 0 or finish < 0:
            return None
        content = content[:begin] + render_part(name, request) + content[finish + len(end) :]
    return content


@cache
def _renders_in_full():
    """`PAGE_CACHE_RENDER_IN_FULL`: the rule (a dotted path, given a user) for readers whose pages
    hold more than the parts, such as editors, whose pages carry Wagtail's userbar."""
    return import_string(settings.PAGE_CACHE_RENDER_IN_FULL)


class PersonalPageMiddleware:
    """After the session, authentication and messages middleware: build a personal page from the
    anonymous entry (module docstring). It acts only once the URL is resolved to a cached view."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._anonymous = None

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not self._candidate(request):
            return None
        query, _tracked = _normalized_query(request)
        if query is None:
            return None
        entry = fresh_entry(entry_key(request, query), time.time())
        if entry is not None:
            stored, state = pickle.loads(entry[2]), "hit"  # as the anonymous hit does
        else:
            stored, state = self._fetch_anonymous(request), "fetched"
            if stored is None:
                return None
        return self._personal(request, stored, state)

    @staticmethod
    def _candidate(request) -> bool:
        """A GET of a cached view by a reader the anonymous path did not serve (they carry a
        cookie that may change the page), who is no editor."""
        if not settings.PAGE_CACHE or request.method not in ("GET", "HEAD"):
            return False
        if getattr(request, "is_dummy", False) or getattr(request, "is_preview", False):
            return False
        if "HTTP_AUTHORIZATION" in request.META or not _is_page_view(request):
            return False
        if request_may_use_cache(request):  # the anonymous path is rendering it for the cache
            return False
        return not _renders_in_full()(request.user)

    def _fetch_anonymous(self, request) -> HttpResponse | None:
        """The page as a reader without cookies gets it now, through the whole stack (which stores it)."""
        if self._anonymous is None:
            self._anonymous = WSGIHandler()
        environ = {
            key: value
            for key, value in request.environ.items()
            if key not in ("HTTP_COOKIE", "HTTP_AUTHORIZATION")
        }
        environ.update(REQUEST_METHOD="GET", CONTENT_LENGTH="0")
        environ["wsgi.input"] = io.BytesIO(b"")
        request_id = request.headers.get("X-Request-ID")
        if request_id:
            environ["HTTP_X_REQUEST_ID"] = request_id
        response = self._anonymous.get_response(WSGIRequest(environ))
        if response.status_code != 200 or response.get(HEADER) not in ANONYMOUS_PAGE:
            return None
        return response

    @staticmethod
    def _personal(request, stored: HttpResponse, state: str) -> HttpResponse | None:
        content = personalise(stored.content.decode(stored.charset), request)
        if content is None:
            return None
        response = HttpResponse(content, status=200)
        for name, value in stored.items():
            if name.lower() not in NOT_COPIED:
                response[name] = value
        response["Cache-Control"] = "private, no-cache"
        patch_vary_headers(response, ["Cookie"])
        response[HEADER] = f"personal ({state})"
        return response
