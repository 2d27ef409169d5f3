from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Bulletin,
    BulletinAttachment,
    Delivery,
    Event,
    ImportRun,
    Invitation,
    InvitationNotice,
    Network,
    NetworkRole,
    Organization,
    Participant,
    Region,
    RsvpToken,
)


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


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    raw_id_fields = ("participant",)
    readonly_fields = (
        "answered_at",
        "waitlisted_at",
        "mailed_sequence",
        "mailed_at",
        "checked_in_at",
    )


@admin.register(Event)
class EventAdmin(SimpleHistoryAdmin):
    list_display = ("title", "network", "kind", "status", "starts_at", "capacity")
    list_filter = ("network", "kind", "status")
    search_fields = ("title", "venue")
    raw_id_fields = ("proposed_by", "host_organization", "region")
    readonly_fields = ("uid", "sequence")
    inlines = [InvitationInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = (
        "participant",
        "event",
        "answer",
        "waitlisted_at",
        "attended",
        "mailed_sequence",
    )
    list_filter = ("answer", "attended", "walk_in")
    raw_id_fields = ("participant", "event")
    list_select_related = ("participant", "event")


@admin.register(RsvpToken)
class RsvpTokenAdmin(admin.ModelAdmin):
    list_display = ("invitation", "created_at", "expires_at", "revoked", "last_used_at")
    readonly_fields = ("digest",)
    raw_id_fields = ("invitation",)


@admin.register(InvitationNotice)
class InvitationNoticeAdmin(admin.ModelAdmin):
    list_display = ("invitation", "key", "sent_at")
    raw_id_fields = ("invitation",)


class BulletinAttachmentInline(admin.TabularInline):
    model = BulletinAttachment
    extra = 0


@admin.register(Bulletin)
class BulletinAdmin(admin.ModelAdmin):
    list_display = ("subject", "network", "kind", "status", "scheduled_at", "started_at")
    list_filter = ("network", "kind", "status")
    search_fields = ("subject",)
    raw_id_fields = ("event", "author")
    inlines = [BulletinAttachmentInline]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("participant", "bulletin", "status", "attempts", "sent_at", "read_at")
    list_filter = ("status",)
    raw_id_fields = ("participant", "bulletin")
    list_select_related = ("participant", "bulletin")
