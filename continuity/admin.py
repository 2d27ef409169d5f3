from django.contrib import admin

from .models import Agreement, Capability, HelpRequest, Incident, Need, Reply


@admin.register(Capability, Need)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["description", "organization", "category", "process", "removed_at"]
    list_filter = ["network", "category", "process"]
    search_fields = ["description", "organization__name"]


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "signed_on", "review_on"]
    list_filter = ["network", "status"]
    raw_id_fields = ["contact_a", "contact_b", "tie"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "region", "status", "activated_at", "closed_at"]
    list_filter = ["network", "kind", "status"]


@admin.register(HelpRequest)
class HelpRequestAdmin(admin.ModelAdmin):
    list_display = ["description", "incident", "organization", "status"]
    list_filter = ["status"]


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ["participant", "incident", "can_help", "hours", "answered_at"]
    exclude = ["digest"]
    raw_id_fields = ["participant", "bulletin"]
