"""Input validation for the observation log: the filters, the full and the quick entry
form, metrics."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from coordination.forms import BootstrapFilterMixin
from coordination.models import Event, Network, Organization, Participant, Region

from ..models import Code, Metric, Observation
from ..pseudonyms import Namer

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _Named(forms.ModelChoiceField):
    """A choice whose label comes from the page's Namer (pseudonyms for researchers)."""

    def __init__(self, *args, label_of=None, **kwargs):
        self.label_of = label_of
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj) -> str:
        return self.label_of(obj) if self.label_of else str(obj)


def _staff_users(network: Network):
    return get_user_model().objects.filter(network_roles__network=network).order_by("email")


class ObservationFilterForm(BootstrapFilterMixin, forms.Form):
    """The log's filters; `cleaned_data` is the `criteria` of
    selectors.observation_queryset (also used by the exports)."""

    q = forms.CharField(label=_("Search"), required=False)
    code = _Named(
        label=_("Code"), queryset=Code.objects.none(), required=False, empty_label=_("All codes")
    )
    category = forms.ChoiceField(
        label=_("Category"),
        choices=[("", _("All categories")), *Observation.Category.choices],
        required=False,
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All kinds")), *Observation.Kind.choices], required=False
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_INPUT)
    region = forms.ModelChoiceField(
        label=_("Region"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("All regions"),
    )
    event = _Named(
        label=_("Event"), queryset=Event.objects.none(), required=False, empty_label=_("All events")
    )
    participant = _Named(
        label=_("Participant"),
        queryset=Participant.objects.none(),
        required=False,
        empty_label=_("Everyone"),
    )
    author = _Named(
        label=_("Author"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("All authors"),
    )

    def __init__(self, *args, network: Network, namer: Namer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].queryset = Code.objects.filter(
            network=network, deleted_at__isnull=True
        ).order_by("name")
        self.fields["region"].queryset = Region.objects.filter(network=network)
        self.fields["event"].queryset = Event.objects.filter(network=network).order_by("-starts_at")
        self.fields["event"].label_of = lambda e: f"{e.starts_at:%Y-%m-%d} {namer.event(e)}"
        self.fields["participant"].queryset = Participant.objects.filter(network=network)
        self.fields["participant"].label_of = namer.person
        self.fields["author"].queryset = _staff_users(network)
        self.fields["author"].label_of = namer.user
        self.style_fields()

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end of the period is before its start."))
        return data

    @property
    def criteria(self) -> dict:
        return self.cleaned_data if self.is_valid() else {}


class _NamedMultiple(forms.ModelMultipleChoiceField):
    def __init__(self, *args, label_of=None, **kwargs):
        self.label_of = label_of
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj) -> str:
        return self.label_of(obj) if self.label_of else str(obj)


class ObservationForm(forms.ModelForm):
    """The full entry form; the service decides what a kind requires."""

    event = _Named(label=_("Event"), queryset=Event.objects.none(), required=False)
    participants = _NamedMultiple(
        label=_("Participants"), queryset=Participant.objects.none(), required=False
    )
    organizations = _NamedMultiple(
        label=_("Organizations"), queryset=Organization.objects.none(), required=False
    )
    regions = forms.ModelMultipleChoiceField(
        label=_("Regions"), queryset=Region.objects.none(), required=False
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        required=False,
        help_text=_("Empty: the first line of the text."),
    )

    class Meta:
        model = Observation
        fields = [
            "observed_on",
            "observed_time",
            "event",
            "kind",
            "category",
            "title",
            "body",
            "participants",
            "organizations",
            "regions",
            "metric",
            "value",
            "unit",
            "rating",
        ]
        widgets = {
            "observed_on": DATE_INPUT,
            "observed_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "body": forms.Textarea(attrs={"rows": 8}),
            "kind": forms.RadioSelect,
        }

    def __init__(self, *args, network: Network, namer: Namer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = Event.objects.filter(network=network).order_by("-starts_at")
        self.fields["event"].label_of = lambda e: f"{e.starts_at:%Y-%m-%d} {namer.event(e)}"
        self.fields["participants"].queryset = Participant.objects.filter(network=network)
        self.fields["participants"].label_of = namer.person
        self.fields["organizations"].queryset = Organization.objects.filter(network=network)
        self.fields["organizations"].label_of = namer.organization
        self.fields["regions"].queryset = Region.objects.filter(network=network)
        metrics = Metric.objects.filter(network=network)
        if self.instance.metric_id is None:
            metrics = metrics.filter(is_active=True)
        else:  # a retired metric stays selectable on the observation that uses it
            metrics = metrics.filter(Q(is_active=True) | Q(pk=self.instance.metric_id))
        self.fields["metric"].queryset = metrics
        self.fields["value"].localize = False

    def clean(self):
        data = super().clean()
        if data.get("kind") == Observation.Kind.QUANTITATIVE:
            if not data.get("metric"):
                self.add_error("metric", _("Choose what was measured."))
            if data.get("value") is None:
                self.add_error("value", _("Enter the measured value."))
        if not (data.get("title") or "").strip() and not (data.get("body") or "").strip():
            self.add_error("title", _("Give the observation a title or a text."))
        return data


class QuickObservationForm(ObservationForm):
    """The phone form used during a meeting: a few big fields, the rest defaulted
    (today, now, the event going on) and editable later on the full form."""

    class Meta(ObservationForm.Meta):
        fields = [
            "event",
            "category",
            "kind",
            "body",
            "title",
            "participants",
            "metric",
            "value",
            "rating",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 5, "autofocus": True}),
            "kind": forms.RadioSelect,
            "category": forms.RadioSelect,
            "rating": forms.RadioSelect(choices=[("", "–"), *[(i, str(i)) for i in range(1, 6)]]),
            "value": forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
        }

    def __init__(self, *args, attendees=None, **kwargs):
        super().__init__(*args, **kwargs)
        # A tap on one of the categories; no empty "---------" button.
        self.fields["category"].choices = Observation.Category.choices
        self.fields["participants"].widget = forms.CheckboxSelectMultiple()
        self.fields["participants"].widget.choices = self.fields["participants"].choices
        if attendees is not None:
            # During a meeting the people in the room are the likely subjects.
            self.fields["participants"].queryset = attendees
        self.fields["rating"].widget.choices = [("", "–"), *[(i, str(i)) for i in range(1, 6)]]


class MetricForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    unit = forms.CharField(label=_("Unit"), max_length=30, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    is_active = forms.BooleanField(label=_("Offered in forms"), required=False, initial=True)
