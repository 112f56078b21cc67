"""Live figures for open pages: `GET /funds/live.json?ids=1,2` → pledged, backers, progress.

Cached pages already carry figures at most `PAGE_CACHE_SECONDS` old (fundfill/pagecache.py);
this endpoint keeps a page that stays open up to date (static/js/fundfill.js polls it
while the tab is visible). It reads the denormalised counters the pledge transaction
updates, one query for any number of funds, and the answer is shared by every reader for
`LIVE_SECONDS` (Django cache and Cache-Control), so a crowd of open tabs costs one
query a second.
"""

import json
import re

from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.db.models.functions import Length, Substr
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from wagtail.models import PageViewRestriction

from bounties.models import Fund
from bounties.templatetags.fundfill_tags import money

LIVE_SECONDS = 1
MAX_IDS = 50
# ASCII digits only: `str.isdigit()` also passes "²", which `int()` then refuses.
_ID = re.compile(r"[0-9]{1,12}")


def _parse_ids(raw: str):
    ids = set()
    for part in raw.split(",")[: MAX_IDS + 1]:
        part = part.strip()
        if not _ID.fullmatch(part):
            return None
        ids.add(int(part))
    if not ids or len(ids) > MAX_IDS:
        return None
    return sorted(ids)


def _restricted():
    """A view restriction on the fund's page or an ancestor: Wagtail's `public()` rule, as the API uses.

    In the same query as the figures (Wagtail's `public()` reads the restrictions first), so a
    password- or login-only fund is left out exactly as the API leaves it out.
    """
    # The restricted page's tree path is a prefix of the fund page's (or the same path).
    return Exists(
        PageViewRestriction.objects.filter(page__path=Substr(OuterRef("page__path"), 1, Length("page__path")))
    )


def figures(fund_ids) -> dict:
    rows = Fund.objects.filter(~_restricted(), pk__in=fund_ids, page__live=True).values(
        "pk", "status", "pledged_cents", "backer_count", "page__goal_cents"
    )
    result = {}
    for row in rows:
        goal = row["page__goal_cents"]
        backers = row["backer_count"]
        result[str(row["pk"])] = {
            "status": row["status"],
            "pledged_cents": row["pledged_cents"],
            "pledged": money(row["pledged_cents"]),
            "backer_count": backers,
            "backers": f"{backers} backer{'' if backers == 1 else 's'}",
            "progress_percent": min(100, round(row["pledged_cents"] * 100 / goal)) if goal else 0,
        }
    return result


@require_GET
def fund_figures(request):
    ids = _parse_ids(request.GET.get("ids", ""))
    if ids is None:
        message = f"Give 1 to {MAX_IDS} fund ids, comma-separated, e.g. ?ids=5,8."
        return JsonResponse({"error": {"code": "invalid_ids", "message": message}}, status=400)
    key = "live-figures:" + ",".join(map(str, ids))
    body = cache.get(key)
    if body is None:
        body = json.dumps({"funds": figures(ids)}, separators=(",", ":"))
        cache.set(key, body, LIVE_SECONDS)
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = f"public, max-age={LIVE_SECONDS}"
    return response
