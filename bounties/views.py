"""Backer pages: wallet, adding money, the local test-card checkout, pledges and withdrawals.

Views parse input, call one service and say what happened; they never write
ledger or pledge rows themselves. Every refusal tells the backer that no money
moved (`BountiesError.user_message`), and each money POST redirects on success
(post/redirect/get), so a reload cannot repeat it.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models.functions import Abs
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from bounties.errors import (
    BountiesError,
    CardDeclined,
    ConnectionLost,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    RateLimited,
    TryAgainLater,
)
from bounties.forms import AddMoneyForm, PledgeForm, TestCardForm
from bounties.models import (
    Account,
    AccountKind,
    Deposit,
    DepositStatus,
    Entry,
    FundPage,
    Pledge,
    PledgeStatus,
)
from bounties.payments import checkout_start
from bounties.payments.local_gateway import LocalGateway
from bounties.ratelimits import RETRY_AFTER_SECONDS, check_pledge_rate
from bounties.services.deposits import deposit_create_once
from bounties.services.ledger import balance_of
from bounties.services.pledging import pledge_create, pledge_create_with_card, pledge_withdraw
from bounties.templatetags.fundfill_tags import money


def _wallet_balance(user) -> int:
    """A read: a user with no wallet yet holds nothing (the services create wallets, not pages)."""
    return balance_of(Account.objects.filter(kind=AccountKind.WALLET, user=user).first())


def _refuse(form, error: BountiesError):
    """Show a service's refusal on the form: amount problems on the amount field, the rest on top."""
    form.add_error("amount" if isinstance(error, InvalidAmount) else None, error.user_message)


def _open_checkout(request, deposit: Deposit, *, success_url: str, cancel_url: str):
    """Send the payer to the gateway's checkout for a pending deposit (reusing one already opened)."""
    if not deposit.checkout_url:
        deposit = checkout_start(
            deposit,
            success_url=request.build_absolute_uri(success_url),
            cancel_url=request.build_absolute_uri(cancel_url),
        )
    return redirect(deposit.checkout_url)


# --- Wallet ------------------------------------------------------------------------------------


@login_required
def wallet(request):
    account = Account.objects.filter(kind=AccountKind.WALLET, user=request.user).first()
    entries = (
        Entry.objects.filter(account=account)
        .annotate(size=Abs("amount"))
        .select_related("transfer__fund__page")
        .order_by("-transfer__created_at", "-pk")
        if account
        else Entry.objects.none()
    )
    history = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "bounties/wallet.html", {"balance_cents": balance_of(account), "items": history})


@login_required
@require_http_methods(["GET", "POST"])
def wallet_add(request):
    form = AddMoneyForm(request.POST or None, initial={"amount": request.GET.get("amount", "")})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                deposit, replayed = deposit_create_once(
                    user=request.user,
                    amount_cents=form.cleaned_data["amount"],
                    gateway=settings.PAYMENT_GATEWAY,
                    key=form.cleaned_data["key"],
                )
                # A resubmitted form answers from its deposit: paid, declined, or the same checkout.
                if replayed and deposit.status == DepositStatus.SUCCEEDED:
                    return _after_payment(request, deposit, repeated=True)
                if replayed and deposit.status == DepositStatus.DECLINED:
                    raise CardDeclined(deposit.decline_reason or None)
                return _open_checkout(
                    request, deposit, success_url=reverse("wallet"), cancel_url=reverse("wallet_add")
                )
            except BountiesError as error:
                _refuse(form, error)
                status = error.status
                if isinstance(error, (CardDeclined, IdempotencyMismatch)):
                    form.renew_key()
    return render(request, "bounties/add_money.html", {"form": form}, status=status)


# --- The local gateway's test-card page ---------------------------------------------------------


def _local_deposit(request, deposit_uuid) -> Deposit:
    """The user's own deposit, and only while the local gateway is the one in use (never in production)."""
    if settings.PAYMENT_GATEWAY != LocalGateway.name:
        raise Http404
    return get_object_or_404(
        Deposit.objects.select_related("pledge__fund__page"),
        uuid=deposit_uuid,
        user=request.user,
        gateway=LocalGateway.name,
    )


