"""The claim cycle's pages: claims and votes, settlement choices, cash-outs and payouts.

As in `bounties.views`: each view parses a form, calls one service and says what happened.
A refusal is shown on the form, in the service's words, with whether money moved
(`BountiesError.user_message`); bad input is a form error; each POST that changes something
redirects on success (post/redirect/get).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from wagtail.documents import get_document_model
from wagtail.models import Collection

from bounties import selectors
from bounties.errors import BountiesError, IdempotencyMismatch, InvalidAmount
from bounties.forms_claims import CashoutForm, ClaimForm, PayoutForm, SettlementForm, VoteForm
from bounties.models import Cashout, ClaimStatus, FundStatus, Pledge, PledgeStatus, SettlementChoice
from bounties.money import format_cents
from bounties.services.cashouts import cashout_create, cashout_message, refunds_send
from bounties.services.claims import claim_submit, claim_withdraw, vote_cast
from bounties.services.payouts import STRIPE, connect_onboarding_link, connect_refresh, payout_request
from bounties.services.settlement import choice_of, settlement_choose

TAKES_CLAIMS = (FundStatus.OPEN, FundStatus.VOTING)


def _refused(request, template, context, form, error: BountiesError, *, field=None):
    """The form again, with the refusal on it and the refusal's status and headers (as the API sends them)."""
    form.add_error(field, error.user_message)
    response = render(request, template, {**context, "form": form}, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _login(request, back_to: str):
    """Anonymous: to the login page, then back (a POST cannot be replayed, so back to its page)."""
    return redirect_to_login(request.get_full_path() if request.method == "GET" else back_to)


def takes_claims(page) -> bool:
    """Whether the fund takes claims now (the service checks again, under the fund's lock)."""
    return page.state.status in TAKES_CLAIMS and timezone.now() < page.escrow_until


# --- Claims --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def claim_create_view(request, fund_id):
    """GET: the claim form on its own page. POST (also from the fund page's form): open a claim."""
    page = get_object_or_404(selectors.public_funds(), pk=fund_id)
    if not request.user.is_authenticated:
        return _login(request, page.url)
    context = {"page": page, "takes_claims": takes_claims(page)}
    form = ClaimForm(request.POST or None, request.FILES or None)
    if request.method == "GET":
        return render(request, "bounties/claim_form.html", {**context, "form": form})
    if not form.is_valid():
        return render(request, "bounties/claim_form.html", {**context, "form": form}, status=400)
    document = _evidence_document(request, page, form.cleaned_data["document"])
    try:
        claim = claim_submit(
            user=request.user,
            fund_id=page.pk,
            statement=form.cleaned_data["statement"],
            url=form.cleaned_data["url"],
            co_claimants=form.cleaned_data["co_claimants"],
            document=document,
        )
    except BountiesError as error:
        if document is not None:
            document.delete()  # Wagtail removes its file once this commits
        field = "co_claimants" if error.code == "shares_invalid" else None
        return _refused(request, "bounties/claim_form.html", context, form, error, field=field)
    messages.success(
        request,
        f"Your claim is under vote until {timezone.localtime(claim.closes_at):%-d %b %Y, %H:%M}. "
        "If the backers accept it, the whole escrow is paid to you and your co-claimants.",
    )
    return redirect("claim_detail", claim_id=claim.pk)


def _evidence_document(request, page, upload):
    """The claim's optional document as a Wagtail document in the root collection (public, like the claim)."""
    if not upload:
        return None
    document = get_document_model()(
        title=f"Evidence for a claim on {page.title}"[:255],
        file=upload,
        collection=Collection.get_first_root_node(),
        uploaded_by_user=request.user,
    )
    document.save()
    return document


def _claim_context(request, claim, *, form=None) -> dict:
    standing = selectors.standing(claim=claim, user=request.user)
    if form is None and standing.can_vote and claim.is_open and timezone.now() < claim.closes_at:
        vote = standing.vote
        initial = {"decision": "approve" if vote.approve else "reject", "reason": vote.reason} if vote else {}
        form = VoteForm(initial=initial)
    return {
        "claim": claim,
        "page": claim.fund.page,
        "tally": selectors.claim_tally(claim=claim),
        "events": selectors.timeline(claim_id=claim.pk),
        "standing": standing,
        "form": form,
    }


def _claim_or_404(claim_id):
    """A claim on a public fund (`selectors.claim_get`), or 404."""
    claim = selectors.claim_get(claim_id=claim_id)
    if claim is None:
        raise Http404
    return claim


def claim_detail(request, claim_id):
    """The public claim page: evidence, claimants, the live tally and its timeline; the vote form for backers."""
    return render(request, "bounties/claim_detail.html", _claim_context(request, _claim_or_404(claim_id)))


@require_POST
def claim_vote_view(request, claim_id):
    claim = _claim_or_404(claim_id)
    if not request.user.is_authenticated:
        return _login(request, reverse("claim_detail", args=[claim.pk]))
    form = VoteForm(request.POST)
    if not form.is_valid():
        return render(
            request, "bounties/claim_detail.html", _claim_context(request, claim, form=form), status=400
        )
    try:
        outcome = vote_cast(
            user=request.user, claim_id=claim.pk, approve=form.approve, reason=form.cleaned_data["reason"]
        )
    except BountiesError as error:
        claim = _claim_or_404(claim_id)  # as it stands now (it may have been decided meanwhile)
        form.add_error(None, error.user_message)
        return render(
            request,
            "bounties/claim_detail.html",
            _claim_context(request, claim, form=form),
            status=error.status,
        )
    side = "approve" if outcome.vote.approve else "reject"
    weight = format_cents(outcome.vote.weight_cents)
    said = "changed to" if outcome.changed else "recorded as"
    messages.success(
        request, f"Your vote is {said} {side}, with the {weight} you had in the fund as its weight."
    )
    if outcome.claim.status == ClaimStatus.ACCEPTED:
        messages.info(
            request, "That decided it: the claim is accepted and the escrow was paid to the claimants."
        )
    elif outcome.claim.status == ClaimStatus.REJECTED:
        messages.info(request, "That decided it: the claim is rejected; the money stays in escrow.")
    elif outcome.claim.extended and outcome.claim.closes_at != claim.closes_at:
        messages.info(request, "Your vote swung the result late, so voting was extended once.")
    return redirect("claim_detail", claim_id=claim.pk)


@require_POST
def claim_withdraw_view(request, claim_id):
    claim = _claim_or_404(claim_id)
    if not request.user.is_authenticated:
        return _login(request, reverse("claim_detail", args=[claim.pk]))
    try:
        claim_withdraw(user=request.user, claim_id=claim.pk)
    except BountiesError as error:
        messages.error(request, error.user_message)
    else:
        messages.success(request, "You withdrew your claim. No money moved; the escrow stays with the fund.")
    return redirect("claim_detail", claim_id=claim.pk)


# --- Settlement choices ---------------------------------------------------------------------------


def _open_funds(pledge: Pledge):
    """Other public funds that take pledges: where a pledge may go on if nobody wins."""
    return list(
        selectors.public_funds()
        .filter(fund__status__in=TAKES_CLAIMS)
        .exclude(pk=pledge.fund_id)
        .order_by("title")[:100]
    )


def settlement_form_for(pledge: Pledge, data=None) -> SettlementForm:
    initial = {"choice": choice_of(pledge), "fund": pledge.settlement_fund_id}
    return SettlementForm(data, pledge=pledge, open_funds=_open_funds(pledge), initial=initial)


def receipt_context(pledge: Pledge, *, settlement_form=None) -> dict:
    """What a pledge's receipt adds for the claim cycle: its settlement choice and whether it is frozen."""
    active = pledge.status == PledgeStatus.ACTIVE
    cashout = Cashout.objects.filter(pledge=pledge).first() if pledge.settled_at else None
    return {
        "settlement_form": settlement_form or (settlement_form_for(pledge) if active else None),
        "settlement_choice": SettlementChoice(choice_of(pledge)).label if active else "",
        "frozen": active and pledge.fund.status == FundStatus.VOTING,
        # A pledge settled back to the card: what became of the card refund (on its way, sent, failed).
        "cashout_text": cashout_message(cashout) if cashout else "",
    }


@require_POST
def pledge_settlement_view(request, pk):
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("my_pledges"))
    pledge = get_object_or_404(Pledge.objects.select_related("fund__page"), pk=pk, user=request.user)
    form = settlement_form_for(pledge, request.POST)
    context = {"pledge": pledge, "pending_deposit": None}
    if not form.is_valid():
        return render(
            request,
            "bounties/pledge_detail.html",
            {**context, **receipt_context(pledge, settlement_form=form)},
            status=400,
        )
    try:
        pledge = settlement_choose(
            user=request.user,
            pledge_id=pledge.pk,
            choice=form.cleaned_data["choice"],
            fund_id=form.cleaned_data.get("fund"),
        )
    except BountiesError as error:
        form.add_error(None, error.user_message)
        context.update(receipt_context(pledge, settlement_form=form))
        return render(request, "bounties/pledge_detail.html", context, status=error.status)
    where = SettlementChoice(pledge.settlement_choice).label.lower()
    if pledge.settlement_choice == SettlementChoice.FUND:
        where = f"pledged to {pledge.settlement_fund.page.title}"
    elif pledge.settlement_choice == SettlementChoice.BENEFICIARY:
        where = f"to {pledge.beneficiary_name}"
    messages.success(request, f"Saved: if nobody wins, this pledge goes {where}. No money moved now.")
    return redirect("pledge_detail", pk=pledge.pk)


