"""Template filters of the partner-region finder: `{% load partners %}`."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format

from ..stats import indicator_label

register = template.Library()


@register.filter
def indicator(name: str) -> str:
    """The translated label of a derived SSDSE-A indicator, else the column's name."""
    return indicator_label(name)


@register.filter
def percent(share: float | None, digits: int = 1) -> str:
    """0.1234 → 12.3 (the % sign is the template's)."""
    if share is None:
        return "–"
    return number_format(100 * share, decimal_pos=digits)


@register.filter
def hours_minutes(hours: float | None) -> str:
    """3.68 → 3:41."""
    if hours is None:
        return "–"
    minutes = round(hours * 60)
    return f"{minutes // 60}:{minutes % 60:02d}"
