"""Creators' doors: start a fund, the dashboard, resubmit after changes, post news, change terms.

Thin views over `bounties.services.proposals` (writes) and `bounties.selectors.proposals` (reads).
As in `bounties.views_claims`: each view parses a form, calls one service and says what happened;
a field the service refuses (`ProposalInvalid.fields`) is shown next to that field, any other
refusal on top of the form with the refusal's status, and each POST that changes something
redirects on success. Like the wallet, these pages are never stored by the page cache: it keeps
only the views named in `PAGE_CACHE_VIEWS` (Wagtail's pages and search).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from bounties import selectors
from bounties.errors import BountiesError, NotYourFund, ProposalInvalid
from bounties.forms_proposals import NewsForm, ProposalForm, TermsForm
from bounties.models import FundPage, FundStatus
from bounties.ratelimits import check_creator_rate
from bounties.services.proposals import (
    can_manage,
    creator_settings,
    needs_review,
    news_post,
    proposal_resubmit,
    proposal_submit,
    terms_change,
)

CHANGES_TERMS = (FundStatus.OPEN, FundStatus.VOTING)


def _refused(request, template, context, form, error: BountiesError):
    """The form again with the refusal on it: next to each field the service named, else on top."""
    if isinstance(error, NotYourFund):
        raise Http404(error.message)
    if isinstance(error, ProposalInvalid):
        for name, errors in error.fields.items():
            name = "goal" if name == "goal_cents" else name
            for message in errors:
                form.add_error(name if name in form.fields else None, message)
    else:
        form.add_error(None, error.user_message)
    response = render(request, template, {**context, "form": form}, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _send(request, template, context, form, act):
    """A creator's POST: the rate limit, the form, then `act()` (one service call) returning the
    success message and where to go; a refusal at any step shows the form again with it."""
    try:
        check_creator_rate(request)
        if not form.is_valid():
            return render(request, template, {**context, "form": form}, status=400)
        message, target = act()
    except BountiesError as error:
        return _refused(request, template, context, form, error)
    messages.success(request, message)
    return redirect(target)


def _proposal_or_404(user, page_id) -> selectors.Proposal:
    found = selectors.proposals(user=user, page_id=page_id)
    if not found:
        raise Http404("No such proposal of yours.")
    return found[0]


def _fund_or_404(user, fund_id) -> FundPage:
    """A fund the signed-in creator may manage (`can_manage`), or 404 (someone else's looks absent)."""
    page = FundPage.objects.filter(pk=fund_id).first()
    if page is None or not can_manage(user, page):
        raise Http404("No such fund of yours.")
    return page


# --- Proposing ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def fund_start_view(request):
    """The proposal form with its live preview; POST sends it to the editors' review."""
    template = "bounties/proposals/start.html"
    context = {"max_in_review": creator_settings().max_proposals_in_review}
    form = ProposalForm(request.POST or None, request.FILES or None)
    if request.method == "GET":
        return render(request, template, {**context, "form": form})

    def act():
        proposal_submit(user=request.user, fields=form.service_fields(), image=form.cleaned_data.get("image"))
        return (
            "Your proposal is with our editors. We email you when they approve it or ask for changes; "
            "until then it is not public.",
            "my_funds",
        )

    return _send(request, template, context, form, act)


@login_required
def my_funds_view(request):
    """The creator's dashboard: each fund they proposed and where it stands."""
    return render(
        request, "bounties/proposals/my_funds.html", {"proposals": selectors.proposals(user=request.user)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def proposal_edit_view(request, page_id):
    """After an editor asked for changes: the proposal's latest draft, to change and send back."""
    template = "bounties/proposals/edit.html"
    proposal = _proposal_or_404(request.user, page_id)
    context = {"proposal": proposal}
    if not proposal.editable:
        # Nothing to change now: say why instead of showing a form the service would refuse.
        return render(request, template, {**context, "form": None}, status=409)
    draft = proposal.page.get_latest_revision_as_object()
    form = ProposalForm(request.POST or None, request.FILES or None, initial=ProposalForm.initial_for(draft))
    context["draft"] = draft
    if request.method == "GET":
        return render(request, template, {**context, "form": form})

    def act():
        proposal_resubmit(
            user=request.user,
            page_id=proposal.page.pk,
            fields=form.service_fields(),
            image=form.cleaned_data.get("image"),
        )
        return "Your changes are saved and back with our editors. We email you when they answer.", "my_funds"

    return _send(request, template, context, form, act)


# --- A live fund: news and terms -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def news_create_view(request, fund_id):
    """A news post under the creator's live fund: published at once, or after an editor's review."""
    template = "bounties/proposals/news_form.html"
    page = _fund_or_404(request.user, fund_id)
    context = {"page": page, "reviewed": needs_review(request.user)}
    form = NewsForm(request.POST or None)
    if not page.live:
        return render(request, template, {**context, "form": None}, status=409)
    if request.method == "GET":
        return render(request, template, {**context, "form": form})

    def act():
        posted = news_post(
            user=request.user,
            fund_id=page.pk,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
        )
        if posted.published:
            return f"Your news “{posted.page.title}” is published on {page.title}.", "my_funds"
        return (
            f"Your news “{posted.page.title}” was sent to an editor for review; it is published once they "
            "approve it.",
            "my_funds",
        )

    return _send(request, template, context, form, act)


@login_required
@require_http_methods(["GET", "POST"])
def terms_change_view(request, fund_id):
    """New terms for the creator's live fund, for pledges and claims made from now on."""
    template = "bounties/proposals/terms_form.html"
    page = _fund_or_404(request.user, fund_id)
    context = {
        "page": page,
        "changeable": page.live and page.state.status in CHANGES_TERMS,
        "history": selectors.terms_history(fund_id=page.pk),
    }
    form = TermsForm(request.POST or None, initial=TermsForm.initial_for(page))
    if not context["changeable"]:
        return render(request, template, {**context, "form": None}, status=409)
    if request.method == "GET":
        return render(request, template, {**context, "form": form})

    def act():
        changed = terms_change(user=request.user, fund_id=page.pk, fields=form.service_fields())
        return (
            f"New terms published on {timezone.localtime():%-d %b %Y, %H:%M}. They hold for pledges and "
            "claims made from now on; pledges already made keep the terms they were made under.",
            changed.url,
        )

    return _send(request, template, context, form, act)
