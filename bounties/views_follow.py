"""Following a fund by email, unsubscribing, and email preferences (bounties.services.following).

As elsewhere, each view parses its input, calls one service and says what happened. The fund
page is cached for anonymous readers, so its follow form (`bounties/includes/follow_form.html`)
carries no CSRF token: it is a GET to the follow page here, which asks an anonymous reader for
the address with a token. A signed-in reader (never served from the cache) follows in one click
once their account's address is verified (it confirmed a follow by its link); before that, the
button sends the confirmation link to it, as for anyone. Links from emails work without logging
in; a bad link gets a page that says so (400).
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from bounties import selectors
from bounties.announcers.email import confirm_token_matches, read_confirm_token, unsubscribe_url
from bounties.models import Follower, FundPage
from bounties.services.following import (
    LinkInvalid,
    LinkUsed,
    address_verified,
    email_preferences_get,
    email_preferences_update,
    follow_confirm,
    follow_now,
    follow_request,
    read_unsubscribe,
    unsubscribe,
)

# Follow requests one address (IP) may make an hour, whatever email they name (setting
# `FOLLOW_RATE_LIMIT`, empty for none); each email also gets at most one confirmation an hour per
# fund (the service's cap).
FOLLOW_RATE = "20/h"


class FollowForm(forms.Form):
    email = forms.EmailField(label="Your email", max_length=254)


class EmailPreferenceForm(forms.Form):
    news = forms.BooleanField(label="News from the funds I back", required=False)
    claims = forms.BooleanField(label="Claims on the funds I back (to vote on)", required=False)
    outcomes = forms.BooleanField(
        label="Decisions, awards and settlements of the funds I back", required=False
    )


def _link_refused(request, error: LinkInvalid):
    return render(request, "bounties/link_invalid.html", {"message": error.user_message}, status=400)


def _account_email(request) -> str:
    """The signed-in reader's account address, which the follow page offers instead of a form ("" if none)."""
    return request.user.email if request.user.is_authenticated else ""


def _follows_in_one_click(request) -> bool:
    return bool(_account_email(request)) and address_verified(user=request.user)


@require_http_methods(["GET", "POST"])
def follow_view(request, fund_id):
    """GET: the follow form (the fund page's form lands here). POST: follow, or ask for a confirmation."""
    page = get_object_or_404(selectors.public_funds(), pk=fund_id)
    if request.method == "GET":
        form = FollowForm(initial={"email": request.GET.get("email", "")[:254]})
        context = {"page": page, "form": form, "account_email": _account_email(request)}
        context["one_click"] = _follows_in_one_click(request)
        return render(request, "bounties/follow.html", context)
    if _follows_in_one_click(request):
        follow_now(fund_id=page.pk, user=request.user)
        return render(request, "bounties/follow_done.html", {"page": page, "followed": True})
    rate = getattr(settings, "FOLLOW_RATE_LIMIT", FOLLOW_RATE)
    if rate and is_ratelimited(request, group="follow", key="ip", rate=rate, method="POST", increment=True):
        response = render(
            request, "bounties/follow.html", {"page": page, "form": FollowForm(), "limited": True}, status=429
        )
        response["Retry-After"] = "3600"
        return response
    account_email = _account_email(request)
    if account_email:  # not verified yet: the link goes to the account's address, as for anyone
        follow_request(fund_id=page.pk, email=account_email, user=request.user)
        return render(
            request, "bounties/follow_done.html", {"page": page, "followed": False, "email": account_email}
        )
    form = FollowForm(request.POST)
    if not form.is_valid():
        return render(request, "bounties/follow.html", {"page": page, "form": form}, status=400)
    follow_request(fund_id=page.pk, email=form.cleaned_data["email"])
    return render(
        request,
        "bounties/follow_done.html",
        {"page": page, "followed": False, "email": form.cleaned_data["email"]},
    )


@require_http_methods(["GET", "POST"])
def follow_confirm_view(request, token):
    """GET: a button (a link scanner's prefetch must not confirm). POST: confirm, once."""
    if request.method == "POST":
        try:
            follower = follow_confirm(token=token)
        except LinkInvalid as error:
            return _link_refused(request, error)
        page = FundPage.objects.filter(pk=follower.fund_id).first()
        return render(
            request, "bounties/follow_done.html", {"page": page, "followed": True, "confirmed": True}
        )
    try:
        claims = read_confirm_token(token)
    except signing.BadSignature:
        return _link_refused(request, LinkInvalid())
    follower = Follower.objects.filter(pk=claims.get("p")).first()
    if follower is None or not confirm_token_matches(follower, claims):
        return _link_refused(request, LinkUsed())
    page = FundPage.objects.filter(pk=follower.fund_id).first()
    return render(request, "bounties/follow_confirm.html", {"page": page, "email": follower.email})


@csrf_exempt  # RFC 8058: the mail client's one-click POST carries no cookie and no token; the URL is signed
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request, token):
    """GET: what the link does, and a button. POST (the button, or the one-click List-Unsubscribe-Post): stop."""
    try:
        email, fund_id = read_unsubscribe(token=token)
        page = FundPage.objects.filter(pk=fund_id).first()
        if request.method == "POST":
            unsubscribe(token=token)
    except LinkInvalid as error:
        return _link_refused(request, error)
    template = "bounties/unsubscribed.html" if request.method == "POST" else "bounties/unsubscribe.html"
    return render(request, template, {"page": page, "email": email, "token": token})


@login_required
@require_http_methods(["GET", "POST"])
def email_preferences_view(request):
    """A signed-in user's switches for news, claims and outcomes of what they back; receipts always go."""
    preference = email_preferences_get(user=request.user)
    form = EmailPreferenceForm(
        request.POST or None,
        initial={"news": preference.news, "claims": preference.claims, "outcomes": preference.outcomes},
    )
    if request.method == "POST":
        if form.is_valid():
            email_preferences_update(user=request.user, **form.cleaned_data)
            messages.success(request, "Your email preferences are saved.")
            return redirect("email_preferences")
        return render(request, "bounties/email_preferences.html", {"form": form}, status=400)
    follows = []
    if request.user.email:
        active = Follower.objects.filter(
            email__iexact=request.user.email, confirmed_at__isnull=False, unsubscribed_at__isnull=True
        )
        pages = FundPage.objects.in_bulk([row.fund_id for row in active])
        follows = [
            (pages[row.fund_id], unsubscribe_url(email=row.email, fund_id=row.fund_id))
            for row in active
            if row.fund_id in pages
        ]
    return render(request, "bounties/email_preferences.html", {"form": form, "follows": follows})
