"""Site search over live funds and their news (PostgreSQL full text in production)."""

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.template.response import TemplateResponse
from wagtail.models import Page

from bounties.models import FundPage, FundUpdatePage
from fundfill.serving import public_pages, remember_site

RESULTS_PER_PAGE = 10


def search(request):
    remember_site(request)  # and with it the notice and the restricted subtrees (fundfill/memo.py)
    query = request.GET.get("q", "").strip()[:200]
    if query:
        pages = public_pages(Page.objects.live(), request)
        results = pages.type(FundPage, FundUpdatePage).specific().search(query)
    else:
        results = Page.objects.none()
    paginator = Paginator(results, RESULTS_PER_PAGE)
    try:
        results_page = paginator.page(request.GET.get("page", 1))
    except PageNotAnInteger:
        results_page = paginator.page(1)
    except EmptyPage:
        results_page = paginator.page(max(paginator.num_pages, 1))
    return TemplateResponse(
        request, "search/search.html", {"search_query": query, "search_results": results_page}
    )
