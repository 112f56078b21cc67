"""Admin hooks that keep editors from featuring a fund the homepage cannot show.

The homepage never breaks when its featured fund goes away (it falls back to the site's
own metadata), but the editor who unpublishes or deletes that fund is told at once, and
the featured-fund chooser offers live funds only. The HomePage edit form also says when
its featured fund is not live (home/templates/home/panels/featured_fund_status.html).
"""

from django.urls import reverse
from django.utils.html import format_html
from wagtail import hooks
from wagtail.admin import messages

from bounties.models import FundPage
from home.models import HomePage

FUND_PAGE_TYPE = f"{FundPage._meta.app_label}.{FundPage._meta.model_name}"


def _homes_featuring(page):
    return list(HomePage.objects.filter(featured_fund_id=page.pk)) if page.pk else []


def _warn(request, page, homes):
    for home in homes:
        messages.warning(
            request,
            format_html(
                "“{}” was the featured fund on “{}”: the homepage now shows the site's own title, "
                "description and image. Choose another fund to feature.",
                page.title,
                home.title,
            ),
            buttons=[messages.button(reverse("wagtailadmin_pages:edit", args=(home.pk,)), "Edit homepage")],
        )


@hooks.register("after_unpublish_page")
def warn_when_featured_fund_unpublished(request, page):
    _warn(request, page, _homes_featuring(page))


@hooks.register("before_delete_page")
def note_homes_featuring_deleted_page(request, page):
    # Deleting clears the homepage's foreign key (SET_NULL), so look before it goes.
    if request.method == "POST":
        request.fundfill_featured_on = _homes_featuring(page)


@hooks.register("after_delete_page")
def warn_when_featured_fund_deleted(request, page):
    _warn(request, page, getattr(request, "fundfill_featured_on", []))


@hooks.register("construct_page_chooser_queryset")
def only_live_funds_in_fund_choosers(pages, request):
    """A chooser asking for fund pages (the featured-fund field) lists live funds only."""
    if request.GET.get("page_type", "").lower() == FUND_PAGE_TYPE:
        pages = pages.live()
    return pages
