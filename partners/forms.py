from __future__ import annotations

from crispy_forms.bootstrap import InlineCheckboxes
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from coordination.tables import TableError

from .models import Dataset
from .search import SearchParameters
from .stats import looks_like_ssdse, read_travel_times

EXTENSIONS = (".csv", ".txt", ".xlsx", ".xlsm")


def _checked_upload(upload):
    if upload is None:
        return None
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise forms.ValidationError(
            _("The file is larger than %(mb)s MB.")
            % {"mb": settings.IMPORT_MAX_BYTES // (1024 * 1024)}
        )
    if not upload.name.lower().endswith(EXTENSIONS):
        raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
    return upload


class DatasetUploadForm(forms.Form):
    layout = forms.ChoiceField(
        label=_("Layout"),
        choices=Dataset.Layout.choices,
        initial=Dataset.Layout.GENERIC,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label=_("Statistics file"),
        help_text=_("CSV (UTF-8 or Excel's Shift_JIS/CP932) or Excel .xlsx."),
    )
    coordinates = forms.FileField(
        label=_("Coordinates table"),
        required=False,
        help_text=_(
            "SSDSE-A only: the city-office coordinates (localgovjp: lgcode, lat, lng; or "
            "code, latitude, longitude)."
        ),
    )
    name = forms.CharField(
        label=_("Name"), max_length=200, required=False, help_text=_("Default: the file name.")
    )
    source_note = forms.CharField(
        label=_("Source"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Where the figures come from, to cite them. SSDSE-A fills this in."),
    )
    year = forms.IntegerField(label=_("Year"), required=False, min_value=1900, max_value=2100)

    def clean_file(self):
        return _checked_upload(self.cleaned_data.get("file"))

    def clean_coordinates(self):
        return _checked_upload(self.cleaned_data.get("coordinates"))

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        layout = data.get("layout")
        if layout == Dataset.Layout.SSDSE_A and not data.get("coordinates"):
            self.add_error(
                "coordinates", _("SSDSE-A has no coordinates: add the coordinates table.")
            )
        if upload is not None and layout == Dataset.Layout.GENERIC:
            head = upload.read(64)
            upload.seek(0)
            if looks_like_ssdse(head):
                self.add_error(
                    "layout",
                    _(
                        "This looks like an SSDSE-A file: choose SSDSE-A and add the "
                        "coordinates table."
                    ),
                )
        return data


class DatasetResolveForm(forms.Form):
    drop = forms.ChoiceField(choices=Dataset.Drop.choices)


class SearchForm(forms.Form):
    target = forms.ChoiceField(label=_("Target municipality"))
    prefectures = forms.MultipleChoiceField(
        label=_("Study area (prefectures)"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "PCA is fitted on these municipalities and candidates come from them. None "
            "ticked: the whole table."
        ),
    )
    min_km = forms.FloatField(
        label=_("Minimum distance (km)"),
        initial=30,
        min_value=0,
        help_text=_("Places this far apart are rarely hit by the same disaster (30–50 km)."),
    )
    min_hours = forms.FloatField(label=_("Travel time from (h)"), required=False, min_value=0)
    max_hours = forms.FloatField(
        label=_("Travel time up to (h)"),
        required=False,
        min_value=0,
        help_text=_("The study: 3–4 hours by car, a normal business trip."),
    )
    population_low = forms.FloatField(
        label=_("Population ratio from"),
        required=False,
        min_value=0,
        help_text=_("Candidate ÷ target, e.g. 0.5 to 2."),
    )
    population_high = forms.FloatField(
        label=_("Population ratio up to"), required=False, min_value=0
    )
    components = forms.IntegerField(
        label=_("Components"),
        required=False,
        min_value=1,
        help_text=_("Empty: every component with eigenvalue ≥ 1 (Kaiser criterion)."),
    )
    similarity = forms.ChoiceField(
        label=_("Similarity"),
        choices=[
            ("pearson", _("Pearson correlation (the study's choice)")),
            ("cosine", _("Cosine (unaffected by component signs and rotation)")),
        ],
        initial="pearson",
    )
    circuity = forms.FloatField(
        label=_("Road circuity factor"),
        initial=1.3,
        min_value=1,
        help_text=_("Road distance ÷ great-circle distance."),
    )
    speed = forms.FloatField(
        label=_("Average speed (km/h)"), initial=60, min_value=1, max_value=200
    )
    travel_times = forms.FileField(
        label=_("Measured travel times (optional)"),
        required=False,
        help_text=_(
            "Replaces the estimate: a table with origin, destination and hours or minutes "
            "(municipal codes)."
        ),
    )
    top = forms.IntegerField(label=_("Candidates shown"), initial=30, min_value=1, max_value=500)

    def __init__(self, *args, targets: list, prefectures: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "—"), *targets]
        self.fields["prefectures"].choices = [(p, p) for p in prefectures if p]
        self._prefecture_of = {
            code: prefecture for prefecture, options in targets for code, _label in options
        }
        self.travel_matrix = None
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "target",
            InlineCheckboxes("prefectures"),
            Fieldset(
                _("Filters"),
                Row(
                    Column("min_km", css_class="col-md-4"),
                    Column("min_hours", css_class="col-md-4"),
                    Column("max_hours", css_class="col-md-4"),
                ),
                Row(
                    Column("population_low", css_class="col-md-6"),
                    Column("population_high", css_class="col-md-6"),
                ),
            ),
            Fieldset(
                _("Method"),
                Row(
                    Column("components", css_class="col-md-4"),
                    Column("similarity", css_class="col-md-8"),
                ),
                Row(
                    Column("circuity", css_class="col-md-4"),
                    Column("speed", css_class="col-md-4"),
                    Column("top", css_class="col-md-4"),
                ),
                "travel_times",
            ),
        )

    def clean_travel_times(self):
        upload = _checked_upload(self.cleaned_data.get("travel_times"))
        if upload is None:
            return None
        try:
            self.travel_matrix = read_travel_times(upload.read(), upload.name)
        except TableError as exc:
            raise forms.ValidationError([str(e) for e in exc.errors[:20]]) from None
        return upload

    def clean(self):
        data = super().clean()
        low, high = data.get("population_low"), data.get("population_high")
        if (low is None) != (high is None):
            self.add_error("population_high", _("Give both ends of the population ratio."))
        elif low is not None and low > high:
            self.add_error("population_high", _("The upper end is below the lower end."))
        target, area = data.get("target"), data.get("prefectures")
        if target and area and self._prefecture_of.get(target) not in area:
            self.add_error(
                "prefectures",
                _("The study area must include the target's prefecture (%(prefecture)s).")
                % {"prefecture": self._prefecture_of.get(target)},
            )
        lo_h, hi_h = data.get("min_hours"), data.get("max_hours")
        if lo_h is not None and hi_h is not None and lo_h > hi_h:
            self.add_error("max_hours", _("The upper end is below the lower end."))
        return data

    def parameters(self) -> SearchParameters:
        data = self.cleaned_data
        ratio = None
        if data.get("population_low") is not None and data.get("population_high") is not None:
            ratio = (data["population_low"], data["population_high"])
        return SearchParameters(
            target=data["target"],
            prefectures=tuple(data.get("prefectures") or ()),
            min_km=data["min_km"],
            min_hours=data.get("min_hours"),
            max_hours=data.get("max_hours"),
            population_ratio=ratio,
            components=data.get("components"),
            similarity=data["similarity"],
            circuity=data["circuity"],
            speed=data["speed"],
            top=data["top"],
        )


def initial_from_parameters(parameters: dict) -> dict:
    """The search form's initial values from a stored search's parameters."""
    ratio = parameters.get("population_ratio") or (None, None)
    names = ("target", "prefectures", "min_km", "min_hours", "max_hours", "components")
    names += ("similarity", "circuity", "speed", "top")
    return {
        **{name: parameters.get(name) for name in names if parameters.get(name) is not None},
        "population_low": ratio[0],
        "population_high": ratio[1],
    }
