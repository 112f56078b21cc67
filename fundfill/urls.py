from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from bounties import live
from fundfill import media, views
from pagecache import serving
from search import views as search_views

# JSON in the API's error shape under /api/, the site's pages elsewhere (fundfill/views.py).
handler400 = "fundfill.views.bad_request"
handler403 = "fundfill.views.permission_denied"
handler404 = "fundfill.views.page_not_found"
handler500 = "fundfill.views.server_error"

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    # Images from MEDIA_ROOT when no bucket holds them, in production too; never documents (fundfill/media.py).
    path(settings.MEDIA_URL.lstrip("/") + "<path:path>", media.serve, name="media"),
    path("search/", search_views.search, name="search"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("bounties.api.urls")),
    path("funds/live.json", live.fund_figures, name="fund_live"),
    path("", include("bounties.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

urlpatterns += [
    # Wagtail's own URLs, with its page serving (last: it catches everything else) in the
    # version that remembers routes per publish (pagecache/serving.py).
    *[pattern for pattern in wagtail_urls.urlpatterns if pattern.name != "wagtail_serve"],
    re_path(wagtail_urls.serve_pattern, serving.serve, name="wagtail_serve"),
]
