"""Site search over live funds, their news and the site's own pages (PostgreSQL full text in production)."""

import unicodedata

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.template.response import TemplateResponse
from wagtail.models import Page

from bounties.models import FundPage, FundUpdatePage
from content.models import ContentPage
from pagecache import memo
from pagecache.serving import public_pages

RESULTS_PER_PAGE = 10
MAX_QUERY_LENGTH = 200


def typed_query(value: str) -> str:
    """What the reader typed, without control characters: none means anything in a search, and
    PostgreSQL refuses a NUL byte in any text (a 500 before this)."""
    text = "".join(ch for ch in value if unicodedata.category(ch) != "Cc")
    return text.strip()[:MAX_QUERY_LENGTH]


def search(request):
    memo.stamp(request)  # the notice and the restricted subtrees, remembered (pagecache/memo.py)
    query = typed_query(request.GET.get("q", ""))
    if query:
        pages = public_pages(Page.objects.live(), request)
        results = pages.type(FundPage, FundUpdatePage, ContentPage).specific().search(query)
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
