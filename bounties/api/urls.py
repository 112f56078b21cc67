"""JSON API v1 (see bounties/api/views.py)."""

urlpatterns = []
