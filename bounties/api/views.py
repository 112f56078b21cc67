"""JSON API v1: thin views that parse input, call the bounty services and shape the answer.

Money moves only inside `bounties.services`; a refusal there rolls back and
reaches the client through `bounties.api.errors` as a code and a sentence.
"""

from django.conf import settings
from django.contrib.auth import authenticate
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bounties import selectors
from bounties.api import serializers as s
from bounties.api.errors import (
    IdempotencyKeyRequired,
    InvalidCredentials,
    InvalidIdempotencyKey,
)
from bounties.api.parsers import JSONParser
from bounties.models import Pledge
from bounties.ratelimits import check_pledge_rate
from bounties.services.deposits import deposit_start
from bounties.services.pledging import pledge_create, pledge_withdraw

# The pledge's ledger transfer is keyed `pledge:{user id}:{key}` in a 200-character column,
# so the client's part must leave room for the prefix.
IDEMPOTENCY_KEY_MAX_LENGTH = 150


def _idempotency_key(request, *, required: bool) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        if required:
            raise IdempotencyKeyRequired()
        return None
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not (key.isascii() and key.isprintable()):
        raise InvalidIdempotencyKey(
            f"The Idempotency-Key header must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII "
            "characters, for example a UUID."
        )
    return key


def _idempotency_parameter(*, required: bool, description: str):
    return OpenApiParameter(
        "Idempotency-Key",
        # Not blank (it is stripped), and short enough for the ledger's transfer key.
        {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH, "pattern": r"\S"},
        OpenApiParameter.HEADER,
        required=required,
        description=description,
    )


REPLAYED = {"Idempotent-Replayed": "true"}


def _error(description, *codes):
    return OpenApiResponse(s.ErrorSerializer, description=f"{description} (codes: {', '.join(codes)})")


NOT_AUTHENTICATED = _error("No valid token", "not_authenticated")
NOT_FOUND = _error("No such resource, or not yours", "not_found")
BAD_PAGE = _error("limit or offset is not a whole number in range", "invalid_pagination")
TRY_AGAIN = _error("Database too busy; nothing moved, retry after Retry-After seconds", "try_again")


# --- Accounts ------------------------------------------------------------------------------------


class AccountCreateView(generics.CreateAPIView):
    """Create an account. The password must pass the site's password validators."""

    serializer_class = s.AccountSerializer
    parser_classes = [JSONParser]
    authentication_classes = []  # no session, so no CSRF check for a sign-up from anywhere
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="account_create",
        responses={201: s.AccountSerializer, 400: _error("Invalid or taken fields", "invalid_request")},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenCreateView(APIView):
    """Exchange a username and password for the account's API token."""

    parser_classes = [JSONParser]

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="token_create",
        request=s.TokenRequestSerializer,
        responses={
            200: s.TokenSerializer,
            400: _error("Missing fields or wrong credentials", "invalid_request", "invalid_credentials"),
            429: _error("Too many wrong passwords from here: locked for a while (Retry-After)", "locked_out"),
        },
    )
    def post(self, request):
        serializer = s.TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Django's request, so django-axes counts a wrong password and answers a lockout (settings).
        user = authenticate(request._request, **serializer.validated_data)
        if user is None:
            raise InvalidCredentials()
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# --- Wallet and deposits ---------------------------------------------------------------------------


class WalletView(APIView):
    """The signed-in user's wallet balance and awards waiting to be paid out, in cents."""

    @extend_schema(
        operation_id="wallet_retrieve", responses={200: s.WalletSerializer, 401: NOT_AUTHENTICATED}
    )
    def get(self, request):
        balances = selectors.balances(user=request.user)  # a read: opens no account
        return Response(
            {
                "balance_cents": balances.wallet_cents,
                "payout_cents": balances.payout_cents,
                "payout_available_cents": selectors.payout_available(user=request.user),
                "currency": settings.FUNDFILL_CURRENCY,
            }
        )


