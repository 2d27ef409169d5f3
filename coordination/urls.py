from django.urls import path

from . import views

urlpatterns = [
    path("networks/new/", views.network_create, name="network_create"),
    path("welcome/<str:token>/", views.portal_welcome, name="portal_welcome"),
    path("n/<slug:slug>/", views.network_detail, name="network_detail"),
    path("n/<slug:slug>/edit/", views.network_edit, name="network_edit"),
    path("n/<slug:slug>/regions/", views.region_list, name="region_list"),
    path("n/<slug:slug>/regions/new/", views.region_edit, name="region_create"),
    path("n/<slug:slug>/regions/<int:pk>/", views.region_detail, name="region_detail"),
    path("n/<slug:slug>/regions/<int:pk>/edit/", views.region_edit, name="region_edit"),
    path("n/<slug:slug>/organizations/", views.organization_list, name="organization_list"),
    path("n/<slug:slug>/organizations/new/", views.organization_edit, name="organization_create"),
    path(
        "n/<slug:slug>/organizations/<int:pk>/",
        views.organization_detail,
        name="organization_detail",
    ),
    path(
        "n/<slug:slug>/organizations/<int:pk>/edit/",
        views.organization_edit,
        name="organization_edit",
    ),
    path("n/<slug:slug>/participants/", views.participant_list, name="participant_list"),
    path("n/<slug:slug>/participants/new/", views.participant_edit, name="participant_create"),
    path("n/<slug:slug>/participants/invite/", views.participant_invite, name="participant_invite"),
    path(
        "n/<slug:slug>/participants/<int:pk>/", views.participant_detail, name="participant_detail"
    ),
    path(
        "n/<slug:slug>/participants/<int:pk>/edit/",
        views.participant_edit,
        name="participant_edit",
    ),
    path("n/<slug:slug>/import/<str:kind>/", views.import_upload, name="import_upload"),
    path("n/<slug:slug>/imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("n/<slug:slug>/imports/<int:pk>/apply/", views.import_apply, name="import_apply"),
    path("n/<slug:slug>/portal/", views.portal_home, name="portal_home"),
    path("n/<slug:slug>/portal/profile/", views.portal_profile, name="portal_profile"),
]
