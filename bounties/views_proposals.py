"""Creators' doors: start a fund, the dashboard, resubmit after changes, post news, change terms.

Thin views over `bounties.services.proposals` (writes) and `bounties.selectors.proposals` (reads).
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def fund_start_view(request):
    return HttpResponse("TODO", status=501)


@login_required
def my_funds_view(request):
    return HttpResponse("TODO", status=501)


@login_required
def proposal_edit_view(request, page_id):
    return HttpResponse("TODO", status=501)


@login_required
def news_create_view(request, fund_id):
    return HttpResponse("TODO", status=501)


@login_required
def terms_change_view(request, fund_id):
    return HttpResponse("TODO", status=501)
