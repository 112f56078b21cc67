"""Live figures for open pages: `GET /funds/live.json?ids=1,2` → pledged, backers, progress.

Cached pages already carry figures at most `PAGE_CACHE_SECONDS` old (fundfill/pagecache.py);
this endpoint keeps a page that stays open up to date (static/js/fundfill.js polls it
while the tab is visible). It reads the denormalised counters the pledge transaction
updates, one query for any number of funds, and the answer is shared by every reader for
`LIVE_SECONDS` (Django cache and Cache-Control), so a crowd of open tabs costs one
query a second.
"""

import json

from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from bounties.models import Fund
from bounties.templatetags.fundfill_tags import money

LIVE_SECONDS = 1
MAX_IDS = 50


def _parse_ids(raw: str):
    ids = set()
    for part in raw.split(",")[: MAX_IDS + 1]:
        part = part.strip()
        if not part.isdigit() or len(part) > 12:
            return None
        ids.add(int(part))
    if not ids or len(ids) > MAX_IDS:
        return None
    return sorted(ids)


def figures(fund_ids) -> dict:
    rows = Fund.objects.filter(pk__in=fund_ids, page__live=True).values(
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
