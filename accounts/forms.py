"""The sign-up form: Django's, with the site's username rule and one account per email."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.usernames import clean_new_username


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="For receipts and password resets.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")
        # Django's own ("Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.") reads
        # like a validator; this says the same to a person.
        help_texts = {"username": "Letters, digits and @ . + - _; up to 150 characters."}

    def clean_username(self):
        return clean_new_username(self.cleaned_data["username"])

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Try logging in.")
        return email
