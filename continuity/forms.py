"""Input validation only; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from coordination.models import Network, Organization, Participant, Region

from .models import Agreement, Capability, Category, HelpRequest, Need, Process, Reply

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


class CapabilityForm(forms.ModelForm):
    class Meta:
        model = Capability
        fields = ["category", "process", "description", "quantity"]


class NeedForm(forms.ModelForm):
    class Meta:
        model = Need
        fields = ["category", "process", "description", "quantity", "critical"]


OTHER_REGIONS = ""
ALL_REGIONS = "all"


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", _("Any category")), *Category.choices]
    )
    process = forms.ChoiceField(
        label=_("Process"), required=False, choices=[("", _("Any process")), *Process.choices]
    )
    region = forms.ChoiceField(label=_("Region"), required=False)

    def __init__(self, *args, network: Network, own_region: Region | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = []
        if own_region is not None:
            choices.append((OTHER_REGIONS, _("Other regions than mine")))
        choices.append((ALL_REGIONS if own_region is not None else "", _("All regions")))
        choices += [(str(r.pk), r.name) for r in Region.objects.filter(network=network)]
        self.fields["region"].choices = choices
        self.own_region = own_region

    def criteria(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        region = data.get("region", OTHER_REGIONS)
        criteria = {
            "q": data.get("q", ""),
            "category": data.get("category", ""),
            "process": data.get("process", ""),
        }
        if region and region != ALL_REGIONS:
            criteria["region_ids"] = [int(region)]
        elif region == OTHER_REGIONS and self.own_region is not None:
            criteria["exclude_region_id"] = self.own_region.pk
        return criteria


class AgreementForm(forms.ModelForm):
    class Meta:
        model = Agreement
        fields = [
            "organization_a",
            "offers_a",
            "contact_a",
            "organization_b",
            "offers_b",
            "contact_b",
            "status",
            "signed_on",
            "review_on",
            "ended_on",
            "note",
        ]
        widgets = {
            "signed_on": DATE,
            "review_on": DATE,
            "ended_on": DATE,
            "offers_a": forms.Textarea(attrs={"rows": 3}),
            "offers_b": forms.Textarea(attrs={"rows": 3}),
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        organizations = Organization.objects.filter(network=network).select_related("region")
        people = Participant.objects.filter(network=network).select_related("organization")
        for name in ("organization_a", "organization_b"):
            self.fields[name].queryset = organizations
            self.fields[name].label_from_instance = lambda o: f"{o.name} ({o.region.name})"
        for name in ("contact_a", "contact_b"):
            self.fields[name].queryset = people
            self.fields[name].label_from_instance = lambda p: (
                f"{p.full_name} ({p.organization.name})"
            )


class DrillForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    region = forms.ModelChoiceField(label=_("Region hit"), queryset=Region.objects.none())
    starts_at = forms.DateTimeField(
        label=_("Starts at"), widget=DATETIME, input_formats=DATETIME_FORMATS
    )
    ends_at = forms.DateTimeField(
        label=_("Ends at"), widget=DATETIME, input_formats=DATETIME_FORMATS
    )
    description = forms.CharField(
        label=_("Scenario"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What happened in the scenario (Markdown)."),
    )
    organizations = forms.ModelMultipleChoiceField(
        label=_("Organizations down"),
        queryset=Organization.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    capabilities = forms.ModelMultipleChoiceField(
        label=_("Capabilities lost"),
        queryset=Capability.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None chosen: every capability of the organizations down."),
    )

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network)
        self.fields["organizations"].queryset = Organization.objects.filter(
            network=network
        ).select_related("region")
        self.fields["organizations"].label_from_instance = lambda o: f"{o.name} ({o.region.name})"
        self.fields["capabilities"].queryset = Capability.objects.filter(
            network=network, removed_at__isnull=True
        ).select_related("organization")
        self.fields["capabilities"].label_from_instance = lambda c: (
            f"{c.organization.name}: {c.kind_label} – {c.description}"
        )

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The drill must end after it starts."))
        return data


class DeclareForm(forms.Form):
    region = forms.ModelChoiceField(label=_("Region hit"), queryset=Region.objects.none())
    description = forms.CharField(
        label=_("What happened"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network)


class ReplyForm(forms.Form):
    can_help = forms.TypedChoiceField(
        label=_("Could you help?"),
        choices=[("yes", _("Yes, we can help")), ("no", _("No, not this time"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    requests = forms.ModelMultipleChoiceField(
        label=_("With what"),
        queryset=HelpRequest.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    what = forms.CharField(
        label=_("What you could offer"),
        required=False,
        max_length=300,
        help_text=_("e.g. two press operators, 500 kg of SUS304, a truck on Tuesday"),
    )
    hours = forms.TypedChoiceField(
        label=_("How soon"),
        choices=Reply.Speed.choices,
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, reply: Reply, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["requests"].queryset = reply.incident.requests.select_related(
            "organization"
        ).order_by("-critical", "pk")
        self.fields["requests"].label_from_instance = lambda r: (
            f"{r.kind_label}: {r.description} ({r.organization.name})"
        )

    def clean(self):
        data = super().clean()
        if data.get("can_help"):
            if not data.get("requests") and not (data.get("what") or "").strip():
                self.add_error("what", _("Say what you could offer."))
            if data.get("hours") is None:
                self.add_error("hours", _("Say how soon you could help."))
        return data
