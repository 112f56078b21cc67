"""Backer-facing URLs: wallet, deposits, pledges, payment webhooks.

Included before Wagtail's catch-all, so `/funds/<id>/pledge/` is ours, not a page path.
"""

from django.urls import path

from bounties import views
from bounties.payments import webhooks

urlpatterns = [
    path("payments/stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("payments/local/checkout/<uuid:deposit_uuid>/", views.local_checkout, name="local_checkout"),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/add/", views.wallet_add, name="wallet_add"),
    path("funds/<int:fund_id>/pledge/", views.pledge_create_view, name="pledge_create"),
    path("pledges/", views.my_pledges, name="my_pledges"),
    path("pledges/<int:pk>/", views.pledge_detail, name="pledge_detail"),
    path("pledges/<int:pk>/withdraw/", views.pledge_withdraw_view, name="pledge_withdraw"),
]
