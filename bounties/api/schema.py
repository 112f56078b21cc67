"""OpenAPI schema hooks (drf-spectacular)."""

API_PREFIX = "/api/v1/"


def api_v1_only(endpoints, **kwargs):
    """Describe the public API only: Wagtail's admin API shares the URLconf but is not ours to publish."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]
