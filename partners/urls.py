from django.urls import path

from . import views

urlpatterns = [
    path("n/<slug:slug>/partners/", views.partner_home, name="partner_home"),
    path(
        "n/<slug:slug>/partners/datasets/new/", views.dataset_upload, name="partner_dataset_upload"
    ),
    path(
        "n/<slug:slug>/partners/datasets/<int:pk>/",
        views.dataset_detail,
        name="partner_dataset_detail",
    ),
    path(
        "n/<slug:slug>/partners/datasets/<int:pk>/resolve/",
        views.dataset_resolve,
        name="partner_dataset_resolve",
    ),
    path(
        "n/<slug:slug>/partners/datasets/<int:pk>/delete/",
        views.dataset_delete,
        name="partner_dataset_delete",
    ),
    path(
        "n/<slug:slug>/partners/datasets/<int:pk>/download.csv",
        views.dataset_download,
        name="partner_dataset_download",
    ),
    path(
        "n/<slug:slug>/partners/datasets/<int:pk>/search/",
        views.search_create,
        name="partner_search_create",
    ),
    path(
        "n/<slug:slug>/partners/searches/<int:pk>/",
        views.search_detail,
        name="partner_search_detail",
    ),
    path(
        "n/<slug:slug>/partners/searches/<int:pk>/export.<str:fmt>",
        views.search_export,
        name="partner_search_export",
    ),
    path(
        "n/<slug:slug>/partners/searches/<int:pk>/again/",
        views.search_rerun,
        name="partner_search_rerun",
    ),
    path(
        "n/<slug:slug>/partners/searches/<int:pk>/region/",
        views.search_make_region,
        name="partner_make_region",
    ),
]
