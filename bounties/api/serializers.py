"""API serializers: parse and shape JSON only. Amount limits are checked by the services."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.usernames import TAKEN, clean_new_username
from bounties.errors import InvalidCard
from bounties.models import Deposit, FundPage, FundStatus, Pledge
from bounties.payments import get_gateway
from bounties.payments.local_gateway import check_test_card
from bounties.services.deposits import MAX_DEPOSIT_CENTS

User = get_user_model()

AMOUNT_HELP = "A whole number of cents as a JSON integer (2500 is 25.00); strings and decimals are refused."


class CentsField(serializers.IntegerField):
    """A JSON integer of cents. Strings, floats and booleans are refused, never coerced or rounded."""

    default_error_messages = {
        "invalid": "amount_cents must be a whole number of cents sent as a JSON integer, like 2500.",
        "required": "amount_cents is required: a whole number of cents, like 2500.",
        "null": "amount_cents is required: a whole number of cents, like 2500.",
    }

    def __init__(self, *, minimum=None, maximum=None, **kwargs):
        kwargs.setdefault("help_text", AMOUNT_HELP)
        super().__init__(**kwargs)
        # For the schema only (drf-spectacular reads them): the services check the limits and
        # refuse with the site's own message (bounties/money.py `check_amount`).
        self.min_value, self.max_value = minimum, maximum

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `insufficient_funds`.")
    message = serializers.CharField(help_text="A sentence for people; refusals end with 'No money moved.'")
    details = serializers.DictField(
        required=False, help_text="Field messages for a 400, or facts such as `shortfall_cents`."
    )


class ErrorSerializer(serializers.Serializer):
    """The one shape of every error response."""

    error = ErrorBodySerializer()


# --- Accounts ------------------------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    """Sign-up: the same rules as the web form (password validators, one account per email)."""

    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "email", "password"]
        read_only_fields = ["id"]

    def validate_username(self, value):
        # The web form's rule (accounts/usernames.py): "Ａｄｍｉｎ" and "ADMIN" are "admin".
        try:
            return clean_new_username(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from exc

    def validate_email(self, value):
        email = value.strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise serializers.ValidationError("An account with this email already exists. Try logging in.")
        return email

    def validate(self, attrs):
        candidate = User(username=attrs.get("username", ""), email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs

    def create(self, validated_data):
        try:
            with transaction.atomic():
                return User.objects.create_user(**validated_data)
        except IntegrityError:  # the same username registered concurrently
            raise serializers.ValidationError({"username": [TAKEN]}) from None


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


# --- Wallet and deposits ---------------------------------------------------------------------------


class WalletSerializer(serializers.Serializer):
    balance_cents = serializers.IntegerField(help_text="Money in the wallet, free to pledge.")
    payout_cents = serializers.IntegerField(help_text="Awards won, waiting to be paid out.")
    payout_available_cents = serializers.IntegerField(
        help_text="The part of payout_cents past the hold against card disputes: it can be paid out now."
    )
    currency = serializers.CharField(help_text="ISO currency code, lower case (e.g. `usd`).")


class DepositRequestSerializer(serializers.Serializer):
    amount_cents = CentsField(minimum=settings.FUNDFILL_MIN_PLEDGE_CENTS, maximum=MAX_DEPOSIT_CENTS)
    card = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=(
            "Local gateway only: test card 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined. "
            "Ignored with Stripe, which takes the card on its checkout page."
        ),
    )

    def validate_card(self, value):
        if not get_gateway().takes_test_cards:
            return None  # ignored: the payer types the card on the gateway's checkout page
        try:
            return check_test_card(value)
        except InvalidCard as error:
            raise serializers.ValidationError(error.message, code=error.code) from None

    def validate(self, attrs):
        if get_gateway().takes_test_cards and "card" not in attrs:
            raise serializers.ValidationError({"card": ["Enter a test card number."]})
        return attrs


class DepositSerializer(serializers.ModelSerializer):
    checkout_url = serializers.SerializerMethodField(
        help_text="Stripe only: send the payer here to pay. Null with the local gateway."
    )

    class Meta:
        model = Deposit
        fields = ["id", "status", "amount_cents", "checkout_url", "decline_reason", "created_at"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_checkout_url(self, deposit) -> str | None:
        return deposit.checkout_url or None


# --- Funds and pledges -----------------------------------------------------------------------------


class FundSerializer(serializers.ModelSerializer):
    """A fund's page facts and its money-side state (the `Fund` row, selected with the page)."""

    url = serializers.SerializerMethodField(help_text="The fund's page on the site (absolute).")
    status = serializers.ChoiceField(source="fund.status", choices=FundStatus.choices, read_only=True)
    pledged_cents = serializers.IntegerField(source="fund.pledged_cents", read_only=True)
    backer_count = serializers.IntegerField(source="fund.backer_count", read_only=True)

    class Meta:
        model = FundPage
        fields = [
            "id",
            "slug",
            "title",
            "url",
            "status",
            "goal_cents",
            "pledged_cents",
            "backer_count",
            "pledge_deadline",
            "escrow_until",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, page) -> str | None:
        return page.get_full_url(request=self.context.get("request"))


class PledgeRequestSerializer(serializers.Serializer):
    amount_cents = CentsField(
        minimum=settings.FUNDFILL_MIN_PLEDGE_CENTS, maximum=settings.FUNDFILL_MAX_PLEDGE_CENTS
    )


class PledgeSerializer(serializers.ModelSerializer):
    fund = serializers.IntegerField(source="fund_id", read_only=True, help_text="The fund's id.")

    class Meta:
        model = Pledge
        fields = ["id", "fund", "amount_cents", "status", "created_at"]
