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

Two doors build it. `PersonalHitMiddleware`, right after the page cache, serves a reader this
process verified in the last minute (`pagecache.readers`) from one session read, before the
rest of the stack runs, with the parts rendered once per process and only their CSRF token put
in. Everyone else goes down the stack to `PersonalPageMiddleware`, which checks the reader in
full (and remembers the answer), renders the parts from the request, and also handles a
flash message waiting.

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
from importlib import import_module

from django.conf import settings
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.session import SessionStorage
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.signals import setting_changed
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.template.context_processors import csrf
from django.template.loader import get_template
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.module_loading import import_string

from pagecache.generation import local
from pagecache.middleware import (
    HEADER,
    entry_key,
    fresh_entry,
    is_page_view,
    normalized_query,
    request_may_use_cache,
    skipped_prefixes,
)
from pagecache.readers import known_reader, remember_reader

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
    values = {
        "request": request,
        "signed_in": request.user.is_authenticated,
        "messages": get_messages(request),
        **csrf(request),
    }
    return f"{start}{get_template(PARTS[name]).render(values)}{end}"


# Stands for the reader's CSRF token in a part rendered once per process (`reader_parts`).
TOKEN_PLACEHOLDER = "PERSONALCSRFTOKENPLACEHOLDER"


@cache
def _rendered_once(signed_in: bool) -> dict[str, str]:
    start, end = markers("account")
    account = get_template(PARTS["account"]).render({"signed_in": signed_in, "csrf_token": TOKEN_PLACEHOLDER})
    start_messages, end_messages = markers("messages")
    no_messages = get_template(PARTS["messages"]).render({"messages": []})
    return {"account": f"{start}{account}{end}", "messages": f"{start_messages}{no_messages}{end_messages}"}


setting_changed.connect(lambda **kwargs: _rendered_once.cache_clear(), weak=False)


def reader_parts(signed_in: bool, token: str | None) -> dict[str, str]:
    """The parts of a reader with no message waiting: the same for every such reader but the
    token, so rendered once per process and signed-in state, with the token put in."""
    parts = _rendered_once(signed_in)
    return {**parts, "account": parts["account"].replace(TOKEN_PLACEHOLDER, token or "")}


def personalise(content: str, parts: dict[str, str]) -> str | None:
    """`content` with every part replaced by `parts[name]`; None if a part's markers are missing."""
    for name in PARTS:
        start, end = markers(name)
        begin = content.find(start)
        finish = content.find(end, begin)
        if begin < 0 or finish < 0:
            return None
        content = content[:begin] + parts[name] + content[finish + len(end) :]
    return content


def personal_response(stored: HttpResponse, parts: dict[str, str], state: str) -> HttpResponse | None:
    """A private copy of the anonymous response `stored`, with the reader's parts in it."""
    content = personalise(stored.content.decode(stored.charset), parts)
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


def anonymous_entry(request, query: str):
    """The fresh anonymous entry of this URL (as `normalized_query` keys it), or None."""
    return fresh_entry(entry_key(request, query), time.time())


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
        if not is_page_view(request):
            # Its next signed-in GET skips PersonalHitMiddleware's entry lookup (a cache round trip).
            local.mark_not_page(request.path)
            return None
        if not self._candidate(request):
            return None
        query = normalized_query(request)[0]
        if query is None:
            return None
        entry = anonymous_entry(request, query)
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
        if "HTTP_AUTHORIZATION" in request.META or not is_page_view(request):
            return False
        if request_may_use_cache(request):  # the anonymous path is rendering it for the cache
            return False
        in_full = _renders_in_full()(request.user)
        remember_reader(request, editor=in_full)  # the next page view takes PersonalHitMiddleware's path
        return not in_full

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
        return personal_response(stored, {name: render_part(name, request) for name in PARTS}, state)


class PersonalHitMiddleware:
    """Second in MIDDLEWARE, after the page cache: a reader with cookies whom this process has
    verified lately (`pagecache.readers`) gets the fresh anonymous entry with their parts before
    the rest of the stack runs, as an anonymous hit does: one session read, no database query.

    Anything else goes on down the stack to `PersonalPageMiddleware` (or a full render): no
    fresh entry, a reader not verified lately, an editor, a message waiting (its part is rendered
    from the messages storage there), a session that is empty (the session middleware deletes
    its cookie) or cannot be read. Only the two middleware hooks this path needs run here: the
    CSRF middleware's, for the log-out form's token and its cookie, exactly as on the long path.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.csrf = CsrfViewMiddleware(get_response)
        self.sessions = import_module(settings.SESSION_ENGINE).SessionStore

    def __call__(self, request):
        return self._hit(request) or self.get_response(request)

    def _hit(self, request) -> HttpResponse | None:
        if not self._candidate(request):
            return None
        query = normalized_query(request)[0]
        entry = None if query is None else anonymous_entry(request, query)
        if entry is None:
            return None
        reader = self._reader(request)
        if reader is None or reader.editor:
            return None
        token = None
        if reader.signed_in:
            self.csrf.process_request(request)
            token = get_token(request)
        response = personal_response(pickle.loads(entry[2]), reader_parts(reader.signed_in, token), "hit")
        if response is not None and token is not None:
            response = self.csrf.process_response(request, response)
        return response

    @staticmethod
    def _candidate(request) -> bool:
        if not settings.PAGE_CACHE or request.method not in ("GET", "HEAD"):
            return False
        if settings.SESSION_SAVE_EVERY_REQUEST:  # then every request must pass the session middleware
            return False
        if request.path.startswith(skipped_prefixes()) or local.is_not_page(request.path):
            return False
        if getattr(request, "is_dummy", False) or getattr(request, "is_preview", False):
            return False
        if "HTTP_AUTHORIZATION" in request.META or CookieStorage.cookie_name in request.COOKIES:
            return False
        return not request_may_use_cache(request)  # that one the page cache answered or is rendering

    def _reader(self, request):
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if not key:
            return known_reader({})  # only a CSRF cookie: an anonymous reader
        try:
            data = dict(self.sessions(key).items())
        except Exception:  # a session store that is down: the long path says so
            return None
        if not data or SessionStorage.session_key in data:
            return None
        return known_reader(data)
