"""Project-level views: sign-up and the error pages."""

import logging
import uuid

from django.contrib import messages
from django.contrib.auth import login
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.http import require_http_methods

from accounts.forms import SignUpForm
from accounts.usernames import TAKEN
from bounties.api import errors as api_errors

logger = logging.getLogger("fundfill.errors")


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("wallet") if _has_route("wallet") else redirect("/")
    next_url = _safe_next(request)
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
    context = {"form": form, "next": next_url}
    return render(request, "registration/signup.html", context, status=400 if form.errors else 200)


def _safe_next(request) -> str:
    """Where to go after signing up: `next` only when it stays on this site (else the welcome)."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return ""


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
    """500: says plainly what failed and gives a reference that is also in the log (JSON under /api/)."""
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
