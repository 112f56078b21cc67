"""django-axes hooks: who a login attempt comes from, and what a locked-out client is told."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from bounties.api.errors import error_body


def client_ip(request):
    """REMOTE_ADDR, or behind `TRUSTED_PROXY_HOPS` proxies, the address the outermost one saw.

    Behind a load balancer every request comes from the balancer: without this, a lockout
    for one username "from one address" would be a lockout from everywhere.
    """
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")


def locked_out(request, response=None, credentials=None):
    """After too many wrong passwords: the API's error shape under /api/, else a page (429 both)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        message = (
            f"Too many wrong passwords: logging in to this account from here is locked for {minutes} minutes."
        )
        locked = JsonResponse(error_body("locked_out", message), status=429)
    else:
        locked = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    locked["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return locked
