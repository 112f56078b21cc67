"""One JSON object per log line (production, or `LOG_FORMAT=json`), for a platform that indexes fields.

The standard library's `logging.Formatter` is enough: a log line is a handful of fields, and every
`extra` a caller passes (`sqlstate` from `money_operation`, `status_code` from Django) becomes a field of
its own, so "all deadlocks today" is a query, not a regular expression.
"""

import json
import logging
from datetime import UTC, datetime

from monitoring.requestid import current

# What every LogRecord has: anything else on a record came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """`{"timestamp", "level", "logger", "message", "request_id"[, "exception"], ...extra}` on one line."""

    def format(self, record):
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        # A value JSON cannot hold (Django's `request` extra, a model) is written as its str().
        return json.dumps(entry, default=str, ensure_ascii=False)
