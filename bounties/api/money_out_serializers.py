"""API serializers for money leaving the site: cash-outs to cards and payouts to winners."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bounties.api.serializers import CentsField
from bounties.models import Cashout, Payout, PayoutStatus, Refund, RefundStatus
from bounties.money import format_cents
from bounties.services.cashouts import cashout_message, refund_message
from bounties.services.deposits import MAX_DEPOSIT_CENTS
from bounties.services.payouts import MAX_PAYOUT_CENTS, STRIPE


class CashoutRequestSerializer(serializers.Serializer):
    amount_cents = CentsField(minimum=1, maximum=MAX_DEPOSIT_CENTS)


class RefundSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=RefundStatus.choices)
    deposit = serializers.IntegerField(source="deposit_id", help_text="The card payment it goes back to.")
    message = serializers.SerializerMethodField(help_text="What became of this refund, in words.")

    class Meta:
        model = Refund
        fields = ["id", "deposit", "amount_cents", "status", "failure_reason", "message"]
        read_only_fields = fields

    def get_message(self, refund) -> str:
        return refund_message(refund)


class CashoutSerializer(serializers.ModelSerializer):
    """A cash-out and its refunds, one per card payment it goes back to (newest payment first)."""

    refunds = serializers.SerializerMethodField(help_text="In the order they were made.")
    message = serializers.SerializerMethodField(help_text="What became of the cash-out, refund by refund.")

    class Meta:
        model = Cashout
        fields = ["id", "amount_cents", "created_at", "refunds", "message"]
        read_only_fields = fields

    @extend_schema_field(RefundSerializer(many=True))
    def get_refunds(self, cashout):
        refunds = cashout.refunds.select_related("deposit").order_by("pk")
        return RefundSerializer(refunds, many=True).data

    def get_message(self, cashout) -> str:
        return cashout_message(cashout)


class PayoutRequestSerializer(serializers.Serializer):
    amount_cents = CentsField(minimum=1, maximum=MAX_PAYOUT_CENTS)


class PayoutSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=PayoutStatus.choices)
    method = serializers.CharField(help_text="`stripe` (a transfer to your Stripe account) or `manual`.")
    message = serializers.SerializerMethodField(help_text="What happens next, in words.")

    class Meta:
        model = Payout
        fields = [
            "id",
            "amount_cents",
            "status",
            "method",
            "failure_reason",
            "created_at",
            "paid_at",
            "message",
        ]
        read_only_fields = fields

    def get_message(self, payout) -> str:
        amount = format_cents(payout.amount_cents)
        if payout.status == PayoutStatus.PAID:
            return f"{amount} was paid out."
        if payout.status == PayoutStatus.FAILED:
            reason = payout.failure_reason or "the payment was refused"
            return f"The payout of {amount} failed ({reason}); the money is back in your payout balance."
        if payout.method == STRIPE:
            return f"{amount} is being sent to your Stripe account."
        return f"{amount} left your payout balance; our Finance team will pay it to you and record it."