class DepositCreateView(APIView):
    """Add money to the wallet.

    Local gateway (dev and tests): the test card is charged at once through the
    same signed-webhook path Stripe uses. `4242 4242 4242 4242` → 201 with status
    `succeeded` and the wallet credited; `4000 0000 0000 0002` → 402 `card_declined`
    (the declined deposit is recorded, no money moved); any other card → 400
    `invalid_card` before any deposit is recorded.

    Stripe: 201 with status `pending` and a `checkout_url` to send the payer to;
    the wallet is credited when Stripe's webhook reports the payment.

    With an `Idempotency-Key` (recommended), a retry of the same deposit answers from
    the first one — credited (201, header `Idempotent-Replayed: true`), declined (402),
    or the same Stripe checkout — and never charges or opens a payment twice; the same
    key with another amount → 422 `idempotency_mismatch`. A key whose Stripe checkout
    expired unpaid → 409 `checkout_expired` (its checkout cannot be paid any more, and the
    key stays with that deposit): send a new key to start again.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="deposit_create",
        request=s.DepositRequestSerializer,
        parameters=[
            _idempotency_parameter(
                required=False,
                description="A unique string per deposit attempt (e.g. a UUID); resend it on retry.",
            )
        ],
        responses={
            201: s.DepositSerializer,
            400: _error(
                "Bad amount, card or key",
                "invalid_amount",
                "invalid_card",
                "invalid_json",
                "invalid_idempotency_key",
            ),
            401: NOT_AUTHENTICATED,
            402: _error(
                "The card was declined; details.deposit_id names the declined deposit", "card_declined"
            ),
            409: _error("The key's checkout expired unpaid; start again with a new key", "checkout_expired"),
            422: _error("The key was used for another deposit", "idempotency_mismatch"),
            502: _error("The payment provider did not answer", "gateway_unavailable"),
            503: TRY_AGAIN,
        },
    )
    def post(self, request):
        key = _idempotency_key(request, required=False)
        serializer = s.DepositRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = deposit_start(
            user=request.user,
            amount_cents=serializer.validated_data["amount_cents"],
            key=key,
            card=serializer.validated_data.get("card"),
            success_url=_site_url("wallet"),
            cancel_url=_site_url("wallet", cancelled=True),
        )
        return Response(
            s.DepositSerializer(outcome.deposit).data,
            status=status.HTTP_201_CREATED,
            headers=REPLAYED if outcome.replayed else None,
        )


def _site_url(name, *, cancelled=False):
    """Where Stripe sends the payer back: the wallet page if the site has one, else the home page."""
    try:
        path = reverse(name)
    except NoReverseMatch:
        path = "/"
    return f"{settings.SITE_URL}{path}" + ("?deposit=cancelled" if cancelled else "")


# --- Funds -----------------------------------------------------------------------------------------


class FundListView(generics.ListAPIView):
    """Every published, public fund, newest first."""

    serializer_class = s.FundSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        return selectors.public_funds()

    @extend_schema(responses={200: s.FundSerializer, 400: BAD_PAGE})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class FundDetailView(generics.RetrieveAPIView):
    """One published, public fund."""

    serializer_class = s.FundSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        return selectors.public_funds()

    @extend_schema(responses={200: s.FundSerializer, 404: NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- Pledges ---------------------------------------------------------------------------------------


class FundPledgeCreateView(APIView):
    """Pledge wallet money to a fund, exactly once per `Idempotency-Key`.

    Replay choice: the same key with the same fund and amount answers as the
    first request did — 201 with the same pledge body — and moves no money; the
    replay also carries the header `Idempotent-Replayed: true` (as Stripe's API
    does), so a client may tell, but need not. The body shows the pledge as it
    stands now (one withdrawn since shows `withdrawn`). The same key with another
    fund or amount → 422 `idempotency_mismatch`. Keys are per user, at most 150
    characters (the ledger's transfer key adds a prefix to a 200-character column).
    """

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="fund_pledge_create",
        request=s.PledgeRequestSerializer,
        parameters=[
            _idempotency_parameter(
                required=True,
                description="A unique string per pledge attempt (e.g. a UUID); resend it on retry.",
            )
        ],
        responses={
            201: OpenApiResponse(
                s.PledgeSerializer,
                description="Pledged (or a replay: header `Idempotent-Replayed: true`, no money moved)",
            ),
            400: _error(
                "Bad amount, body or key",
                "invalid_amount",
                "invalid_json",
                "idempotency_key_required",
                "invalid_idempotency_key",
            ),
            401: NOT_AUTHENTICATED,
            402: _error(
                "The wallet holds too little; details.shortfall_cents says how much", "insufficient_funds"
            ),
            404: NOT_FOUND,
            409: _error("The fund is not taking pledges", "fund_not_open"),
            422: _error("The key was used for another pledge", "idempotency_mismatch"),
            429: _error("Too many pledges in the last minute (header Retry-After)", "rate_limited"),
            503: TRY_AGAIN,
        },
    )
    def post(self, request, pk):
        check_pledge_rate(request)
        key = _idempotency_key(request, required=True)
        serializer = s.PledgeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = pledge_create(
            user=request.user, fund_id=pk, amount_cents=serializer.validated_data["amount_cents"], key=key
        )
        return Response(
            s.PledgeSerializer(outcome.pledge).data,
            status=status.HTTP_201_CREATED,
            headers=REPLAYED if outcome.replayed else None,
        )


class MyPledgeListView(generics.ListAPIView):
    """The signed-in user's pledges, newest first."""

    serializer_class = s.PledgeSerializer

    def get_queryset(self):
        return Pledge.objects.filter(user=self.request.user).order_by("-created_at", "-pk")

    @extend_schema(
        operation_id="my_pledges_list",
        responses={200: s.PledgeSerializer, 400: BAD_PAGE, 401: NOT_AUTHENTICATED},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PledgeWithdrawView(APIView):
    """Withdraw a pledge: its money returns from escrow to the wallet.

    Allowed while the fund is open and no claim is under vote; otherwise 409
    `withdraw_not_allowed`. Another user's pledge answers 404, as an unknown one.
    """

    @extend_schema(
        operation_id="pledge_withdraw",
        responses={
            200: OpenApiResponse(s.PledgeSerializer, description="Withdrawn: status `withdrawn`"),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: _error("The pledge cannot be withdrawn now", "withdraw_not_allowed"),
            503: TRY_AGAIN,
        },
    )
    def delete(self, request, pk):
        try:
            pledge = pledge_withdraw(user=request.user, pledge_id=pk)
        except Pledge.DoesNotExist:
            raise NotFound("No such pledge.") from None
        return Response(s.PledgeSerializer(pledge).data)


# --- Anything else under /api/v1/ --------------------------------------------------------------------


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
def not_found(request, path=""):
    """Unknown API paths answer in the API's error shape, not with the site's HTML 404 page."""
    raise NotFound("There is no such API endpoint. See /api/v1/schema/.")
