"""Forms for the claim cycle: claims, votes, settlement choices, cash-outs and payouts.

Like `bounties.forms`, they parse what was typed and nothing more; the services decide.
Co-claimants are typed one a line as "username 25%" and become basis points here, so a
share such as "12.345%" is a form error, never a rounded split.
"""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.core.validators import FileExtensionValidator

from bounties.errors import ClaimInvalid, ReasonRequired, SharesInvalid
from bounties.forms import AmountField, OnceForm
from bounties.models import SettlementChoice
from bounties.services.claims import MAX_REASON, MAX_STATEMENT
from bounties.services.deposits import MAX_DEPOSIT_CENTS
from bounties.services.payouts import MAX_PAYOUT_CENTS
from bounties.services.settlement import default_choice

MAX_CO_CLAIMANTS = 20
_LINE = re.compile(r"^@?(?P<name>[\w.@+-]{1,150})[\s,:]+(?P<percent>[0-9]{1,3}(?:\.[0-9]{1,2})?)\s*%?$")


def parse_co_claimants(text: str) -> list[tuple[str, int]]:
    """ "bob 25%" lines to `[("bob", 2500)]`: shares in whole basis points (two decimals of a percent)."""
    team = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise forms.ValidationError(
                f"Line {number} (“{line[:60]}”) is not a username and a share, like “bob 25%”.",
                code=SharesInvalid.code,
            )
        try:
            basis_points = int(Decimal(match["percent"]) * 100)
        except InvalidOperation:  # the pattern already refuses these; kept for safety
            raise forms.ValidationError(SharesInvalid().message, code=SharesInvalid.code) from None
        if not 0 < basis_points < 10_000:
            raise forms.ValidationError(
                f"Line {number}: a share must be more than 0% and less than 100%.", code=SharesInvalid.code
            )
        team.append((match["name"], basis_points))
    if len(team) > MAX_CO_CLAIMANTS:
        raise forms.ValidationError(f"Name at most {MAX_CO_CLAIMANTS} co-claimants.", code=SharesInvalid.code)
    return team


class ClaimForm(forms.Form):
    """A claim on a fund: what was done, a link to it, and who shares the award."""

    statement = forms.CharField(
        label="What did you do?",
        max_length=MAX_STATEMENT,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Backers read this before they vote. Say what was done and how they can check it.",
        error_messages={"required": ClaimInvalid().message},
    )
    url = forms.URLField(
        label="Link to the work",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        error_messages={
            "required": ClaimInvalid().message,
            "invalid": "Enter a web address starting with https://.",
        },
    )
    document = forms.FileField(
        label="A document (optional)",
        required=False,
        validators=[FileExtensionValidator(settings.WAGTAILDOCS_EXTENSIONS)],
        help_text="A report or an archive of the work, up to 10 MB ("
        + ", ".join(settings.WAGTAILDOCS_EXTENSIONS)
        + "). It is public, like the statement.",
    )
    co_claimants = forms.CharField(
        label="Co-claimants (optional)",
        required=False,
        max_length=5_000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "bob 25%"}),
        help_text="One a line: a username and their share of the award, like “bob 25%”. "
        "You keep what they leave.",
    )

    def clean_statement(self):
        statement = self.cleaned_data["statement"].strip()
        if not statement:
            raise forms.ValidationError(ClaimInvalid().message, code=ClaimInvalid.code)
        return statement

    def clean_document(self):
        upload = self.cleaned_data.get("document")
        limit = settings.WAGTAILDOCS_MAX_UPLOAD_SIZE
        if upload and limit and upload.size > limit:
            raise forms.ValidationError(
                f"The document is larger than {limit // (1024 * 1024)} MB.", code="too_big"
            )
        return upload

    def clean_co_claimants(self):
        return parse_co_claimants(self.cleaned_data["co_claimants"])


class VoteForm(forms.Form):
    """Approve or reject a claim; a reject says why (the reason is public, on the claim page)."""

    decision = forms.ChoiceField(
        label="Your vote",
        choices=[("approve", "Approve: the work is done, pay the claimants"), ("reject", "Reject")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose approve or reject."},
    )
    reason = forms.CharField(
        label="Your reason",
        required=False,
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed to reject; shown on the claim page with your username.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not cleaned.get("reason", "").strip():
            self.add_error(
                "reason", forms.ValidationError(ReasonRequired().message, code=ReasonRequired.code)
            )
        return cleaned

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == "approve"


class SettlementForm(forms.Form):
    """Where one pledge goes if nobody wins: the choices its terms allow, the default marked."""

    choice = forms.ChoiceField(label="If nobody wins, send this pledge", widget=forms.RadioSelect)
    fund = forms.TypedChoiceField(label="Which fund", coerce=int, required=False, empty_value=None)

    def __init__(self, *args, pledge, open_funds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.pledge = pledge
        default = default_choice(pledge)
        labels = {
            SettlementChoice.WALLET: "Back to my wallet",
            SettlementChoice.CARD: "Back to my card (what was added by card; the rest to my wallet)",
            SettlementChoice.BENEFICIARY: f"To {pledge.beneficiary_name}, the fund's beneficiary",
            SettlementChoice.FUND: "Pledged to another open fund",
        }
        allowed = [SettlementChoice.WALLET, SettlementChoice.CARD]
        if pledge.beneficiary_name:
            allowed.append(SettlementChoice.BENEFICIARY)
        self.fields["fund"].choices = [("", "Choose a fund")] + [(page.pk, page.title) for page in open_funds]
        if open_funds:
            allowed.append(SettlementChoice.FUND)
        self.fields["choice"].choices = [
            (value, labels[value] + (" (the default)" if value == default else "")) for value in allowed
        ]
        self.fields["choice"].error_messages["invalid_choice"] = "That choice is not open to this pledge."
        self.fields["fund"].error_messages["invalid_choice"] = "Choose one of the open funds listed."

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("choice") == SettlementChoice.FUND and not cleaned.get("fund"):
            self.add_error("fund", "Choose the fund to pledge this money to.")
        return cleaned


class CashoutForm(OnceForm):
    amount = AmountField(
        label="Amount to send back to your card",
        maximum=MAX_DEPOSIT_CENTS,
        help_text="In dollars. Only money you added by card can go back to it.",
    )


class PayoutForm(OnceForm):
    amount = AmountField(label="Amount to pay out", maximum=MAX_PAYOUT_CENTS, help_text="In dollars.")
