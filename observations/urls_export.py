from django.urls import path

from . import export_views

urlpatterns = [
    path(
        "n/<slug:slug>/export/network.<str:fmt>",
        export_views.network_export_download,
        name="network_export",
    ),
    path(
        "n/<slug:slug>/observations/export/",
        export_views.observation_export,
        name="observation_export",
    ),
    path(
        "n/<slug:slug>/observations/export/jobs/<int:pk>/download",
        export_views.observation_export_job_download,
        name="observation_export_job_download",
    ),
]
