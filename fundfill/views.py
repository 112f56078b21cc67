"""Project-level views: logging in and signing up (saying which pledge they lead to), the error pages."""

import logging
import uuid
from urllib.parse import parse_qs, urlsplit

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.views import defaults
from django.views.decorators.http import require_http_methods

from accounts.forms import SignUpForm
from accounts.usernames import TAKEN
from base.navigation import safe_next
from bounties import selectors
from bounties.api import errors as api_errors
from bounties.views import typed_cents
from monitoring import requestid

logger = logging.getLogger("fundfill.errors")


def pledge_intent(next_url: str) -> dict:
    """The pledge a log-in or sign-up leads back to, read from its `next`: {"pledge_fund", "pledge_amount_cents"}.

    Only a local path that is the pledge page of a public fund counts; anything else
    (another site, another page, an unknown fund) gives {} and the generic page.
    """
    parts = urlsplit(next_url or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or next_url.startswith("//"):
        return {}
    try:
        match = resolve(parts.path)
    except Resolver404:
        return {}
    if match.url_name != "pledge_create":
        return {}
    fund = selectors.public_funds().filter(pk=match.kwargs["fund_id"]).first()
    if fund is None:
        return {}
    amount = parse_qs(parts.query).get("amount", [""])[0]
    return {"pledge_fund": fund, "pledge_amount_cents": typed_cents(amount)}


class FundfillLoginView(LoginView):
    """Django's log-in page, which says so when it leads to a pledge ("Log in to pledge $25 to …")."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        return {**context, **pledge_intent(context.get("next", ""))}


login_view = FundfillLoginView.as_view()


@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = safe_next(request)
    if request.user.is_authenticated:
        if next_url:
            return HttpResponseRedirect(next_url)
        return redirect("wallet") if _has_route("wallet") else redirect("/")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except IntegrityError:  # the same name (in any case) registered a moment ago
            form.add_error("username", TAKEN)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to Fundfill, {user.username}! You are signed in.")
            return HttpResponseRedirect(next_url or "/")
    context = {"form": form, "next": next_url, **pledge_intent(next_url)}
    return render(request, "registration/signup.html", context, status=400 if form.errors else 200)


def _has_route(name):
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def bad_request(request, exception):
    """400: a request Django refused before any view (a bad Host, a body over the size limit)."""
    if api_errors.is_api_request(request):
        return api_errors.bad_request_response(exception)
    return render(request, "400.html", status=400)


def permission_denied(request, exception):
    if api_errors.is_api_request(request):
        return api_errors.permission_denied_response()
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if api_errors.is_api_request(request):
        return api_errors.not_found_response()
    return render(request, "404.html", status=404)


def server_error(request):
    """500: says plainly what failed and gives a reference that is also in the log (JSON under /api/):
    the request's id (monitoring.requestid), so the reference leads to every log line of the request."""
    reference = requestid.current()
    if reference == requestid.NONE:
        reference = uuid.uuid4().hex[:12]
    logger.error("500 reference=%s path=%s", reference, request.path, exc_info=True)
    if api_errors.is_api_request(request):
        return api_errors.server_error_response(reference)
    response = render(request, "500.html", {"reference": reference}, status=500)
    response["X-Error-Reference"] = reference
    return response


def csrf_failure(request, reason=""):
    """403 for a form sent without (or with a stale) CSRF token: in the site's look, saying what moved."""
    logger.warning("CSRF refused path=%s reason=%s", request.path, reason)
    return render(request, "403_csrf.html", status=403)
