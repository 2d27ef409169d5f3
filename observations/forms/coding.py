"""Qualitative coding: the codebook, codings and memos."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from ..models import Code
from ..services.coding import COLOUR_RE, DEFAULT_COLOUR
from .ties import TieImportApplyForm, TieImportForm

__all__ = [
    "CodeChoiceField",
    "CodeForm",
    "CodebookImportApplyForm",
    "CodebookImportForm",
    "MemoForm",
    "PassageCodingForm",
    "ReanchorForm",
    "WholeCodingForm",
]


class CodeChoiceField(forms.ChoiceField):
    """A code of the codebook, offered by its path in codebook order. The choices come
    from the tree the page already loaded (no query of its own)."""

    def __init__(self, *, empty_label=None, **kwargs):
        self.empty_label = empty_label or _("Choose a code")
        self._codes: dict[str, Code] = {}
        super().__init__(choices=[("", empty_label)], **kwargs)

    def set_nodes(self, nodes) -> None:
        self._codes = {str(node.code.pk): node.code for node in nodes}
        self.choices = [("", self.empty_label)] + [(str(node.code.pk), node.path) for node in nodes]

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        code = self._codes.get(value)
        if code is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return code

    def validate(self, value) -> None:
        if value is None and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def prepare_value(self, value):
        return str(value.pk) if isinstance(value, Code) else value


colour_field = forms.CharField(
    label=_("Colour"),
    initial=DEFAULT_COLOUR,
    max_length=7,
    validators=[RegexValidator(COLOUR_RE, _("A colour is written #rrggbb, e.g. #ffd54f."))],
    widget=forms.TextInput(attrs={"type": "color"}),
    help_text=Code._meta.get_field("colour").help_text,
)


class CodeForm(forms.Form):
    """A code of the codebook; `parent` moves it (its own sub-codes are not offered)."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_('Unique among its siblings; "/" is not allowed (it separates levels).'),
    )
    parent = CodeChoiceField(
        label=_("Parent code"), required=False, empty_label=_("None (top level)")
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the code means and when to apply it."),
    )
    colour = colour_field

    def __init__(self, *args, nodes, code: Code | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        offered = list(nodes)
        if code is not None:
            # A code cannot move under itself or a descendant; the service checks too.
            own = next((node for node in offered if node.code.pk == code.pk), None)
            if own is not None:
                prefix = own.path + "/"
                offered = [
                    node
                    for node in offered
                    if node.code.pk != code.pk and not node.path.startswith(prefix)
                ]
        self.fields["parent"].set_nodes(offered)


class _CodeChoiceMixin:
    def clean(self):
        data = super().clean()
        has_new = bool((data.get("new_code") or "").strip())
        if data.get("code") and has_new:
            raise forms.ValidationError(_("Choose a code or type a new one, not both."))
        if not data.get("code") and not has_new and "code" not in self.errors:
            raise forms.ValidationError(_("Choose a code or type the name of a new one."))
        return data


class WholeCodingForm(_CodeChoiceMixin, forms.Form):
    code = CodeChoiceField(label=_("Code"), required=False)
    new_code = forms.CharField(
        label=_("or a new code"),
        required=False,
        max_length=100,
        help_text=_("Typed here, it is added at the top level of the codebook."),
    )

    def __init__(self, *args, nodes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].set_nodes(nodes)


class _PassageFields(forms.Form):
    start = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    end = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    quote = forms.CharField(
        label=_("Passage"),
        strip=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Select the passage with the mouse in the text above, or paste it here exactly "
            "as it is written."
        ),
    )
    occurrence = forms.IntegerField(
        label=_("Occurrence"),
        required=False,
        min_value=1,
        help_text=_(
            "Only for a pasted passage that occurs more than once: which one (1 = the first)."
        ),
    )

    def clean(self):
        data = super().clean()
        if (data.get("start") is None) != (data.get("end") is None):
            raise forms.ValidationError(_("Select the passage again."))
        return data


class PassageCodingForm(_CodeChoiceMixin, _PassageFields):
    code = CodeChoiceField(label=_("Code"), required=False)
    new_code = forms.CharField(
        label=_("or a new code"),
        required=False,
        max_length=100,
        help_text=_("Typed here, it is added at the top level of the codebook."),
    )

    field_order = ["start", "end", "quote", "occurrence", "code", "new_code"]

    def __init__(self, *args, nodes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].set_nodes(nodes)


class ReanchorForm(_PassageFields):
    """Highlight a passage again, for a coding whose passage an edit lost."""


class MemoForm(forms.Form):
    body = forms.CharField(
        label=_("Memo"),
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Markdown."),
    )


class CodebookImportForm(TieImportForm):
    """A codebook table (the same file rules as every import)."""


class CodebookImportApplyForm(TieImportApplyForm):
    """The previewed codebook file, sent back to be applied."""