# --- Cash-outs --------------------------------------------------------------------------------


def wallet_context(user) -> dict:
    """What the wallet page adds: the payout balance and the cash-out form with its recent results."""
    recent = Cashout.objects.filter(user=user).order_by("-created_at", "-pk")[:5]
    return {
        "payout_cents": selectors.payout_balance(user=user),
        "payout_available_cents": selectors.payout_available(user=user),
        "hold_days": settings.PAYOUT_HOLD_DAYS,
        "cashout_form": CashoutForm(),
        "cashouts": [(cashout, cashout_message(cashout)) for cashout in recent],
    }


@login_required
@require_http_methods(["GET", "POST"])
def cashout_view(request):
    """GET: the cash-out form on its own page. POST (also from the wallet page): send money back to the card."""
    context = {"balance_cents": selectors.wallet_balance(user=request.user)}
    form = CashoutForm(request.POST or None, initial={"amount": request.GET.get("amount", "")})
    if request.method == "GET":
        return render(request, "bounties/cashout.html", {**context, "form": form})
    if not form.is_valid():
        return render(request, "bounties/cashout.html", {**context, "form": form}, status=400)
    try:
        outcome = cashout_create(
            user=request.user, amount_cents=form.cleaned_data["amount"], key=form.cleaned_data["key"]
        )
    except BountiesError as error:
        if isinstance(error, IdempotencyMismatch):
            form.renew_key()
        field = "amount" if isinstance(error, InvalidAmount) or error.code == "nothing_to_refund" else None
        return _refused(request, "bounties/cashout.html", context, form, error, field=field)
    # The wallet is debited; now the refunds go to the gateway (after commit, outside any transaction).
    refunds_send(outcome.cashout.pk)
    text = cashout_message(outcome.cashout)
    if outcome.replayed:
        messages.info(request, f"This cash-out was already made; nothing was sent twice. {text}")
    elif outcome.cashout.refunds.filter(status="failed").exists():
        messages.warning(request, text)
    else:
        messages.success(request, text)
    return redirect("wallet")


