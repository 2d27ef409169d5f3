"""Writes of the observation log: observations (field notes and measurements) and the
network's list of metrics. Every change is kept by simple-history with its author;
deleting is soft."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from coordination.models import Network

from ..models import Metric, Observation

# What the forms may set; subjects are many-to-many and set after the row is saved.
OBSERVATION_FIELDS = [
    "observed_on",
    "observed_time",
    "event",
    "kind",
    "category",
    "title",
    "body",
    "metric",
    "value",
    "unit",
    "rating",
]
SUBJECT_FIELDS = ["participants", "organizations", "regions"]

# Suggested on the metrics page of a network that has none yet (the examples).
SUGGESTED_METRICS = [
    (N_("Participating firms"), N_("firms")),
    (N_("Inter-region transactions"), N_("transactions")),
    (N_("New joint projects"), N_("projects")),
    (N_("Inter-region visits"), N_("visits")),
]


class ObservationError(Exception):
    """A log write that is refused; the message says why."""


def _check(*, network: Network, data: dict) -> dict:
    """The data as it will be stored: subjects and the event of this network only, a
    measurement exactly when the kind is quantitative (its unit from the metric unless
    given), a title from the text's first line when none was given."""
    data = dict(data)
    event = data.get("event")
    if event is not None and event.network_id != network.pk:
        raise ObservationError(_("The event must belong to this network."))
    for name in SUBJECT_FIELDS:
        for subject in data.get(name) or []:
            if subject.network_id != network.pk:
                raise ObservationError(_("Every subject must belong to this network."))
    metric = data.get("metric")
    if data.get("kind") == Observation.Kind.QUANTITATIVE:
        if metric is None or data.get("value") is None:
            raise ObservationError(_("A quantitative observation needs a metric and a value."))
        if metric.network_id != network.pk:
            raise ObservationError(_("The metric must belong to this network."))
        data["unit"] = data.get("unit") or metric.unit
    else:
        data["kind"] = Observation.Kind.QUALITATIVE
        data["metric"] = None
        data["value"] = None
        data["unit"] = ""
    rating = data.get("rating")
    if rating is not None and not 1 <= rating <= 5:
        raise ObservationError(_("A rating is between 1 and 5."))
    if not (data.get("title") or "").strip():
        first_line = next(
            (line.strip(" #*-") for line in (data.get("body") or "").splitlines() if line.strip()),
            "",
        )
        if not first_line:
            raise ObservationError(_("Give the observation a title or a text."))
        data["title"] = first_line[:80]
    return data


def _set_subjects(observation: Observation, data: dict) -> None:
    for name in SUBJECT_FIELDS:
        if name in data:
            getattr(observation, name).set(data[name] or [])


@transaction.atomic
def observation_create(*, network: Network, data: dict, user) -> Observation:
    data = _check(network=network, data=data)
    observation = Observation(network=network, author=user)
    for name in OBSERVATION_FIELDS:
        if name in data:
            setattr(observation, name, data[name])
    observation._history_user = user
    observation.save()
    _set_subjects(observation, data)
    return observation


@transaction.atomic
def observation_update(*, observation: Observation, data: dict, user) -> dict:
    """Saves the edit; when the text changed, coded passages follow it or are flagged.
    Returns what happened to the passages ({"kept", "moved", "flagged"} counts)."""
    current = Observation.objects.select_for_update().get(
        pk=observation.pk, deleted_at__isnull=True
    )
    data = _check(network=current.network, data=data)
    old_body = current.body
    for name in OBSERVATION_FIELDS:
        if name in data:
            setattr(current, name, data[name])
    current._history_user = user
    current.save()
    _set_subjects(current, data)
    if current.body != old_body:
        from .coding import codings_reanchor

        return codings_reanchor(observation=current, old_body=old_body, user=user)
    return {"kept": 0, "moved": 0, "flagged": 0}


@transaction.atomic
def observation_delete(*, observation: Observation, user) -> Observation:
    """Soft delete: gone from the log, the exports and the counts, kept with its
    history (and restorable)."""
    current = Observation.objects.select_for_update().get(pk=observation.pk)
    if current.deleted_at is None:
        current.deleted_at = timezone.now()
        current._history_user = user
        current.save()
    return current


@transaction.atomic
def observation_restore(*, observation: Observation, user) -> Observation:
    current = Observation.objects.select_for_update().get(pk=observation.pk)
    if current.deleted_at is not None:
        current.deleted_at = None
        current._history_user = user
        current.save()
    return current


# --- metrics -------------------------------------------------------------------------


@transaction.atomic
def metric_save(*, network: Network, metric: Metric | None = None, data: dict) -> Metric:
    name = (data.get("name") or "").strip()
    if not name:
        raise ObservationError(_("A metric needs a name."))
    clash = Metric.objects.filter(network=network, name__iexact=name)
    if metric is not None:
        clash = clash.exclude(pk=metric.pk)
    if clash.exists():
        raise ObservationError(
            _("This network already has a metric called “%(name)s”.") % {"name": name}
        )
    if metric is None:
        metric = Metric(network=network)
        last = Metric.objects.filter(network=network).order_by("-position").first()
        metric.position = (last.position + 1) if last else 0
    metric.name = name
    metric.unit = (data.get("unit") or "").strip()
    metric.description = data.get("description") or ""
    metric.is_active = data.get("is_active", True)
    metric.save()
    return metric


@transaction.atomic
def metrics_add_suggested(*, network: Network) -> int:
    """Adds the suggested metrics the network does not have yet; returns how many."""
    existing = {name.casefold() for name in network.metrics.values_list("name", flat=True)}
    added = 0
    for name, unit in SUGGESTED_METRICS:
        label = _(name)
        if label.casefold() not in existing:
            metric_save(network=network, data={"name": label, "unit": _(unit)})
            added += 1
    return added


@transaction.atomic
def metric_delete(*, metric: Metric) -> None:
    """A metric in use is retired instead (its observations keep it)."""
    if metric.observations.exists():
        raise ObservationError(
            _("Observations use this metric; retire it instead (untick “offered in forms”).")
        )
    metric.delete()
