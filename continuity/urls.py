from django.urls import path

from . import views

C = "n/<slug:slug>/continuity"
P = "n/<slug:slug>/portal/continuity"

urlpatterns = [
    # the staff side: coordinator (manages) and researchers (read)
    path(f"{C}/", views.continuity_home, name="continuity_home"),
    path(
        f"{C}/organizations/<int:pk>/",
        views.continuity_organization,
        name="continuity_organization",
    ),
    path(
        f"{C}/organizations/<int:pk>/<str:kind>/new/",
        views.continuity_item_edit,
        name="continuity_item_create",
    ),
    path(
        f"{C}/organizations/<int:pk>/<str:kind>/<int:item>/edit/",
        views.continuity_item_edit,
        name="continuity_item_edit",
    ),
    path(
        f"{C}/organizations/<int:pk>/<str:kind>/<int:item>/remove/",
        views.continuity_item_remove,
        name="continuity_item_remove",
    ),
    path(f"{C}/agreements/", views.continuity_agreements, name="continuity_agreements"),
    path(
        f"{C}/agreements/new/",
        views.continuity_agreement_edit,
        name="continuity_agreement_create",
    ),
    path(f"{C}/agreements/<int:pk>/", views.continuity_agreement, name="continuity_agreement"),
    path(
        f"{C}/agreements/<int:pk>/edit/",
        views.continuity_agreement_edit,
        name="continuity_agreement_edit",
    ),
    path(f"{C}/drills/new/", views.continuity_drill_create, name="continuity_drill_create"),
    path(f"{C}/declare/", views.continuity_declare, name="continuity_declare"),
    path(f"{C}/incidents/<int:pk>/", views.continuity_incident, name="continuity_incident"),
    path(
        f"{C}/incidents/<int:pk>/do/<str:action>/",
        views.continuity_incident_action,
        name="continuity_incident_action",
    ),
    path(
        f"{C}/incidents/<int:pk>/requests/<int:request_pk>/",
        views.continuity_request_action,
        name="continuity_request_action",
    ),
    # the participants' portal
    path(f"{P}/", views.portal_continuity, name="portal_continuity"),
    path(
        f"{P}/<str:kind>/new/",
        views.portal_continuity_item_edit,
        name="portal_continuity_item_create",
    ),
    path(
        f"{P}/<str:kind>/<int:item>/edit/",
        views.portal_continuity_item_edit,
        name="portal_continuity_item_edit",
    ),
    path(
        f"{P}/<str:kind>/<int:item>/remove/",
        views.portal_continuity_item_remove,
        name="portal_continuity_item_remove",
    ),
    path(f"{P}/declare/", views.portal_continuity_declare, name="portal_continuity_declare"),
    path(
        f"{P}/incidents/<int:pk>/",
        views.portal_continuity_incident,
        name="portal_continuity_incident",
    ),
    path(
        f"{P}/incidents/<int:pk>/requests/<int:request_pk>/",
        views.portal_continuity_request_action,
        name="portal_continuity_request_action",
    ),
    # the personal reply link of a notice (no sign-in)
    path("help/<int:reply_id>/<str:token>/", views.continuity_reply, name="continuity_reply"),
]
