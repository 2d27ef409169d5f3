from django.urls import path

from . import export_views

urlpatterns = [
    path(
        "n/<slug:slug>/export/network.<str:fmt>",
        export_views.network_export_download,
        name="network_export",
    ),
]
