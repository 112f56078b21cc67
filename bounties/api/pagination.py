"""Paging API lists with `?limit=` and `?offset=`, both checked before they reach SQL.

DRF's `LimitOffsetPagination` passes any `limit` to the query (PostgreSQL's LIMIT is a
bigint, so `?limit=9223372036854775808` was a 500) and quietly reads a bad `offset`
as 0. Here a `limit` above `MAX_LIMIT` is lowered to it (the `next` link carries on
from there, as DRF's `max_limit` does), and a `limit` or `offset` that is not a plain
whole number in range is a 400 `invalid_pagination`, so a client's typo is not
mistaken for the first page.
"""

import re

from rest_framework.pagination import LimitOffsetPagination

from bounties.api.errors import InvalidPagination

MAX_LIMIT = 100
# No list comes near it; an offset past the end is simply an empty page.
MAX_OFFSET = 2**31 - 1

# ASCII digits only: `int()` also takes "١" (Arabic-Indic), " 5" and "1_0", and `isdigit()` passes "²".
_WHOLE_NUMBER = re.compile(r"[0-9]+")
# Longer than this is past any bound here (and `int()` refuses strings over 4,300 digits).
_MAX_DIGITS = 18


class LimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset paging with a capped `limit` and a checked `offset`."""

    max_limit = MAX_LIMIT

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        limit = _whole_number(raw, self.limit_query_param)
        if limit < 1:
            raise InvalidPagination(f"limit must be a whole number from 1 (at most {MAX_LIMIT} are sent).")
        return min(limit, self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        offset = _whole_number(raw, self.offset_query_param)
        if offset > MAX_OFFSET:
            raise InvalidPagination(f"offset must be a whole number from 0 to {MAX_OFFSET}.")
        return offset

    def get_schema_operation_parameters(self, view):
        limit, offset = super().get_schema_operation_parameters(view)
        limit["description"] = (
            f"Results per page, {self.default_limit} unless given; more than {MAX_LIMIT} sends {MAX_LIMIT}."
        )
        limit["schema"] = {"type": "integer", "minimum": 1}
        offset["description"] = "How many results to skip (past the end: an empty page)."
        offset["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
        return [limit, offset]


def _whole_number(raw: str, name: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise InvalidPagination(f"{name} must be a whole number written with the digits 0-9.")
    return int(raw) if len(raw) <= _MAX_DIGITS else 10**_MAX_DIGITS
