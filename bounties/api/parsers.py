"""The API's JSON parser: DRF's, with a body nested too deeply refused like any other bad JSON."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's `JSONParser`; JSON nested deeper than Python's parser can follow is a 400 `invalid_json`.

    Python's `json` raises `RecursionError` (not `ValueError`, which DRF catches) for input
    such as a thousand `[`, so without this any JSON endpoint answered such a body with a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
