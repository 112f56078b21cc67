"""Forms for creators: a proposal, a change of terms, a news post.

Like `bounties.forms`, they parse what was typed and nothing more: `bounties.services.proposals`
checks the rules (the model's own, and the site's limits on goals and dates) and its
`ProposalInvalid.fields` are put back on these fields by the views. The goal is typed in dollars
and becomes `goal_cents` here; dates are typed in the site's current time zone.
"""

import re
from html import unescape

from django import forms
from django.utils.html import strip_tags
from wagtail.images.fields import WagtailImageField

from bounties.errors import InvalidAmount
from bounties.forms import AmountField
from bounties.models import FailurePolicy
from bounties.money import check_amount, format_cents, parse_dollars
from bounties.services.proposals import GOAL_MAX_CENTS, PROPOSAL_FIELDS, TERMS_FIELDS

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def datetime_field(label, **kwargs):
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        error_messages={"invalid": "Enter a date and time, like 2026-12-31 18:00."},
        **kwargs,
    )


class GoalField(AmountField):
    """`AmountField` in a proposal's words: no money moves when a goal is refused, so none is mentioned."""

    def __init__(self, **kwargs):
        refused = InvalidAmount().message
        kwargs.setdefault("error_messages", {"required": refused, "null_characters_not_allowed": refused})
        super().__init__(**kwargs)

    def clean(self, value):
        text = forms.CharField.clean(self, value)
        try:
            return check_amount(parse_dollars(text), maximum=self.maximum)
        except InvalidAmount as error:
            raise forms.ValidationError(error.message, code=error.code) from None


class TermsFields(forms.Form):
    """The terms a pledge or claim is held to: the same fields in a proposal and in a change of terms."""

    escrow_until = datetime_field(
        "Escrow until", help_text="Money stays in escrow until this moment; on or after the pledge deadline."
    )
    failure_policy = forms.ChoiceField(
        label="If nobody wins by then",
        choices=FailurePolicy.choices,
        initial=FailurePolicy.REFUND,
        widget=forms.RadioSelect,
    )
    beneficiary_name = forms.CharField(
        label="Beneficiary (optional)",
        required=False,
        max_length=200,
        help_text="Who receives the money if nobody wins, when you choose a beneficiary.",
    )
    vote_window_hours = forms.IntegerField(
        label="Voting time on a claim (hours)",
        min_value=24,
        max_value=336,
        initial=72,
        help_text="Backers vote on each claim for this long: 24 hours to 14 days.",
    )
    quorum_percent = forms.IntegerField(
        label="Quorum (percent)",
        min_value=0,
        max_value=100,
        initial=10,
        help_text="The share of the escrowed money that must vote for a decision to count.",
    )


class ProposalForm(TermsFields):
    """A new fund as its creator describes it; editors review it before it goes live."""

    title = forms.CharField(label="Title", max_length=255)
    acceptance_criteria = forms.CharField(
        label="What counts as done",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The test a claim must pass, in plain words: backers vote against it.",
    )
    summary = forms.CharField(
        label="Summary",
        max_length=300,
        help_text="One or two sentences, shown in lists and link previews.",
    )
    description = forms.CharField(
        label="Description (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Why this matters and what the money pays for. Leave a blank line between paragraphs.",
    )
    goal = GoalField(label="Goal", maximum=GOAL_MAX_CENTS, help_text="In dollars, like 5000.")
    pledge_deadline = datetime_field("Pledge deadline", help_text="Pledges are taken until this moment.")

    hashtag = forms.CharField(
        label="Hashtag (optional)",
        required=False,
        max_length=50,
        help_text="Added to this fund's announcements, without the #.",
    )
    image = WagtailImageField(label="Image (optional)", required=False)

    # The service's fields in its order (the goal typed in dollars), then the picture.
    field_order = [("goal" if name == "goal_cents" else name) for name in PROPOSAL_FIELDS] + ["image"]

    GROUPS = (
        ("The fund", ("title", "summary", "acceptance_criteria", "description", "image", "hashtag")),
        (
            "Money and escrow",
            ("goal", "pledge_deadline", "escrow_until", "failure_policy", "beneficiary_name"),
        ),
        ("Voting on claims", ("vote_window_hours", "quorum_percent")),
    )

    def groups(self):
        """The bound fields under their headings, as the template shows them."""
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    def service_fields(self) -> dict:
        """`cleaned_data` as `proposal_submit` takes it (`PROPOSAL_FIELDS`)."""
        data = {**self.cleaned_data, "goal_cents": self.cleaned_data["goal"]}
        return {name: data[name] for name in PROPOSAL_FIELDS if name in data}

    @classmethod
    def initial_for(cls, page) -> dict:
        """The form's initial values from a (draft) fund page."""
        initial = {
            name: getattr(page, name) for name in PROPOSAL_FIELDS if name not in ("description", "goal_cents")
        }
        initial["goal"] = format_cents(page.goal_cents) if page.goal_cents else ""
        initial["description"] = body_text(page.body)
        return initial


def body_text(body) -> str:
    """The page body's paragraphs as the plain text they were typed from (`_paragraphs` in reverse)."""
    paragraphs = []
    for block in body or []:
        if block.block_type != "paragraph":
            continue
        html = str(block.value.source if hasattr(block.value, "source") else block.value)
        for part in re.split(r"</p>\s*", html):
            text = unescape(strip_tags(re.sub(r"<br\s*/?>", "\n", part))).strip()
            if text:
                paragraphs.append(text)
    return "\n\n".join(paragraphs)


class TermsForm(TermsFields):
    """New terms for pledges and claims made from now on."""

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in TERMS_FIELDS if name in self.cleaned_data}

    @classmethod
    def initial_for(cls, page) -> dict:
        return {name: getattr(page, name) for name in TERMS_FIELDS}


class NewsForm(forms.Form):
    """A news post under a live fund."""

    title = forms.CharField(label="Title", max_length=255)
    body = forms.CharField(
        label="News",
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Plain text; leave a blank line between paragraphs.",
    )
