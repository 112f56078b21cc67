"""The backer's dashboard: their money, pledges, votes due, claims and follows on one page.

Read-only: the view asks `selectors.dashboard` for everything and each section links to the
page that acts on it (add money, the pledge receipt, the claim's vote form, email preferences).
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from bounties import selectors


@login_required
def dashboard_view(request):
    """`/dashboard/`: where a signed-in user lands after logging in (`LOGIN_REDIRECT_URL`)."""
    return render(request, "bounties/dashboard.html", {"dashboard": selectors.dashboard(user=request.user)})