# --- Payouts ------------------------------------------------------------------------------------


def _payouts_context(user) -> dict:
    connected = getattr(user, "connected_account", None) if settings.PAYOUT_METHOD == STRIPE else None
    return {
        "payout_cents": selectors.payout_balance(user=user),
        "payout_available_cents": selectors.payout_available(user=user),
        "hold_days": settings.PAYOUT_HOLD_DAYS,
        "by_stripe": settings.PAYOUT_METHOD == STRIPE,
        "connected": connected,
        "payouts": user.payouts.order_by("-created_at", "-pk")[:50],
    }


@login_required
@require_http_methods(["GET", "POST"])
def payouts_view(request):
    """The winner's payout balance, what can leave it now, the request form and past payouts."""
    if request.method == "GET" and request.GET.get("stripe") == "return":
        try:
            connect_refresh(request.user)  # back from Stripe's onboarding: read the account again
        except BountiesError as error:
            messages.warning(request, error.message)
    form = PayoutForm(request.POST or None)
    context = _payouts_context(request.user)
    if request.method == "GET":
        return render(request, "bounties/payouts.html", {**context, "form": form})
    if not form.is_valid():
        return render(request, "bounties/payouts.html", {**context, "form": form}, status=400)
    try:
        outcome = payout_request(
            user=request.user, amount_cents=form.cleaned_data["amount"], key=form.cleaned_data["key"]
        )
    except BountiesError as error:
        if isinstance(error, IdempotencyMismatch):
            form.renew_key()
        field = (
            "amount" if error.code in ("invalid_amount", "insufficient_payout", "payout_on_hold") else None
        )
        return _refused(request, "bounties/payouts.html", context, form, error, field=field)
    amount = format_cents(outcome.payout.amount_cents)
    if outcome.replayed:
        messages.info(request, f"This payout of {amount} was already requested; nothing was paid twice.")
    elif outcome.payout.method == STRIPE:
        messages.success(
            request, f"{amount} left your payout balance and is on its way to your Stripe account."
        )
    else:
        messages.success(
            request,
            f"{amount} left your payout balance; our finance team pays it out and marks it paid here.",
        )
    return redirect("payouts")


@login_required
@require_POST
def payout_connect_view(request):
    """Send the winner to Stripe's onboarding for their payout account (no money moves)."""
    back = request.build_absolute_uri(reverse("payouts"))
    try:
        url = connect_onboarding_link(
            user=request.user, refresh_url=back + "?stripe=refresh", return_url=back + "?stripe=return"
        )
    except BountiesError as error:
        messages.error(request, error.user_message)
        return redirect("payouts")
    return redirect(url)
