from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's accounts: the one rule for usernames, shared by the sign-up form and the API."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
