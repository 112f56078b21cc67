"""JSON API v1, mounted at /api/v1/ (see bounties/api/views.py)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from bounties.api import claims, money_out, proposals, views

app_name = "api"

urlpatterns = [
    path("accounts/", views.AccountCreateView.as_view(), name="account-create"),
    path("auth/token/", views.TokenCreateView.as_view(), name="token-create"),
    path("wallet/", views.WalletView.as_view(), name="wallet"),
    path("wallet/deposits/", views.DepositCreateView.as_view(), name="deposit-create"),
    path("wallet/cashouts/", money_out.CashoutCreateView.as_view(), name="cashout-create"),
    path("payouts/", money_out.PayoutCreateView.as_view(), name="payout-create"),
    path("funds/", proposals.FundListCreateView.as_view(), name="fund-list"),
    path("funds/<int:pk>/", views.FundDetailView.as_view(), name="fund-detail"),
    path("funds/<int:pk>/pledges/", views.FundPledgeCreateView.as_view(), name="fund-pledge-create"),
    path("funds/<int:pk>/claims/", claims.FundClaimsView.as_view(), name="fund-claims"),
    path("claims/<int:pk>/", claims.ClaimDetailView.as_view(), name="claim-detail"),
    path("claims/<int:pk>/vote/", claims.ClaimVoteView.as_view(), name="claim-vote"),
    path("me/pledges/", views.MyPledgeListView.as_view(), name="my-pledge-list"),
    path("me/proposals/", proposals.MyProposalListView.as_view(), name="my-proposal-list"),
    path("pledges/<int:pk>/", views.PledgeWithdrawView.as_view(), name="pledge-withdraw"),
    path("pledges/<int:pk>/settlement/", claims.PledgeSettlementView.as_view(), name="pledge-settlement"),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="schema",
    ),
    # Last: unknown API paths get a JSON 404 instead of the site's HTML page.
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
