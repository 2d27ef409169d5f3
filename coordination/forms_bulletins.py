"""Forms of the bulletin pages: input validation only; the services decide (the type
and size of attachments, whether a state allows a change, a time in the past)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Bulletin, Event, Network
from .services.bulletins import MAX_ATTACHMENT_BYTES, MAX_BODY_CHARS

TOKYO = ZoneInfo("Asia/Tokyo")
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type="file" multiple>; a list of uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class BulletinForm(forms.ModelForm):
    body = forms.CharField(
        label=_("Body"),
        max_length=MAX_BODY_CHARS,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=_("Markdown: **bold**, lists, links. The preview shows what recipients see."),
    )
    attachments = MultipleFileField(
        label=_("Attachments"),
        required=False,
        help_text=_("PDF or images (PNG, JPEG, GIF, WebP), up to %(mb)s MB each.")
        % {"mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
    )

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = Event.objects.filter(network=network).order_by("-starts_at")
        self.fields["body"].widget.attrs["data-preview-source"] = "1"
        # Continuity notices reach people who opted out; only the continuity app sends them.
        self.fields["kind"].choices = [
            choice
            for choice in self.fields["kind"].choices
            if choice[0] != Bulletin.Kind.CONTINUITY
        ]

    class Meta:
        model = Bulletin
        fields = ["kind", "subject", "body", "event"]


class TokyoDateTimeField(forms.DateTimeField):
    """A datetime-local value read as Japan time, whatever the active time zone."""

    def to_python(self, value):
        with timezone.override(TOKYO):
            return super().to_python(value)

    def prepare_value(self, value):
        with timezone.override(TOKYO):
            return super().prepare_value(value)


class ScheduleForm(forms.Form):
    scheduled_at = TokyoDateTimeField(
        label=_("Send at (Japan time)"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format=DATETIME_LOCAL
        ),
    )
