"""Backer-facing URLs: wallet, deposits, pledges, payment webhooks."""

from django.urls import path

from bounties.payments import webhooks

urlpatterns = [
    path("payments/stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
]
