"""`/healthz`: the load balancer's probe and the operator's first look (docs/operating.md)."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring import selectors


@never_cache  # no cache on the way may answer for this node; the page cache stores only page views
@require_safe
def healthz(request):
    """JSON report; 503 only when this node cannot serve (database or cache down), else 200."""
    report = selectors.health()
    return JsonResponse(report, status=503 if report["status"] == "down" else 200)
