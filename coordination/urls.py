from django.urls import path

from . import views

urlpatterns = [
    path("networks/new/", views.network_create, name="network_create"),
    path("welcome/<str:token>/", views.portal_welcome, name="portal_welcome"),
    path("n/<slug:slug>/", views.network_detail, name="network_detail"),
    path("n/<slug:slug>/edit/", views.network_edit, name="network_edit"),
    path("n/<slug:slug>/staff/", views.staff_list, name="staff_list"),
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
    # events: the coordinator's pages
    path("n/<slug:slug>/events/", views.event_list, name="event_list"),
    path("n/<slug:slug>/events/new/", views.event_create, name="event_create"),
    path("n/<slug:slug>/events/<int:pk>/", views.event_detail, name="event_detail"),
    path("n/<slug:slug>/events/<int:pk>/edit/", views.event_edit, name="event_edit"),
    path("n/<slug:slug>/events/<int:pk>/invite/", views.event_audience, name="event_audience"),
    path(
        "n/<slug:slug>/events/<int:pk>/do/<str:action>/",
        views.event_action,
        name="event_action",
    ),
    path(
        "n/<slug:slug>/events/<int:pk>/export.<str:fmt>",
        views.event_export,
        name="event_export",
    ),
    path(
        "n/<slug:slug>/events/<int:pk>/sign-in-sheet/",
        views.event_signin_sheet,
        name="event_signin_sheet",
    ),
    path("n/<slug:slug>/events/<int:pk>/check-in/", views.event_checkin, name="event_checkin"),
    # bulletins: the coordinator's pages
    path("n/<slug:slug>/bulletins/", views.bulletin_list, name="bulletin_list"),
    path("n/<slug:slug>/bulletins/new/", views.bulletin_create, name="bulletin_create"),
    path("n/<slug:slug>/bulletins/preview/", views.bulletin_preview, name="bulletin_preview"),
    path("n/<slug:slug>/bulletins/<int:pk>/", views.bulletin_detail, name="bulletin_detail"),
    path("n/<slug:slug>/bulletins/<int:pk>/edit/", views.bulletin_edit, name="bulletin_edit"),
    path(
        "n/<slug:slug>/bulletins/<int:pk>/audience/",
        views.bulletin_audience,
        name="bulletin_audience",
    ),
    path(
        "n/<slug:slug>/bulletins/<int:pk>/do/<str:action>/",
        views.bulletin_action,
        name="bulletin_action",
    ),
    path(
        "n/<slug:slug>/bulletins/<int:pk>/attachments/<int:attachment>/",
        views.bulletin_attachment,
        name="bulletin_attachment",
    ),
    # bulletins: the participants' pages, unsubscribe (RFC 8058), the open pixel
    path("n/<slug:slug>/portal/bulletins/", views.portal_bulletins, name="portal_bulletins"),
    path("n/<slug:slug>/portal/bulletins/<int:pk>/", views.portal_bulletin, name="portal_bulletin"),
    path("unsubscribe/<str:token>/", views.bulletin_unsubscribe, name="bulletin_unsubscribe"),
    path("b/open/<str:token>.gif", views.bulletin_open, name="bulletin_open"),
    # events: the participants' pages, answer links, calendar feed
    path("n/<slug:slug>/portal/events/", views.portal_events, name="portal_events"),
    path(
        "n/<slug:slug>/portal/events/propose/",
        views.portal_event_propose,
        name="portal_event_propose",
    ),
    path("n/<slug:slug>/portal/events/<int:pk>/", views.portal_event, name="portal_event"),
    path(
        "n/<slug:slug>/portal/events/<int:pk>/event.ics",
        views.portal_event_ics,
        name="portal_event_ics",
    ),
    path("n/<slug:slug>/portal/calendar/", views.portal_calendar, name="portal_calendar"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("rsvp/<int:invitation_id>/<str:token>/", views.rsvp, name="rsvp"),
    path("n/<slug:slug>/portal/", views.portal_home, name="portal_home"),
    path("n/<slug:slug>/portal/profile/", views.portal_profile, name="portal_profile"),
]
