"""The results page's charts as inline SVG drawn on the server: a scree plot, the
similarity × distance scatter and a map-free "map" (the municipalities' own points).
No JavaScript and no style attributes (the CSP forbids inline styles): presentation
attributes only; each mark has a <title>, which browsers show on hover."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PRIMARY = "#0d6efd"
MUTED = "#adb5bd"
TARGET = "#dc3545"
TEXT = "#495057"
GRID = "#dee2e6"
MAX_SCREE_BARS = 30


def _svg(width: int, height: int, label: str, body: list[str], css_class: str) -> SafeString:
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}" class="{css_class}" '
        f'font-family="system-ui, sans-serif" font-size="11">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "middle", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{TEXT}"{extra}>'
        f"{escape(text)}</text>"
    )


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if raw <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def scree_svg(eigenvalues: Sequence[float], explained: Sequence[float], kept: int) -> SafeString:
    """Eigenvalues as bars (kept components coloured), the Kaiser line at 1 and the
    cumulative share of variance explained as a line on the right-hand axis."""
    width, height = 640, 280
    left, right, top, bottom = 44, 44, 16, 40
    shown = list(eigenvalues[:MAX_SCREE_BARS])
    n = len(shown)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(shown), 1.0)
    step = _nice_step(peak)
    y_max = math.ceil(peak / step) * step

    def y_of(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    body: list[str] = []
    tick = 0.0
    while tick <= y_max + 1e-9:
        y = y_of(tick)
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, y + 4, f"{tick:g}", anchor="end"))
        tick += step
    for percent in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - percent / 100)
        body.append(_text(width - right + 6, y + 4, f"{percent}%", anchor="start"))
    slot = plot_w / max(n, 1)
    cumulative = 0.0
    points = []
    for i, value in enumerate(shown):
        x = left + i * slot
        cumulative += explained[i]
        colour = PRIMARY if i < kept else MUTED
        title = _("Component %(n)s: eigenvalue %(value).2f, %(share).1f%% of the variance") % {
            "n": i + 1,
            "value": value,
            "share": 100 * explained[i],
        }
        body.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{y_of(value):.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(0.0, top + plot_h - y_of(value)):.1f}" fill="{colour}" '
            f'class="scree-bar{" kept" if i < kept else ""}"><title>{escape(title)}</title></rect>'
        )
        points.append(f"{x + slot / 2:.1f},{top + plot_h * (1 - cumulative):.1f}")
        if n <= 20 or (i + 1) % 5 == 0 or i == 0:
            body.append(_text(x + slot / 2, top + plot_h + 14, str(i + 1)))
    body.append(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{TEXT}" stroke-width="1.5"/>'
    )
    kaiser = y_of(1.0)
    body.append(
        f'<line x1="{left}" x2="{width - right}" y1="{kaiser:.1f}" y2="{kaiser:.1f}" '
        f'stroke="{TARGET}" stroke-dasharray="5 4"/>'
    )
    body.append(_text(width - right - 4, kaiser - 4, _("eigenvalue 1 (Kaiser)"), anchor="end"))
    body.append(_text(left + plot_w / 2, height - 6, _("Component")))
    label = _("Scree plot: eigenvalues and cumulative variance explained")
    return _svg(width, height, label, body, "chart scree")


def scatter_svg(
    candidates: Sequence[dict], *, highlighted: int, min_km: float | None = None
) -> SafeString:
    """Similarity against distance for every listed candidate; the first `highlighted`
    (the ranked list on the page) in colour, the rest grey."""
    width, height = 640, 320
    left, right, top, bottom = 48, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    far = max([c["distance_km"] for c in candidates] + [min_km or 0, 1.0])
    x_step = _nice_step(far)
    x_max = math.ceil(far / x_step) * x_step
    low = min([c["similarity"] for c in candidates] + [0.0])
    y_min = -1.0 if low < -0.5 else (-0.5 if low < 0 else 0.0)

    def x_of(km: float) -> float:
        return left + plot_w * km / x_max

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - y_min) / (1 - y_min))

    body: list[str] = []
    value = y_min
    while value <= 1 + 1e-9:
        y = y_of(value)
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, y + 4, f"{value:g}", anchor="end"))
        value += 0.25 if y_min == 0 else 0.5
    km = 0.0
    while km <= x_max + 1e-9:
        body.append(_text(x_of(km), top + plot_h + 14, f"{km:g}"))
        km += x_step
    if min_km:
        x = x_of(min_km)
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="{TARGET}" '
            f'stroke-dasharray="5 4"/>'
        )
    # Grey ones first so that the highlighted ones are drawn on top.
    for rank in [*range(highlighted, len(candidates)), *range(min(highlighted, len(candidates)))]:
        c = candidates[rank]
        title = _("%(rank)s. %(name)s (%(prefecture)s): similarity %(sim).3f, %(km).0f km") % {
            "rank": rank + 1,
            "name": c["name"],
            "prefecture": c["prefecture"],
            "sim": c["similarity"],
            "km": c["distance_km"],
        }
        shown = rank < highlighted
        body.append(
            f'<circle cx="{x_of(c["distance_km"]):.1f}" cy="{y_of(c["similarity"]):.1f}" '
            f'r="{4 if shown else 2.5}" fill="{PRIMARY if shown else MUTED}" '
            f'fill-opacity="{0.9 if shown else 0.6}" class="point{" top" if shown else ""}">'
            f"<title>{escape(title)}</title></circle>"
        )
    body.append(_text(left + plot_w / 2, height - 6, _("Distance from the target (km)")))
    body.append(
        _text(
            12,
            top + plot_h / 2,
            _("Similarity"),
            extra=f' transform="rotate(-90 12 {top + plot_h / 2:.1f})"',
        )
    )
    label = _("Similarity and distance of the candidates")
    return _svg(width, height, label, body, "chart scatter")


def map_svg(
    points: Sequence[Sequence[float]], target: dict, candidates: Sequence[dict]
) -> SafeString:
    """The study area's municipalities as dots (an outline of the area without map
    tiles), the target and the ranked candidates marked. Equirectangular projection
    scaled by the cosine of the middle latitude, north up."""
    width = 640
    lats = [p[0] for p in points] + [target["latitude"]]
    lons = [p[1] for p in points] + [target["longitude"]]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * squeeze, 0.05)
    span_y = max(north - south, 0.05)
    margin = 12
    scale = (width - 2 * margin) / span_x
    height = int(min(max(span_y * scale + 2 * margin, 200), 720))
    scale = min(scale, (height - 2 * margin) / span_y)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return margin + (lon - west) * squeeze * scale, margin + (north - lat) * scale

    body = []
    for lat, lon in points:
        x, y = xy(lat, lon)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="{MUTED}"/>')
    for rank, c in enumerate(candidates, start=1):
        x, y = xy(c["latitude"], c["longitude"])
        title = _("%(rank)s. %(name)s (%(prefecture)s)") % {
            "rank": rank,
            "name": c["name"],
            "prefecture": c["prefecture"],
        }
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PRIMARY}" class="point top">'
            f"<title>{escape(title)}</title></circle>"
        )
        if rank <= 5:
            body.append(_text(x + 6, y - 4, str(rank), anchor="start"))
    x, y = xy(target["latitude"], target["longitude"])
    body.append(
        f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{TARGET}" '
        f'transform="rotate(45 {x:.1f} {y:.1f})" class="target"><title>'
        f"{escape(target['name'])}</title></rect>"
    )
    label = _("Map of the study area: the target and the ranked candidates")
    return _svg(width, height, label, body, "chart map")
