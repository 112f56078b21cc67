"""Backer pages: wallet, adding money, the local test-card checkout, pledges and withdrawals.

Views parse input, call one service and say what happened; they never write
ledger or pledge rows themselves. Every refusal tells the backer that no money
moved (`BountiesError.user_message`), and each money POST redirects on success
(post/redirect/get), so a reload cannot repeat it.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from base.navigation import safe_next
from bounties import selectors
from bounties.errors import (
    BountiesError,
    CardDeclined,
    CheckoutExpired,
    ConnectionLost,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    RateLimited,
    TryAgainLater,
)
from bounties.forms import AddMoneyForm, PledgeForm, TestCardForm
from bounties.models import Deposit, DepositStatus, Pledge, PledgeStatus
from bounties.money import check_amount, format_cents, parse_dollars
from bounties.payments import get_gateway
from bounties.ratelimits import check_pledge_rate
from bounties.services.deposits import deposit_checkout, deposit_start
from bounties.services.pledging import (
    MIN_CARD_CHARGE_CENTS,
    pledge_create,
    pledge_create_with_card,
    pledge_withdraw,
)
from bounties.views_claims import receipt_context, wallet_context


def _refuse(form, error: BountiesError):
    """Show a service's refusal on the form: amount problems on the amount field, the rest on top."""
    form.add_error("amount" if isinstance(error, InvalidAmount) else None, error.user_message)


