from django.contrib import admin

from .models import Dataset, PartnerSearch


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "network", "layout", "year", "status", "row_count", "created_at"]
    list_filter = ["status", "layout"]
    search_fields = ["name", "source_note", "filename"]
    exclude = ["content", "coordinates_content"]
    readonly_fields = [
        "network",
        "layout",
        "filename",
        "coordinates_filename",
        "status",
        "problems",
        "problem_summary",
        "resolution",
        "dropped",
        "indicators",
        "row_count",
        "version",
        "meta",
        "created_by",
    ]


@admin.register(PartnerSearch)
class PartnerSearchAdmin(admin.ModelAdmin):
    list_display = ["target_code", "target_name", "network", "dataset", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["target_code", "target_name"]
    exclude = ["result", "travel_times"]
    readonly_fields = [
        "network",
        "dataset",
        "dataset_version",
        "requested_by",
        "target_code",
        "target_name",
        "parameters",
        "travel_times_filename",
        "status",
        "progress",
        "stage",
        "error",
        "started_at",
        "finished_at",
    ]
