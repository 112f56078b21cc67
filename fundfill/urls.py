from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from bounties import live
from fundfill import media, views
from monitoring import views as monitoring_views
from search import views as search_views

# JSON in the API's error shape under /api/, the site's pages elsewhere (fundfill/views.py).
handler400 = "fundfill.views.bad_request"
handler403 = "fundfill.views.permission_denied"
handler404 = "fundfill.views.page_not_found"
handler500 = "fundfill.views.server_error"

urlpatterns = [
    path("django-admin/", admin.site.urls),
    # The load balancer's probe: JSON, never cached, no session (monitoring/selectors.py).
    path("healthz", monitoring_views.healthz, name="healthz"),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    # Images from MEDIA_ROOT when no bucket holds them, in production too; never documents (fundfill/media.py).
    path(settings.MEDIA_URL.lstrip("/") + "<path:path>", media.serve, name="media"),
    path("search/", search_views.search, name="search"),
    path("accounts/signup/", views.signup, name="signup"),
    # Django's log-in, saying which pledge it leads back to (fundfill/views.py); the rest of auth as is.
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("bounties.api.urls")),
    path("funds/live.json", live.fund_figures, name="fund_live"),
    path("feedback/", include("feedback.urls")),
    # Browsers ask for it without reading <head>: the SVG icon base.html names.
    path("favicon.ico", RedirectView.as_view(url=settings.STATIC_URL + "img/favicon.svg")),
    path("", include("bounties.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

# Wagtail's page serving, last: it catches everything else. The site root remembers its routes
# per publish through Wagtail's own `route` (pagecache/serving.py).
urlpatterns += [path("", include(wagtail_urls))]