def _render_refused(request, template, context, error: BountiesError):
    """The form again with the refusal's status and headers (`Retry-After`), as the API sends them."""
    response = render(request, template, context, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _open_checkout(request, deposit: Deposit, *, success_url: str, cancel_url: str):
    """Send the payer to the gateway's checkout for a pending deposit (reusing one already opened)."""
    if not deposit.checkout_url:
        deposit = deposit_checkout(
            deposit,
            success_url=request.build_absolute_uri(success_url),
            cancel_url=request.build_absolute_uri(cancel_url),
        )
    return redirect(deposit.checkout_url)


def typed_cents(text) -> int | None:
    """The amount typed in a box (or sent as `?amount=`) in cents, or None when it is not one."""
    try:
        return check_amount(parse_dollars(text or ""))
    except InvalidAmount:
        return None


# Where "Add money" started from a pledge goes back to after the card is paid (by deposit uuid).
DEPOSIT_NEXT = "deposit_next"


# --- Wallet ------------------------------------------------------------------------------------


@login_required
def wallet(request):
    history = Paginator(selectors.wallet_entries(user=request.user), 50).get_page(request.GET.get("page"))
    balance = selectors.wallet_balance(user=request.user)
    # Each card deposit in the history links to its receipt (one query for the page, not one a row).
    receipts = dict(
        Deposit.objects.filter(
            user=request.user, transfer_id__in=[entry.transfer_id for entry in history]
        ).values_list("transfer_id", "uuid")
    )
    for entry in history:
        entry.deposit_uuid = receipts.get(entry.transfer_id)
    context = {"balance_cents": balance, "items": history, **wallet_context(request.user)}
    return render(request, "bounties/wallet.html", context)


@login_required
def deposit_detail(request, deposit_uuid):
    """The receipt of one card deposit into the wallet (the owner's only; 404 for anyone else)."""
    deposit = get_object_or_404(
        Deposit.objects.select_related("pledge__fund__page", "transfer"), uuid=deposit_uuid, user=request.user
    )
    context = {"deposit": deposit, "balance_cents": selectors.wallet_balance(user=request.user)}
    return render(request, "bounties/deposit_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def wallet_add(request):
    """Add money by card; started from a pledge (`next`), the payer goes back to that pledge after."""
    next_url = safe_next(request)
    form = AddMoneyForm(request.POST or None, initial={"amount": request.GET.get("amount", "")})
    context = {"form": form, "next": next_url}
    if request.method == "GET":
        return render(request, "bounties/add_money.html", context)
    if not form.is_valid():
        return render(request, "bounties/add_money.html", context, status=400)
    try:
        # A resubmitted form answers from its deposit: paid, declined, expired, or the same checkout.
        outcome = deposit_start(
            user=request.user,
            amount_cents=form.cleaned_data["amount"],
            key=form.cleaned_data["key"],
            success_url=request.build_absolute_uri(next_url or reverse("wallet")),
            cancel_url=request.build_absolute_uri(reverse("wallet_add")),
        )
    except BountiesError as error:
        _refuse(form, error)
        if isinstance(error, (CardDeclined, CheckoutExpired, IdempotencyMismatch)):
            form.renew_key()  # the key is spent: sending the form again is a new attempt
        return _render_refused(request, "bounties/add_money.html", context, error)
    if next_url:
        # The local checkout page decides where a paid deposit leads: remember the pledge for it.
        request.session[DEPOSIT_NEXT] = {
            **request.session.get(DEPOSIT_NEXT, {}),
            str(outcome.deposit.uuid): next_url,
        }
    if outcome.deposit.status == DepositStatus.SUCCEEDED:
        return _after_payment(request, outcome.deposit, repeated=outcome.replayed)
    return redirect(outcome.deposit.checkout_url)


# --- The local gateway's test-card page ---------------------------------------------------------


def _local_deposit(request, deposit_uuid) -> Deposit:
    """The user's own deposit, and only while the local gateway is the one in use (never in production)."""
    gateway = get_gateway()
    if not gateway.takes_test_cards:
        raise Http404
    return get_object_or_404(
        Deposit.objects.select_related("pledge__fund__page"),
        uuid=deposit_uuid,
        user=request.user,
        gateway=gateway.name,
    )


def _after_payment(request, deposit: Deposit, *, repeated: bool = False):
    """Where a paid deposit leads: the pledge receipt for a card pledge, the pledge it was added
    for ("Add money" from a pledge form), else the wallet."""
    pledge = deposit.pledge_id and Pledge.objects.select_related("fund__page").get(pk=deposit.pledge_id)
    next_url = "" if pledge else request.session.get(DEPOSIT_NEXT, {}).get(str(deposit.uuid), "")
    if repeated:
        messages.info(request, "This payment already went through; nothing was charged twice.")
    elif not pledge:
        added = f"Added {format_cents(deposit.amount_cents)} to your wallet."
        messages.success(request, f"{added} Now finish your pledge." if next_url else added)
    elif pledge.status == PledgeStatus.ACTIVE:
        messages.success(request, _pledged_message(pledge))
    elif pledge.note:  # e.g. the fund closed while the card was paid: the money waits in the wallet
        messages.warning(request, pledge.note)
    if pledge:
        return redirect("pledge_detail", pk=pledge.pk)
    return redirect(next_url or "wallet")


@login_required
@require_http_methods(["GET", "POST"])
def local_checkout(request, deposit_uuid):
    deposit = _local_deposit(request, deposit_uuid)
    if deposit.status == DepositStatus.SUCCEEDED:
        return _after_payment(request, deposit, repeated=True)
    form = TestCardForm(request.POST or None)
    status = 200
    if request.method == "POST" and deposit.status == DepositStatus.PENDING:
        status = 400
        if form.is_valid():
            try:
                get_gateway(deposit.gateway).pay(deposit, form.cleaned_data["card"])
                deposit.refresh_from_db()
                return _after_payment(request, deposit)
            except BountiesError as error:  # CardDeclined (after the decline was recorded), TryAgainLater
                form.add_error(None, error.user_message)
                deposit.refresh_from_db()
                return _render_refused(
                    request, "bounties/local_checkout.html", {"deposit": deposit, "form": form}, error
                )
    return render(request, "bounties/local_checkout.html", {"deposit": deposit, "form": form}, status=status)


# --- Pledges -----------------------------------------------------------------------------------


def _funnel(form, balance_cents: int) -> dict:
    """What the pledge button says for the amount in the box: from the wallet, or the shortfall by card.

    The page's script updates it as the backer types; this is the text without script.
    """
    amount = typed_cents(form["amount"].value())
    short = max((amount or 0) - balance_cents, 0)
    if short:
        short = max(short, MIN_CARD_CHARGE_CENTS)  # as the card pledge charges it
    return {
        "amount_cents": amount,
        "card_cents": short,
        "by_card": bool(short) or (amount is None and not balance_cents),
        "min_card_cents": MIN_CARD_CHARGE_CENTS,
        "currency_symbol": format_cents(0)[:-1],
    }


def _pledged_message(pledge: Pledge) -> str:
    return f"Pledged {format_cents(pledge.amount_cents)} to {pledge.fund.page.title}. The money is in escrow."


def _pledge_done(request, outcome):
    pledge = outcome.pledge
    if outcome.replayed and pledge.status == PledgeStatus.ACTIVE:
        messages.info(request, "This pledge already went through; nothing was charged twice.")
    elif pledge.status == PledgeStatus.ACTIVE:
        messages.success(request, _pledged_message(pledge))
    return redirect("pledge_detail", pk=pledge.pk)


@require_http_methods(["GET", "POST"])
def pledge_create_view(request, fund_id):
    """GET: the pledge form with a fresh key (the cached fund page carries none). POST: pledge once per key."""
    page = get_object_or_404(selectors.public_funds(), pk=fund_id)
    if not request.user.is_authenticated:
        # After logging in, a GET comes back here; a POST goes back to the fund page to start again.
        return redirect_to_login(request.get_full_path() if request.method == "GET" else page.url)
    balance = selectors.wallet_balance(user=request.user)
    context = {"page": page, "balance_cents": balance}
    if request.method == "GET":
        form = PledgeForm(initial={"amount": request.GET.get("amount", "")})
        return render(
            request, "bounties/pledge_form.html", {**context, **_funnel(form, balance), "form": form}
        )

    form = PledgeForm(request.POST)
    context.update(_funnel(form, balance))
    try:
        check_pledge_rate(request)
    except RateLimited as error:
        form.add_error(None, error.user_message)  # the form stays as it was, key and all
        return _render_refused(request, "bounties/pledge_form.html", {**context, "form": form}, error)
    if not form.is_valid():
        return render(request, "bounties/pledge_form.html", {**context, "form": form}, status=400)
    args = {
        "user": request.user,
        "fund_id": page.pk,
        "amount_cents": form.cleaned_data["amount"],
        "key": form.cleaned_data["key"],
    }
    try:
        if request.POST.get("pay_by_card"):
            outcome = pledge_create_with_card(**args, gateway=get_gateway().name)
        else:
            outcome = pledge_create(**args)
        if outcome.deposit is not None and outcome.deposit.status == DepositStatus.PENDING:
            # A card pledge (or its replay): the pledge completes when this payment lands.
            return _open_checkout(
                request,
                outcome.deposit,
                success_url=reverse("pledge_detail", args=[outcome.pledge.pk]),
                cancel_url=page.url,
            )
        return _pledge_done(request, outcome)
    except InsufficientFunds as error:
        _refuse(form, error)  # "Your wallet holds $10; this pledge needs $15 more."
        # The card button offers the difference (and the same key: pressing it is this pledge).
        context.update(error.details)
        return _render_refused(request, "bounties/pledge_form.html", {**context, "form": form}, error)
    except ConnectionLost as error:
        form.add_error(None, error.user_message)  # it says that sending the form again is safe
        return _render_refused(request, "bounties/pledge_form.html", {**context, "form": form}, error)
    except TryAgainLater as error:
        form.add_error(None, f"{error.user_message} Sending this form again is safe: it cannot pledge twice.")
        return _render_refused(request, "bounties/pledge_form.html", {**context, "form": form}, error)
    except BountiesError as error:
        _refuse(form, error)
        if isinstance(error, IdempotencyMismatch):
            form.renew_key()  # the old key is spent on another pledge
        return _render_refused(request, "bounties/pledge_form.html", {**context, "form": form}, error)


@login_required
def my_pledges(request):
    pledges = Pledge.objects.filter(user=request.user).select_related("fund__page")
    items = Paginator(pledges, 50).get_page(request.GET.get("page"))
    return render(request, "bounties/my_pledges.html", {"items": items})


@login_required
def pledge_detail(request, pk):
    pledge = get_object_or_404(Pledge.objects.select_related("fund__page"), pk=pk, user=request.user)
    pending_deposit = None
    if pledge.status == PledgeStatus.PENDING_FUNDS:
        pending_deposit = (
            pledge.deposits.filter(status=DepositStatus.PENDING).exclude(checkout_url="").first()
        )
    context = {"pledge": pledge, "pending_deposit": pending_deposit, **receipt_context(pledge)}
    return render(request, "bounties/pledge_detail.html", context)


@require_http_methods(["GET", "POST"])
def pledge_withdraw_view(request, pk):
    """GET: "Withdraw $25 from <fund>?" with a button (no script needed). POST: withdraw it."""
    if not request.user.is_authenticated:
        return redirect_to_login(
            request.get_full_path() if request.method == "GET" else reverse("my_pledges")
        )
    pledge = get_object_or_404(Pledge.objects.select_related("fund__page"), pk=pk, user=request.user)
    if request.method == "GET":
        return render(request, "bounties/pledge_withdraw.html", {"pledge": pledge})
    try:
        pledge = pledge_withdraw(user=request.user, pledge_id=pledge.pk)
    except BountiesError as error:
        messages.error(request, error.user_message)
    else:
        messages.success(request, f"Withdrew {format_cents(pledge.amount_cents)} back to your wallet.")
    return redirect("my_pledges")
