from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import ImportRun, Network, NetworkRole, Organization, Participant, Region


class NetworkRoleInline(admin.TabularInline):
    model = NetworkRole
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [NetworkRoleInline]


@admin.register(NetworkRole)
class NetworkRoleAdmin(admin.ModelAdmin):
    list_display = ("user", "network", "role")
    list_filter = ("role", "network")
    autocomplete_fields = ["user"]


@admin.register(Region)
class RegionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "network", "prefecture", "municipality_code", "population")
    list_filter = ("network",)
    search_fields = ("name", "municipality_code")


@admin.register(Organization)
class OrganizationAdmin(SimpleHistoryAdmin):
    list_display = ("name", "network", "kind", "region")
    list_filter = ("network", "kind")
    search_fields = ("name", "name_kana")
    list_select_related = ("network", "region")


@admin.register(Participant)
class ParticipantAdmin(SimpleHistoryAdmin):
    list_display = ("full_name", "email", "network", "organization", "role", "joined_on", "left_on")
    list_filter = ("network", "role", "research_consent", "bulletin_opt_out")
    search_fields = ("full_name", "name_kana", "email")
    list_select_related = ("network", "organization")
    raw_id_fields = ("recruited_by", "user", "organization")


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ("filename", "network", "kind", "status", "created_by", "created_at")
    list_filter = ("kind", "status")
    exclude = ("content",)
    readonly_fields = ("report",)
