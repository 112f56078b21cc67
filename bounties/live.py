"""Live figures for open pages: `GET /funds/live.json?ids=1,2` → pledged, backers, progress.

Cached pages already carry figures at most `PAGE_CACHE_SECONDS` old (the `pagecache` app);
this endpoint keeps a page that stays open up to date (static/js/fundfill.js polls it
while the tab is visible). It reads the denormalised counters the pledge transaction
updates, one query for any number of funds, and the answer is shared by every reader for
`LIVE_SECONDS` (Django cache and Cache-Control), so a crowd of open tabs costs one
query a second.
"""

import json
import re

from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from bounties import selectors
from bounties.errors import error_body
from bounties.money import format_cents

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


def figures(fund_ids) -> dict:
    """The public funds' figures as the page's script reads them (restricted funds left out, as the API does)."""
    return {
        str(f.fund_id): {
            "status": f.status,
            "pledged_cents": f.pledged_cents,
            "pledged": format_cents(f.pledged_cents),
            "backer_count": f.backer_count,
            "backers": f"{f.backer_count} backer{'' if f.backer_count == 1 else 's'}",
            "progress_percent": f.progress_percent,
        }
        for f in selectors.fund_figures(fund_ids=fund_ids)
    }


@require_GET
def fund_figures(request):
    ids = _parse_ids(request.GET.get("ids", ""))
    if ids is None:
        message = f"Give 1 to {MAX_IDS} fund ids, comma-separated, e.g. ?ids=5,8."
        return JsonResponse(error_body("invalid_ids", message), status=400)
    key = "live-figures:" + ",".join(map(str, ids))
    body = cache.get(key)
    if body is None:
        body = json.dumps({"funds": figures(ids)}, separators=(",", ":"))
        cache.set(key, body, LIVE_SECONDS)
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = f"public, max-age={LIVE_SECONDS}"
    return response
