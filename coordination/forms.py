from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Network, NetworkRole, Organization, OrganizationKind, Participant, Region


class NetworkForm(forms.ModelForm):
    class Meta:
        model = Network
        fields = [
            "name",
            "slug",
            "description",
            "members_schedule_directly",
            "track_bulletin_opens",
        ]


class RegionForm(forms.ModelForm):
    class Meta:
        model = Region
        fields = ["name", "prefecture", "municipality_code", "latitude", "longitude", "population"]


class OrganizationForm(forms.ModelForm):
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network)

    class Meta:
        model = Organization
        fields = [
            "name",
            "name_kana",
            "kind",
            "region",
            "industry",
            "website",
            "latitude",
            "longitude",
        ]


class ParticipantForm(forms.ModelForm):
    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.network = network
        self.fields["organization"].queryset = Organization.objects.filter(
            network=network
        ).select_related("region")
        recruiters = Participant.objects.filter(network=network)
        if self.instance.pk:
            recruiters = recruiters.exclude(pk=self.instance.pk)
        self.fields["recruited_by"].queryset = recruiters

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        clash = Participant.objects.filter(network=self.network, email__iexact=email)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another participant of this network has this address."))
        return email

    class Meta:
        model = Participant
        fields = [
            "full_name",
            "name_kana",
            "email",
            "organization",
            "position",
            "role",
            "joined_on",
            "left_on",
            "recruited_by",
            "research_consent",
            "bulletin_opt_out",
            "preferred_language",
        ]
        widgets = {
            "joined_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "left_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }


class ProfileForm(forms.ModelForm):
    """What a participant edits about themself."""

    research_consent = forms.ChoiceField(
        label=_("Research consent"),
        choices=[
            (
                Participant.Consent.GIVEN,
                _("I agree that my participation is observed for research."),
            ),
            (Participant.Consent.WITHDRAWN, _("I withdraw my consent to research observation.")),
        ],
        widget=forms.RadioSelect,
        required=False,
    )

    class Meta:
        model = Participant
        fields = ["full_name", "name_kana", "position", "preferred_language", "bulletin_opt_out"]


class BootstrapFilterMixin:
    """Filter forms render by hand in a row, so they need Bootstrap's classes."""

    def style_fields(self) -> None:
        for field in self.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = "form-select" if is_select else "form-control"


class ParticipantFilterForm(BootstrapFilterMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    region = forms.ModelChoiceField(
        label=_("Region"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("All regions"),
    )
    organization = forms.ModelChoiceField(
        label=_("Organization"),
        queryset=Organization.objects.none(),
        required=False,
        empty_label=_("All organizations"),
    )
    role = forms.ChoiceField(
        label=_("Role"), choices=[("", _("All roles")), *Participant.Role.choices], required=False
    )
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("All")), ("active", _("Active")), ("left", _("Left or not yet joined"))],
        required=False,
    )

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network)
        self.fields["organization"].queryset = Organization.objects.filter(network=network)
        self.style_fields()


class RegionFilterForm(BootstrapFilterMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    prefecture = forms.ChoiceField(label=_("Prefecture"), required=False)

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        prefectures = (
            Region.objects.filter(network=network)
            .exclude(prefecture="")
            .order_by("prefecture")
            .values_list("prefecture", flat=True)
            .distinct()
        )
        self.fields["prefecture"].choices = [("", _("All prefectures"))] + [
            (p, p) for p in prefectures
        ]
        self.style_fields()


class OrganizationFilterForm(BootstrapFilterMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    region = forms.ModelChoiceField(
        label=_("Region"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("All regions"),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All kinds")), *OrganizationKind.choices], required=False
    )

    def __init__(self, *args, network: Network, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network)
        self.style_fields()


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or Excel's Shift_JIS/CP932) or Excel .xlsx, header row first."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB.")
                % {"mb": settings.IMPORT_MAX_BYTES // (1024 * 1024)}
            )
        if not upload.name.lower().endswith((".csv", ".txt", ".xlsx", ".xlsm")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        return upload


class StaffAddForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=NetworkRole.Role.choices)
    identified_access = forms.BooleanField(
        label=_("May see names (researchers)"),
        required=False,
        help_text=NetworkRole._meta.get_field("identified_access").help_text,
    )
