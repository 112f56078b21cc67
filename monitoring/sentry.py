"""Sentry, when `SENTRY_DSN` is set (fundfill/settings/production.py calls `init`).

No personal data leaves: `send_default_pii=False` keeps out cookies, the user's address and their id.
Each event carries the request id (or the worker task's) as the `request_id` tag, the reference the
user sees on the error page and that every log line of the request carries.
"""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration

from monitoring import requestid


def init(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float = 0.0) -> None:
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        environment=environment,
        release=release,
        traces_sample_rate=traces_sample_rate,
        before_send=tag_request_id,
    )


def tag_request_id(event, hint):
    event.setdefault("tags", {})["request_id"] = requestid.current()
    return event
