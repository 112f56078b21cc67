"""A local fake of the Algolia Hacker News search API (https://hn.algolia.com/api), for the mentions
poll (`HN_SEARCH_API_BASE`).

Wire format as Algolia answers (late 2026), `GET /api/v1/search_by_date`:

- `query` (full-text, loose: any hit whose title, URL, story URL or comment text holds one of the
  query's words — which is why the client checks the domain itself), `tags` (`story`, `comment`, or
  `(story,comment)` for either), `numericFilters` (`created_at_i>N`, `>=`, `<`, `<=`, comma-separated),
  `hitsPerPage` (default 20, at most 1000), `page` (from 0);
- answers `{"hits": [...], "nbHits", "page", "nbPages", "hitsPerPage", "query", "params",
  "processingTimeMS"}`, newest first; a story hit has `objectID`, `created_at`, `created_at_i`,
  `author`, `title`, `url`, `points`, `num_comments`, `story_id`, `_tags` (`["story", "author_x",
  "story_<id>"]`); a comment hit has `comment_text` (HTML), `story_id`, `story_title`, `story_url`,
  `parent_id`, `_tags` (`["comment", "author_x", "story_<id>"]`) and null `title`/`url`;
- errors as `{"message": ..., "status": ...}`.

Controls (tests/fakes/_http.py): `fail_next(503)`, `rate_limit_next(reset_at)` (Algolia's 429 carries
no reset header); `add_story`, `add_comment`.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from tests.fakes._http import FakeHTTPServer, RecordedRequest

_FILTER = re.compile(r"^(created_at_i)(>=|<=|>|<|=)(\d+)$")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeHN(FakeHTTPServer):
    """Algolia's HN search over the stories and comments added to it, on 127.0.0.1:<free port>."""

    thread_name = "fake-hn"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.items: list[dict] = []
        self._ids = itertools.count(41000001)

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v1"

    # --- controls -------------------------------------------------------------------------------

    def add_story(self, title: str, *, url: str = "", author: str = "pg", created_at: datetime) -> dict:
        with self._lock:
            item_id = str(next(self._ids))
            hit = {
                "objectID": item_id,
                "created_at": _iso(created_at),
                "created_at_i": int(created_at.timestamp()),
                "author": author,
                "title": title,
                "url": url or None,
                "story_text": None,
                "comment_text": None,
                "points": 1,
                "num_comments": 0,
                "story_id": int(item_id),
                "story_title": None,
                "story_url": None,
                "parent_id": None,
                "_tags": ["story", f"author_{author}", f"story_{item_id}"],
            }
            self.items.append(hit)
            return hit

    def add_comment(self, html_text: str, *, story: dict, author: str = "dang", created_at: datetime) -> dict:
        with self._lock:
            item_id = str(next(self._ids))
            hit = {
                "objectID": item_id,
                "created_at": _iso(created_at),
                "created_at_i": int(created_at.timestamp()),
                "author": author,
                "title": None,
                "url": None,
                "story_text": None,
                "comment_text": html_text,
                "points": None,
                "num_comments": None,
                "story_id": story["story_id"],
                "story_title": story["title"],
                "story_url": story["url"],
                "parent_id": story["story_id"],
                "_tags": ["comment", f"author_{author}", f"story_{story['story_id']}"],
            }
            self.items.append(hit)
            return hit

    # --- wire format ----------------------------------------------------------------------------

    def rate_limit_headers(self, reset_at: datetime) -> dict[str, str]:
        return {}

    def error_body(self, status: int, message: str) -> dict:
        return {"message": message, "status": status}

    def route(self, request: RecordedRequest):
        if request.method != "GET" or request.path != "/api/v1/search_by_date":
            return 404, self.error_body(404, "Not Found"), {}
        try:
            per_page = min(int(request.arg("hitsPerPage") or 20), 1000)
            page = int(request.arg("page") or 0)
            filters = [_parse_filter(f) for f in (request.arg("numericFilters") or "").split(",") if f]
        except ValueError as error:
            return 400, self.error_body(400, f"invalid parameters: {error}"), {}
        tags = (request.arg("tags") or "").strip("()").split(",")
        words = [w.lower() for w in re.findall(r"\w+", request.arg("query") or "")]
        hits = [
            hit
            for hit in sorted(self.items, key=lambda h: h["created_at_i"], reverse=True)
            if (not tags[0] or any(tag in hit["_tags"] for tag in tags))
            and all(_compare(hit, f) for f in filters)
            and (not words or any(w in _searchable(hit) for w in words))
        ]
        pages = max(1, -(-len(hits) // per_page))
        body = {
            "hits": hits[page * per_page : (page + 1) * per_page],
            "nbHits": len(hits),
            "page": page,
            "nbPages": pages,
            "hitsPerPage": per_page,
            "exhaustiveNbHits": True,
            "query": request.arg("query") or "",
            "params": "&".join(f"{k}={v[0]}" for k, v in request.query.items()),
            "processingTimeMS": 1,
        }
        return 200, body, {}


def _parse_filter(text: str):
    match = _FILTER.match(text.strip())
    if not match:
        raise ValueError(f"unsupported numeric filter {text!r}")
    return match.group(1), match.group(2), int(match.group(3))


def _compare(hit: dict, flt) -> bool:
    name, op, value = flt
    have = hit[name]
    return {
        ">": have > value,
        ">=": have >= value,
        "<": have < value,
        "<=": have <= value,
        "=": have == value,
    }[op]


def _searchable(hit: dict) -> str:
    return " ".join(str(hit.get(k) or "") for k in ("title", "url", "story_url", "comment_text")).lower()
