"""People who hear about a fund by email: followers (double opt-in) and backers' email preferences.

Backers hear about the funds they back without following them; `EmailPreference` lets them
switch off each kind of message except receipts of their own money. Followers confirm their
address before anything is sent to it (a signed link), and every message they get carries
a one-click unsubscribe link (a signed token: no login, no stored secret).
"""

from django.conf import settings
from django.db import models


class Follower(models.Model):
    fund = models.ForeignKey("bounties.Fund", on_delete=models.CASCADE, related_name="followers")
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="follows"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fund", "email"], name="one_follow_per_address")]

    def __str__(self):
        return f"{self.email} follows fund {self.fund_id}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class EmailPreference(models.Model):
    """What a signed-in user wants by email beyond receipts (which always go)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preference"
    )
    news = models.BooleanField("fund news", default=True)
    claims = models.BooleanField("claims to vote on", default=True)
    outcomes = models.BooleanField("decisions and settlements", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Email preferences of user {self.user_id}"


class WebhookEndpoint(models.Model):
    """An integrator's endpoint: every announcement (of one fund, or site-wide) as a signed JSON POST.

    Signed by the Standard Webhooks scheme with the endpoint's own secret; a 410 Gone
    answer disables it.
    """

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, help_text="whsec_… (Standard Webhooks); generated when blank.")
    fund = models.ForeignKey(
        "bounties.Fund",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="Only this fund's events; blank for every fund's.",
    )
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.url
