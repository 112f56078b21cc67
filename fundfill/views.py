"""Project-level views: sign-up and the error pages."""

import logging
import uuid

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

logger = logging.getLogger("fundfill.errors")


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="For receipts and password resets.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Try logging in.")
        return email


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("wallet") if _has_route("wallet") else redirect("/")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(request.GET.get("next") or "/")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


def _has_route(name):
    from django.urls import NoReverseMatch, reverse

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def server_error(request):
    """500: says plainly what failed and gives a reference that is also in the log."""
    reference = uuid.uuid4().hex[:12]
    logger.error("500 reference=%s path=%s", reference, request.path, exc_info=True)
    response = render(request, "500.html", {"reference": reference}, status=500)
    response["X-Error-Reference"] = reference
    return response


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


def csrf_failure(request, reason=""):
    """403 for a form sent without (or with a stale) CSRF token: in the site's look, saying what moved."""
    logger.warning("CSRF refused path=%s reason=%s", request.path, reason)
    return render(request, "403_csrf.html", status=403)
