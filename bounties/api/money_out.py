"""JSON API v1 for money leaving the site: cash-outs back to cards, and payouts to winners.

Both move money, so both take an `Idempotency-Key` (required) and answer a replay as the
pledge endpoint does: the first answer's body, 201, with the header `Idempotent-Replayed: true`.
The money operation commits first; only then does the door contact the card processor
(`refunds_send`), so a slow or failing processor never holds a transaction, and a refund it
could not send stays pending for the sweep (the body says so).
"""

import logging

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from bounties.api import money_out_serializers as s
from bounties.api.errors import validated
from bounties.api.parsers import JSONParser
from bounties.api.views import (
    NOT_AUTHENTICATED,
    REPLAYED,
    TRY_AGAIN,
    _error,
    _idempotency_key,
    _idempotency_parameter,
)
from bounties.models import Cashout
from bounties.services.cashouts import cashout_create, refunds_send
from bounties.services.payouts import payout_request

logger = logging.getLogger("fundfill.payments")

BAD_BODY = ("invalid_amount", "invalid_json", "idempotency_key_required", "invalid_idempotency_key")


class CashoutCreateView(APIView):
    """Send wallet money back to the card(s) it was added with, newest payment first.

    The wallet is debited at once; each card payment gets one refund of at most what it has not
    had refunded yet. A refund the card's bank refuses puts its money back in the wallet (its
    `status` is `failed` and `message` says why). The same key with the same amount answers from
    the first cash-out (201, `Idempotent-Replayed: true`) and never refunds twice; with another
    amount, 422 `idempotency_mismatch`.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="cashout_create",
        request=s.CashoutRequestSerializer,
        parameters=[
            _idempotency_parameter(
                required=True,
                description="A unique string per cash-out attempt (e.g. a UUID); resend it on retry.",
            )
        ],
        responses={
            201: OpenApiResponse(
                s.CashoutSerializer,
                description="Cashed out (or a replay: header `Idempotent-Replayed: true`, no money moved)",
            ),
            400: _error("Bad amount, body or key", *BAD_BODY),
            401: NOT_AUTHENTICATED,
            402: _error(
                "The wallet holds too little; details.shortfall_cents says how much", "insufficient_funds"
            ),
            409: _error(
                "Only money added by card can go back to a card; details.refundable_cents says how much",
                "nothing_to_refund",
            ),
            422: _error("The key was used for another cash-out", "idempotency_mismatch"),
            503: TRY_AGAIN,
        },
    )
    def post(self, request):
        key = _idempotency_key(request, required=True)
        data = validated(s.CashoutRequestSerializer, request.data)
        outcome = cashout_create(user=request.user, amount_cents=data["amount_cents"], key=key)
        # Committed: the money has left the wallet. A failure to send now leaves the refunds
        # pending for the sweep, which is what the answer then says; it is not this request's 500.
        try:
            refunds_send(outcome.cashout.pk)
        except Exception:
            logger.exception(
                "refunds of cash-out %s not sent: left pending for the sweep", outcome.cashout.pk
            )
        cashout = Cashout.objects.get(pk=outcome.cashout.pk)
        return Response(
            s.CashoutSerializer(cashout).data,
            status=status.HTTP_201_CREATED,
            headers=REPLAYED if outcome.replayed else None,
        )


class PayoutCreateView(APIView):
    """Ask for award money in your payout balance to be paid out to you.

    Award money is held `PAYOUT_HOLD_DAYS` against card disputes first (`payout_available_cents`
    on the wallet says how much can leave now). With Stripe payouts the money is sent to your
    Stripe account after this answer (set it up first); otherwise Finance staff pay it and record
    it. A payout that fails returns its money to the payout balance. The same key with the same
    amount answers from the first request (201, `Idempotent-Replayed: true`); with another amount,
    422 `idempotency_mismatch`.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="payout_create",
        request=s.PayoutRequestSerializer,
        parameters=[
            _idempotency_parameter(
                required=True,
                description="A unique string per payout request (e.g. a UUID); resend it on retry.",
            )
        ],
        responses={
            201: OpenApiResponse(
                s.PayoutSerializer,
                description="Requested (or a replay: header `Idempotent-Replayed: true`, no money moved)",
            ),
            400: _error("Bad amount, body or key", *BAD_BODY),
            401: NOT_AUTHENTICATED,
            402: _error(
                "The payout balance holds too little; details.balance_cents says how much",
                "insufficient_payout",
            ),
            409: _error(
                "Part of the amount is still on hold (details.available_cents, details.available_at), or "
                "no Stripe payout account is set up",
                "payout_on_hold",
                "payout_account_missing",
            ),
            422: _error("The key was used for another payout", "idempotency_mismatch"),
            503: TRY_AGAIN,
        },
    )
    def post(self, request):
        key = _idempotency_key(request, required=True)
        data = validated(s.PayoutRequestSerializer, request.data)
        # A Stripe payout is sent by the worker once this commits (the service enqueues it).
        outcome = payout_request(user=request.user, amount_cents=data["amount_cents"], key=key)
        outcome.payout.refresh_from_db()
        return Response(
            s.PayoutSerializer(outcome.payout).data,
            status=status.HTTP_201_CREATED,
            headers=REPLAYED if outcome.replayed else None,
        )
