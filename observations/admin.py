from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Tie


@admin.register(Tie)
class TieAdmin(SimpleHistoryAdmin):
    list_display = ("source", "target", "kind", "started_on", "ended_on", "status", "network")
    list_filter = ("network", "kind", "status")
    raw_id_fields = ("source", "target", "initiated_by", "reported_by", "origin_event")
    list_select_related = ("source", "target", "network")
