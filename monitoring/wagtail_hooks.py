"""Registers the request id with the apps that report it without importing this app.

`bounties.api.errors` puts the result of each `request_id` hook in every JSON error body; the
dependency points from monitoring to bounties, through Wagtail's hook registry.
"""

from wagtail import hooks

from monitoring import requestid


@hooks.register("request_id")
def current_request_id():
    return requestid.current()
