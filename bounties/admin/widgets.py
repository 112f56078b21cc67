"""Editors type dollars; the page stores integer cents.

`FundPage.goal_cents` is cents, like all money here (Stripe's unit, and whole cents cannot
round). Editors think in dollars, so the fund page's admin form (`FundPageForm`, the page's
`base_form_class`) declares the goal as a `DollarsField`: its `DollarsWidget` shows the stored
cents as dollars ("25,000.00"), and the field parses what was typed with `parse_dollars`, the
same rules as the pledge and proposal forms. Anything inexact ("1.005"), negative or not a
number is a form error in words, never a rounded value.

Wagtail's `FieldPanel(widget=...)` can swap only a widget, and the model's integer form field
would then refuse "25,000" with "Enter a whole number."; a declared field on the page's base
form class is the public way to change how a field parses.
"""

from django import forms
from django.utils.text import capfirst
from wagtail.admin.forms import WagtailAdminPageForm

from bounties.errors import InvalidAmount
from bounties.money import format_cents, parse_dollars

NEGATIVE = "Amounts cannot be negative: type the amount in dollars, like 25,000."


def cents_as_dollars(cents: int) -> str:
    """12345 -> "123.45", 2500000 -> "25,000.00": what an editor can type back unchanged."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"


class DollarsWidget(forms.TextInput):
    """A text input showing integer cents as dollars; a value that did not parse is shown as typed."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return cents_as_dollars(value)
        return super().format_value(value)


class DollarsField(forms.Field):
    """Dollars as typed ("25,000", "25000.50", "$1,000") cleaned to integer cents, at least `min_cents`."""

    widget = DollarsWidget
    default_error_messages = {"required": InvalidAmount.default_message}

    def __init__(self, *, min_cents: int | None = None, max_cents: int | None = None, **kwargs):
        self.min_cents, self.max_cents = min_cents, max_cents
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value  # the initial cents, when Wagtail compares for changes
        text = str(value).strip()
        if text.removeprefix("$").lstrip().startswith("-"):
            raise forms.ValidationError(NEGATIVE, code=InvalidAmount.code)
        try:
            return parse_dollars(text)
        except InvalidAmount as error:
            # The admin moves no money, so the message is the refusal alone.
            raise forms.ValidationError(error.message, code=error.code) from None

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        if self.min_cents is not None and value < self.min_cents:
            raise forms.ValidationError(
                f"The smallest amount is {format_cents(self.min_cents)}.", code="min_value"
            )
        if self.max_cents is not None and value > self.max_cents:
            raise forms.ValidationError(
                f"The largest amount is {format_cents(self.max_cents)}.", code="max_value"
            )


class FundPageForm(WagtailAdminPageForm):
    """The fund page's admin form: the goal is typed in dollars (see the module docstring).

    The label, help text and minimum come from the model field, so they are said once.
    """

    goal_cents = DollarsField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "goal_cents" not in self.fields:
            return
        model_field = self._meta.model._meta.get_field("goal_cents")
        field = self.fields["goal_cents"]
        field.label = capfirst(model_field.verbose_name)
        field.help_text = model_field.help_text
        field.required = not model_field.blank
        minimums = [v.limit_value for v in model_field.validators if v.code == "min_value"]
        field.min_cents = max(minimums, default=0)
