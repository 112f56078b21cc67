"""Backer forms: they parse what was typed and nothing more; the services decide.

Amounts are typed in dollars and become integer cents here (`parse_dollars`),
so an inexact amount ("1.005") is a form error, never a rounded charge.
"""

import uuid

from django import forms

from bounties.errors import InvalidAmount, InvalidCard
from bounties.money import check_amount, parse_dollars
from bounties.payments.local_gateway import check_test_card
from bounties.services.deposits import MAX_DEPOSIT_CENTS


class AmountField(forms.CharField):
    """Dollars as typed ("25", "25.50", "$1,000") cleaned to integer cents."""

    def __init__(self, *, maximum=None, **kwargs):
        self.maximum = maximum
        refused = InvalidAmount().user_message
        # A NUL byte is refused by CharField's own validator: say it in the form's words.
        kwargs.setdefault("error_messages", {"required": refused, "null_characters_not_allowed": refused})
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)
        try:
            return check_amount(parse_dollars(text), maximum=self.maximum)
        except InvalidAmount as error:
            raise forms.ValidationError(error.user_message, code=error.code) from None


EXPIRED = "This form has expired: reload the page and try again. No money moved."


class OnceForm(forms.Form):
    """A form that moves money once: `key` is made once per page view, so a resubmit is a replay."""

    key = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": EXPIRED, "invalid": EXPIRED},
    )

    def clean_key(self):
        return str(self.cleaned_data["key"])

    def add_error(self, field, error):
        # A broken hidden key cannot be fixed by the user: say so at the top of the form.
        super().add_error(None if field == "key" else field, error)

    def renew_key(self):
        """After a refusal that spent the key: sending the form again is a new attempt, on purpose."""
        self.data = self.data.copy()
        self.data["key"] = str(uuid.uuid4())


class AddMoneyForm(OnceForm):
    amount = AmountField(
        label="Amount to add", maximum=MAX_DEPOSIT_CENTS, help_text="In dollars, like 50 or 12.50."
    )


class PledgeForm(OnceForm):
    amount = AmountField(label="Amount to pledge", help_text="In dollars, like 25 or 25.50.")


class TestCardForm(forms.Form):
    """The local gateway's checkout page: a test card number (`check_test_card`)."""

    card = forms.CharField(
        label="Card number",
        max_length=30,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "aria-describedby": "test-cards"}
        ),
    )

    def clean_card(self):
        try:
            return check_test_card(self.cleaned_data["card"])
        except InvalidCard as error:
            raise forms.ValidationError(error.message, code=error.code) from None
