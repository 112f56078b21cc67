"""Backer-facing URLs: wallet, deposits, pledges, claims and votes, cash-outs, payouts, payment webhooks.

Included before Wagtail's catch-all, so `/funds/<id>/pledge/` is ours, not a page path.
"""

from django.urls import path

from bounties import views, views_claims, views_dashboard, views_follow, views_proposals
from bounties.announcement_feed import fund_announcements_feed
from bounties.payments import webhooks

urlpatterns = [
    path("payments/stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("payments/local/checkout/<uuid:deposit_uuid>/", views.local_checkout, name="local_checkout"),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/add/", views.wallet_add, name="wallet_add"),
    path("wallet/deposits/<uuid:deposit_uuid>/", views.deposit_detail, name="deposit_detail"),
    path("funds/<int:fund_id>/pledge/", views.pledge_create_view, name="pledge_create"),
    path("dashboard/", views_dashboard.dashboard_view, name="dashboard"),
    path("pledges/", views.my_pledges, name="my_pledges"),
    path("pledges/<int:pk>/", views.pledge_detail, name="pledge_detail"),
    path("pledges/<int:pk>/withdraw/", views.pledge_withdraw_view, name="pledge_withdraw"),
    # The claim cycle (bounties/views_claims.py).
    path("funds/<int:fund_id>/claim/", views_claims.claim_create_view, name="claim_create"),
    path("claims/<int:claim_id>/", views_claims.claim_detail, name="claim_detail"),
    path("claims/<int:claim_id>/vote/", views_claims.claim_vote_view, name="claim_vote"),
    path("claims/<int:claim_id>/withdraw/", views_claims.claim_withdraw_view, name="claim_withdraw"),
    path("pledges/<int:pk>/settlement/", views_claims.pledge_settlement_view, name="pledge_settlement"),
    path("wallet/cashout/", views_claims.cashout_view, name="cashout"),
    path("wallet/payouts/", views_claims.payouts_view, name="payouts"),
    path("wallet/payouts/connect/", views_claims.payout_connect_view, name="payout_connect"),
    # Creators: start a fund, their dashboard, resubmitting, news and terms (bounties/views_proposals.py).
    path("start-a-fund/", views_proposals.fund_start_view, name="fund_start"),
    path("my/funds/", views_proposals.my_funds_view, name="my_funds"),
    path("my/funds/<int:page_id>/edit/", views_proposals.proposal_edit_view, name="proposal_edit"),
    path("my/funds/<int:fund_id>/news/", views_proposals.news_create_view, name="fund_news_create"),
    path("my/funds/<int:fund_id>/terms/", views_proposals.terms_change_view, name="fund_terms_change"),
    # Following by email, unsubscribing, preferences, and the announcements feed (bounties/views_follow.py).
    path("funds/<int:fund_id>/follow/", views_follow.follow_view, name="fund_follow"),
    path("funds/<str:slug>/announcements.atom", fund_announcements_feed, name="fund_announcements"),
    path("follow/confirm/<str:token>/", views_follow.follow_confirm_view, name="follow_confirm"),
    path("email/unsubscribe/<str:token>/", views_follow.unsubscribe_view, name="email_unsubscribe"),
    path("email/preferences/", views_follow.email_preferences_view, name="email_preferences"),
]
