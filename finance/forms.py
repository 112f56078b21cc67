"""The support actions' forms: each asks why (kept in the audit log with the member's name)."""

from django import forms

from finance.services import CONTACT_TEMPLATES, WHY_MAX


class WhyForm(forms.Form):
    why = forms.CharField(
        label="Why",
        max_length=WHY_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the audit log with your name, for whoever looks at this money next.",
    )

    def clean_why(self):
        why = " ".join(self.cleaned_data["why"].split())
        if not why:
            raise forms.ValidationError("Say why you are doing this.")
        return why


class ContactForm(WhyForm):
    template = forms.ChoiceField(
        label="Email",
        choices=[(name, template.label) for name, template in CONTACT_TEMPLATES.items()],
        help_text="The email the user gets; its words are shown above.",
    )
    note = forms.CharField(
        label="Add a line (optional)",
        required=False,
        max_length=WHY_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Added at the end of the email, in your words.",
    )

    field_order = ["template", "note", "why"]

    def __init__(self, *args, templates=None, **kwargs):
        super().__init__(*args, **kwargs)
        if templates is not None:  # only the emails about this kind of row
            self.fields["template"].choices = [(name, template.label) for name, template in templates.items()]


class UserSearchForm(forms.Form):
    q = forms.CharField(label="Username or email", max_length=150, required=False)
