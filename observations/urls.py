from django.urls import path

from . import views

urlpatterns = [
    path("n/<slug:slug>/ties/", views.tie_list, name="tie_list"),
    path("n/<slug:slug>/ties/new/", views.tie_create, name="tie_create"),
    path("n/<slug:slug>/ties/import/", views.tie_import, name="tie_import"),
    path("n/<slug:slug>/ties/<int:pk>/", views.tie_detail, name="tie_detail"),
    path("n/<slug:slug>/ties/<int:pk>/edit/", views.tie_edit, name="tie_edit"),
    path("n/<slug:slug>/ties/<int:pk>/action/", views.tie_action, name="tie_action"),
    path("n/<slug:slug>/portal/ties/report/", views.portal_tie_report, name="portal_tie_report"),
]
