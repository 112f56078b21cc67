"""The feedback form: a message, an optional email, the page it was sent from, and a honeypot."""

from django import forms
from django.utils.http import url_has_allowed_host_and_scheme

from feedback.services import MAX_MESSAGE


def local_path(value: str) -> str:
    """`value` when it is a path on this site ("/funds/tor/"), else "" (never another site's URL,
    nor control characters)."""
    value = (value or "").strip()[:500]
    if (
        value.startswith("/")
        and value.isprintable()
        and url_has_allowed_host_and_scheme(value, allowed_hosts=set())
    ):
        return value
    return ""


class LocalPathField(forms.CharField):
    """Where the form was opened from: a path on this site, or nothing. Never an error: a reader
    cannot see or fix it, and their message matters more."""

    widget = forms.HiddenInput

    def clean(self, value):
        return local_path(value if isinstance(value, str) else "")


class FeedbackForm(forms.Form):
    message = forms.CharField(
        label="Your message",
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What worked, what did not, what you expected. We read every one.",
        error_messages={"required": "Write a message first."},
    )
    email = forms.EmailField(
        label="Your email (optional)",
        max_length=254,
        required=False,
        help_text="Only if you would like an answer.",
    )
    page_url = LocalPathField(required=False)
    # A honeypot: hidden from people (the template wraps it in `hidden`), filled in by form-filling bots.
    website = forms.CharField(
        label="Leave this empty",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_bot(self) -> bool:
        return bool(self.data.get("website", "").strip())
