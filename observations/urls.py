from django.urls import path

from . import views

urlpatterns = [
    path("n/<slug:slug>/ties/", views.tie_list, name="tie_list"),
    path("n/<slug:slug>/ties/new/", views.tie_create, name="tie_create"),
    path("n/<slug:slug>/ties/import/", views.tie_import, name="tie_import"),
    path("n/<slug:slug>/ties/<int:pk>/", views.tie_detail, name="tie_detail"),
    path("n/<slug:slug>/ties/<int:pk>/edit/", views.tie_edit, name="tie_edit"),
    path("n/<slug:slug>/ties/<int:pk>/action/", views.tie_action, name="tie_action"),
    path("n/<slug:slug>/observations/", views.observation_list, name="observation_list"),
    path("n/<slug:slug>/observations/new/", views.observation_create, name="observation_create"),
    path("n/<slug:slug>/observations/quick/", views.observation_quick, name="observation_quick"),
    path(
        "n/<slug:slug>/observations/deleted/", views.observation_deleted, name="observation_deleted"
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/edit/", views.observation_edit, name="observation_edit"
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/delete/",
        views.observation_delete,
        name="observation_delete",
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/restore/",
        views.observation_restore,
        name="observation_restore",
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/history/",
        views.observation_history,
        name="observation_history",
    ),
    path("n/<slug:slug>/dashboard/", views.dashboard, name="dashboard"),
    path("n/<slug:slug>/dashboard/refresh/", views.dashboard_refresh, name="dashboard_refresh"),
    path(
        "n/<slug:slug>/dashboard/series.csv",
        views.dashboard_series_csv,
        name="dashboard_series_csv",
    ),
    path("n/<slug:slug>/dashboard/graph.json", views.dashboard_graph, name="dashboard_graph"),
    path("n/<slug:slug>/metrics/", views.metric_list, name="metric_list"),
    path("n/<slug:slug>/metrics/<int:pk>/", views.metric_edit, name="metric_edit"),
    path("n/<slug:slug>/portal/ties/report/", views.portal_tie_report, name="portal_tie_report"),
]
