"""Forms of the event pages: input validation only, the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Event, Invitation, Network, Organization, OrganizationKind, Participant, Region

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ReminderDaysField(forms.CharField):
    """ "7, 1" → [7, 1]: reminders that many days before the start."""

    def to_python(self, value):
        value = super().to_python(value)
        days = []
        for part in value.replace("、", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 1 <= int(part) <= 60:
                raise forms.ValidationError(
                    _("Write whole numbers of days from 1 to 60, separated by commas.")
                )
            days.append(int(part))
        return sorted(set(days), reverse=True)

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(d) for d in value)
        return value


class EventForm(forms.ModelForm):
    reminder_days = ReminderDaysField(
        label=_("Reminders (days before)"),
        required=False,
        initial=[7, 1],
        help_text=_("For example 7, 1: a week before and the day before."),
    )
    online_url = forms.URLField(
        label=_("Online meeting link"), required=False, assume_scheme="https"
    )

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network)
        self.fields["host_organization"].queryset = Organization.objects.filter(network=network)
        for name in ("starts_at", "ends_at", "rsvp_deadline"):
            if name in self.fields:
                self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]

    def clean(self):
        data = super().clean()
        starts, ends, deadline = (
            data.get("starts_at"),
            data.get("ends_at"),
            data.get("rsvp_deadline"),
        )
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must be after the start."))
        if starts and deadline and deadline > starts:
            self.add_error("rsvp_deadline", _("The answer deadline must not be after the start."))
        return data

    class Meta:
        model = Event
        fields = [
            "kind",
            "title",
            "description",
            "starts_at",
            "ends_at",
            "region",
            "venue",
            "address",
            "host_organization",
            "online_url",
            "capacity",
            "rsvp_deadline",
            "reminder_days",
            "show_attendees",
        ]
        widgets = {
            "starts_at": DATETIME,
            "ends_at": DATETIME,
            "rsvp_deadline": DATETIME,
            "description": forms.Textarea(attrs={"rows": 6}),
        }


class ProposalForm(EventForm):
    """What a member fills in to propose an event."""

    reminder_days = None  # the coordinator sets reminders when scheduling

    class Meta(EventForm.Meta):
        # The scheduling settings are the coordinator's.
        fields = [
            f
            for f in EventForm.Meta.fields
            if f not in ("rsvp_deadline", "reminder_days", "show_attendees")
        ]


class AudienceForm(forms.Form):
    everyone = forms.BooleanField(label=_("The whole network"), required=False)
    regions = forms.ModelMultipleChoiceField(
        label=_("Regions"),
        queryset=Region.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    kinds = forms.MultipleChoiceField(
        label=_("Organization kinds"),
        choices=OrganizationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    participants = forms.ModelMultipleChoiceField(
        label=_("Individuals"),
        queryset=Participant.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    empty_message = _("Choose who to invite.")

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["regions"].queryset = Region.objects.filter(network=network)
        self.fields["participants"].queryset = Participant.objects.filter(
            network=network
        ).select_related("organization")

    def clean(self):
        data = super().clean()
        if not (
            data.get("everyone")
            or data.get("regions")
            or data.get("kinds")
            or data.get("participants")
        ):
            raise forms.ValidationError(self.empty_message)
        return data

    def audience_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "everyone": data["everyone"],
            "regions": [r.pk for r in data["regions"]],
            "kinds": list(data["kinds"]),
            "participant_ids": [p.pk for p in data["participants"]],
        }


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label=_("Your answer"),
        choices=[
            (Invitation.Answer.YES, _("Yes, I will come")),
            (Invitation.Answer.MAYBE, _("Maybe")),
            (Invitation.Answer.NO, _("No, I cannot come")),
        ],
        widget=forms.RadioSelect,
    )


class WalkInForm(forms.Form):
    participant = forms.ModelChoiceField(
        label=_("Participant"), queryset=Participant.objects.none()
    )

    def __init__(self, *args, event: Event, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participant"].queryset = (
            Participant.objects.filter(network=event.network)
            .exclude(invitations__event=event, invitations__attended=True)
            .select_related("organization")
        )


class BulletinAudienceForm(AudienceForm):
    empty_message = _("Choose who receives the bulletin.")
