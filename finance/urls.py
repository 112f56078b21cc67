"""The Finance admin's URLs, under /admin/finance/ (registered by `finance/wagtail_hooks.py`)."""

from django.urls import path

from finance import reports, views

app_name = "finance"

urlpatterns = [
    path("", views.StuckMoneyView.as_view(), name="stuck"),
    path("pledges/<int:pk>/complete/", views.PledgeCompleteView.as_view(), name="pledge_complete"),
    path("refunds/<int:pk>/retry/", views.RefundRetryView.as_view(), name="refund_retry"),
    path("payouts/<int:pk>/retry/", views.PayoutRetryView.as_view(), name="payout_retry"),
    path("contact/<slug:kind>/<int:pk>/", views.ContactView.as_view(), name="contact"),
    path("users/", views.FindUserView.as_view(), name="find_user"),
    path("users/<int:user_id>/", views.MoneyStoryView.as_view(), name="story"),
    path("funds/<int:page_id>/", views.FundMoneyView.as_view(), name="fund_money"),
    *reports.urlpatterns(),
]
