"""Input validation for the tie pages; the writes are in services."""

from __future__ import annotations

import base64
import binascii

from django import forms
from django.utils.translation import gettext_lazy as _

from coordination.forms import BootstrapFilterMixin
from coordination.models import Event, Network, Participant, Region

from .. import selectors, services
from ..models import Tie

# The file travels back in a hidden field between the preview and the apply step.
TIE_IMPORT_MAX_BYTES = 2 * 1024 * 1024
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _people(network: Network):
    return Participant.objects.filter(network=network).select_related("organization")


class _PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Participant) -> str:
        return f"{obj.full_name} ({obj.organization.name})"


class TieForm(forms.ModelForm):
    source = _PersonChoice(label=_("Participant"), queryset=Participant.objects.none())
    target = _PersonChoice(label=_("With"), queryset=Participant.objects.none())
    initiated_by = _PersonChoice(
        label=_("Brokered by"),
        queryset=Participant.objects.none(),
        required=False,
        help_text=Tie._meta.get_field("initiated_by").help_text,
    )

    class Meta:
        model = Tie
        fields = services.FORM_FIELDS
        widgets = {
            "started_on": DATE_INPUT,
            "ended_on": DATE_INPUT,
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("source", "target", "initiated_by"):
            self.fields[name].queryset = _people(network)
        self.fields["origin_event"].queryset = Event.objects.filter(network=network).order_by(
            "-starts_at"
        )

    def clean(self):
        data = super().clean()
        source, target = data.get("source"), data.get("target")
        if source and target and source == target:
            self.add_error("target", _("A tie needs two different participants."))
        broker = data.get("initiated_by")
        if broker and broker in (source, target):
            self.add_error(
                "initiated_by",
                _(
                    "The broker must be a third person; leave it empty when the two did it themselves."
                ),
            )
        started, ended = data.get("started_on"), data.get("ended_on")
        if started and ended and ended < started:
            self.add_error("ended_on", _("A tie cannot end before it started."))
        return data

    def _post_clean(self):
        # The service validates and saves; the model's own unique check would only
        # repeat, less clearly, what tie_save says.
        pass


class TieFilterForm(BootstrapFilterMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All kinds")), *Tie.Kind.choices], required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All")), *Tie.Status.choices], required=False
    )
    region = forms.ModelChoiceField(
        label=_("Region"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("All regions"),
    )
    participant = forms.ModelChoiceField(
        label=_("Participant"),
        queryset=Participant.objects.none(),
        required=False,
        empty_label=_("Everyone"),
    )
    active_on = forms.DateField(label=_("Active on"), required=False, widget=DATE_INPUT)

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network)
        self.fields["participant"].queryset = Participant.objects.filter(network=network)
        self.style_fields()


class TieReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What did you start?"), choices=Tie.Kind.choices)
    other = _PersonChoice(label=_("With whom"), queryset=Participant.objects.none())
    started_on = forms.DateField(label=_("Since"), widget=DATE_INPUT)
    origin_event = forms.ModelChoiceField(
        label=_("Where you met (optional)"),
        queryset=Event.objects.none(),
        required=False,
        empty_label=_("Not at an event"),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, participant: Participant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["other"].queryset = _people(participant.network).exclude(pk=participant.pk)
        self.fields["origin_event"].queryset = selectors.attended_events(participant=participant)


class TieImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or Excel's Shift_JIS/CP932) or Excel .xlsx, header row first."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > TIE_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB.")
                % {"mb": TIE_IMPORT_MAX_BYTES // (1024 * 1024)}
            )
        if not upload.name.lower().endswith((".csv", ".txt", ".xlsx", ".xlsm")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        return upload


class TieImportApplyForm(forms.Form):
    """The previewed file, sent back to be applied."""

    filename = forms.CharField(max_length=255, widget=forms.HiddenInput)
    content = forms.CharField(widget=forms.HiddenInput)

    def clean_content(self) -> bytes:
        try:
            data = base64.b64decode(self.cleaned_data["content"], validate=True)
        except (binascii.Error, ValueError):
            raise forms.ValidationError(
                _("The file was damaged on the way; upload it again.")
            ) from None
        if len(data) > TIE_IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is too large."))
        return data
