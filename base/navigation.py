"""Where a form may send the user afterwards: the one check on `next` for every door."""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request) -> str:
    """`next` (posted or in the query) when it is a path on this site, else ""."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return ""
