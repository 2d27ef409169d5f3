from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from coordination import views as coordination_views

# The admin has no login form of its own: it sends people to allauth's sign-in, so the
# same rate limits and the same e-mail rules apply there too.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Hubless"

urlpatterns = [
    path("", coordination_views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("healthz", coordination_views.healthz, name="healthz"),
    path("", include("coordination.urls")),
    path("", include("observations.urls")),
    path("", include("observations.urls_coding")),
    path("", include("observations.urls_export")),
    path("", include("partners.urls")),
    path("", include("continuity.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
