from django.urls import path

from .views import coding as views

urlpatterns = [
    path("n/<slug:slug>/codes/", views.codebook, name="codebook"),
    path("n/<slug:slug>/codes/new/", views.code_create, name="code_create"),
    path("n/<slug:slug>/codes/export.csv", views.codebook_export, name="codebook_export"),
    path("n/<slug:slug>/codes/import/", views.codebook_import, name="codebook_import"),
    path("n/<slug:slug>/codes/overview/", views.code_cooccurrence, name="code_cooccurrence"),
    path("n/<slug:slug>/codes/<int:pk>/", views.code_detail, name="code_detail"),
    path("n/<slug:slug>/codes/<int:pk>/edit/", views.code_edit, name="code_edit"),
    path("n/<slug:slug>/codes/<int:pk>/delete/", views.code_delete, name="code_delete"),
    path("n/<slug:slug>/codes/<int:pk>/memos/", views.code_memo_add, name="code_memo_add"),
    path(
        "n/<slug:slug>/observations/<int:pk>/",
        views.observation_detail,
        name="observation_detail",
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/codings/",
        views.coding_add,
        name="coding_add",
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/codings/<int:coding_pk>/remove/",
        views.coding_remove,
        name="coding_remove",
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/codings/<int:coding_pk>/reanchor/",
        views.coding_reanchor,
        name="coding_reanchor",
    ),
    path(
        "n/<slug:slug>/observations/<int:pk>/memos/",
        views.observation_memo_add,
        name="observation_memo_add",
    ),
    path("n/<slug:slug>/journal/", views.memo_journal, name="memo_journal"),
    path("n/<slug:slug>/memos/<int:pk>/edit/", views.memo_edit, name="memo_edit"),
    path("n/<slug:slug>/memos/<int:pk>/delete/", views.memo_delete, name="memo_delete"),
]
