"""One id per request, on every log line, in the `X-Request-ID` header, on error pages and API errors.

A user quoting the id from an error page (or a client from an API error) leads support straight to the
log lines of that request, and to its Sentry event. An id sent by the proxy in front (Heroku's router,
nginx's `$request_id`) is kept, so its access log and ours share it, but only when it is short and
plain: it is written into logs, headers and HTML, so anything else is replaced by a fresh one.

The id lives in a `ContextVar`, not on the request, so code that never sees the request (a service, a
logging filter, the API's error body) can read it. The django-q2 worker puts the task's id there instead
(`monitoring.signals`). This module imports only the standard library: settings' `LOGGING` loads it before
the apps are ready.
"""

import contextvars
import logging
import re
import uuid

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"  # the header as WSGI names it
MAX_LENGTH = 128
NONE = "-"  # outside any request or task: start-up, management commands
_ACCEPTED = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_LENGTH}}}")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NONE)


def current() -> str:
    """The id of the request (or worker task) being handled, else "-"."""
    return _current.get()


def accepted(incoming: str | None) -> str | None:
    """`incoming` when it is safe to reuse (1–128 of `A-Z a-z 0-9 . _ -`), else None."""
    if incoming and _ACCEPTED.fullmatch(incoming):
        return incoming
    return None


def activate(request_id: str) -> contextvars.Token:
    """Make `request_id` the current id; `deactivate(token)` puts the previous one back."""
    return _current.set(request_id)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


class RequestIdMiddleware:
    """First in MIDDLEWARE: every response carries the id, a page served from the page cache too.

    The id stays current after the response leaves this middleware, because Django logs a 4xx/5xx
    ("Not Found: /x") only then, outside every middleware; the next request replaces it, and
    `request_finished` clears it (`monitoring.signals`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # From META, not `request.headers`: building that mapping was about 7 % of a cached page's
        # time in-process (cProfile), and this runs before every page-cache hit.
        request_id = accepted(request.META.get(META_KEY)) or uuid.uuid4().hex
        activate(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record a handler emits (on the handler, so propagated records get it too)."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = current()
        return True