def _after_payment(request, deposit: Deposit, *, repeated: bool = False):
    """Where a paid deposit leads: the pledge receipt for a card pledge, else the wallet."""
    pledge = deposit.pledge_id and Pledge.objects.select_related("fund__page").get(pk=deposit.pledge_id)
    if repeated:
        messages.info(request, "This payment already went through; nothing was charged twice.")
    elif not pledge:
        messages.success(request, f"Added {money(deposit.amount_cents)} to your wallet.")
    elif pledge.status == PledgeStatus.ACTIVE:
        messages.success(request, _pledged_message(pledge))
    elif pledge.note:  # e.g. the fund closed while the card was paid: the money waits in the wallet
        messages.warning(request, pledge.note)
    return redirect("pledge_detail", pk=pledge.pk) if pledge else redirect("wallet")


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
                LocalGateway().pay(deposit, form.cleaned_data["card"])
                deposit.refresh_from_db()
                return _after_payment(request, deposit)
            except BountiesError as error:  # CardDeclined (after the decline was recorded), TryAgainLater
                form.add_error(None, error.user_message)
                status = error.status
            deposit.refresh_from_db()
    return render(request, "bounties/local_checkout.html", {"deposit": deposit, "form": form}, status=status)


# --- Pledges -----------------------------------------------------------------------------------


def _pledged_message(pledge: Pledge) -> str:
    return f"Pledged {money(pledge.amount_cents)} to {pledge.fund.page.title}. The money is in escrow."


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
    page = get_object_or_404(FundPage.objects.live().public().select_related("fund"), pk=fund_id)
    if not request.user.is_authenticated:
        # After logging in, a GET comes back here; a POST goes back to the fund page to start again.
        return redirect_to_login(request.get_full_path() if request.method == "GET" else page.url)
    context = {"page": page, "balance_cents": _wallet_balance(request.user)}
    if request.method == "GET":
        form = PledgeForm(initial={"amount": request.GET.get("amount", "")})
        return render(request, "bounties/pledge_form.html", {**context, "form": form})

    form = PledgeForm(request.POST)
    try:
        check_pledge_rate(request)
    except RateLimited as error:
        form.add_error(None, error.user_message)  # the form stays as it was, key and all
        response = render(
            request, "bounties/pledge_form.html", {**context, "form": form}, status=error.status
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
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
            outcome = pledge_create_with_card(**args, gateway=settings.PAYMENT_GATEWAY)
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
        balance = error.details.get("balance_cents", context["balance_cents"])
        shortfall = error.details.get("shortfall_cents", args["amount_cents"] - balance)
        form.add_error(
            None,
            f"Your wallet holds {money(balance)}; this pledge needs {money(shortfall)} more. No money moved.",
        )
        context.update(balance_cents=balance, shortfall_cents=shortfall)
        status = error.status
    except ConnectionLost as error:
        form.add_error(None, error.user_message)  # it says that sending the form again is safe
        status = error.status
    except TryAgainLater as error:
        form.add_error(None, f"{error.user_message} Sending this form again is safe: it cannot pledge twice.")
        status = error.status
    except BountiesError as error:
        _refuse(form, error)
        status = error.status
        if isinstance(error, IdempotencyMismatch):
            form.renew_key()  # the old key is spent on another pledge
    response = render(request, "bounties/pledge_form.html", {**context, "form": form}, status=status)
    if status == 503:
        response["Retry-After"] = "5"
    return response


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
    return render(
        request, "bounties/pledge_detail.html", {"pledge": pledge, "pending_deposit": pending_deposit}
    )


@require_POST
def pledge_withdraw_view(request, pk):
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("my_pledges"))
    pledge = get_object_or_404(Pledge, pk=pk, user=request.user)
    try:
        pledge = pledge_withdraw(user=request.user, pledge_id=pledge.pk)
    except BountiesError as error:
        messages.error(request, error.user_message)
    else:
        messages.success(request, f"Withdrew {money(pledge.amount_cents)} back to your wallet.")
    return redirect("my_pledges")
