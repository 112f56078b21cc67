"""The one rule for usernames, for every door that creates an account (web form, API).

A name is compared in the form it is stored: NFKC-normalised, as Django stores it
(`AbstractBaseUser.normalize_username`), so full-width "Ａｄｍｉｎ" is "Admin". Two names
that differ only in case are the same name: the check here gives the friendly error, and a
unique index on `LOWER(username)` (migration 0001) refuses the rest (a race, a shell, an
import). Django's username validator already refuses spaces and invisible characters.
"""

import unicodedata

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

TAKEN = "A user with that username already exists."


def normalise_username(value: str) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def username_taken(username: str) -> bool:
    return get_user_model().objects.filter(username__iexact=normalise_username(username)).exists()


def clean_new_username(value: str) -> str:
    """The name to store for a new account, or a ValidationError that says why not."""
    username = normalise_username(value)
    username_field = get_user_model()._meta.get_field("username")
    for validator in username_field.validators:
        validator(username)
    if username_taken(username):
        raise ValidationError(TAKEN, code="unique")
    return username
