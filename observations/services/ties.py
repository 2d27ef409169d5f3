"""Every write of the observations app: the collaboration-tie registry.

Imports reuse coordination's machinery (reading tables, all-or-nothing runs with a
dry-run rollback, created/updated/unchanged reporting)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coordination import tables
from coordination.models import Network, Participant
from coordination.services.imports import ImportResult, RowOutcome, _apply, _cells, _run
from coordination.tables import RowError, TableError
from hubless.indicators_dirty import indicators_mark_dirty

from ..models import Tie

TIE_COLUMNS = [
    "source_email",
    "target_email",
    "kind",
    "started_on",
    "ended_on",
    "initiated_by",
    "note",
]
TIE_REQUIRED = ["source_email", "target_email", "kind", "started_on"]


class TieError(Exception):
    """A tie write that is refused; the message says why, for the person who tried."""


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _same_pair(source_id: int, target_id: int) -> Q:
    return Q(source_id=source_id, target_id=target_id) | Q(source_id=target_id, target_id=source_id)


def _check_duplicate(
    *,
    network: Network,
    source_id: int,
    target_id: int,
    kind: str,
    started_on: dt.date,
    ended_on: dt.date | None,
    exclude_pk: int | None = None,
) -> None:
    """Refuse a second record of the same collaboration: the same pair and kind with the
    same start (the database forbids it too), or with an overlapping period while the
    other record still counts (not deleted, not rejected)."""
    others = Tie.objects.filter(
        _same_pair(source_id, target_id), network=network, kind=kind, deleted_at__isnull=True
    )
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.filter(started_on=started_on).exists():
        raise TieError(
            _("These two already have a tie of this kind starting on %(date)s.")
            % {"date": started_on.isoformat()}
        )
    overlapping = others.exclude(status=Tie.Status.REJECTED).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=started_on)
    )
    if ended_on is not None:
        overlapping = overlapping.filter(started_on__lt=ended_on)
    other = overlapping.order_by("started_on").first()
    if other is not None:
        raise TieError(
            _(
                "These two already have an active tie of this kind (since %(date)s); "
                "edit that one or end it first."
            )
            % {"date": other.started_on.isoformat()}
        )


def _validate(*, network: Network, data: dict) -> None:
    source, target = data["source"], data["target"]
    for person in (source, target, data.get("initiated_by")):
        if person is not None and person.network_id != network.pk:
            raise TieError(_("Everyone on a tie must belong to this network."))
    if source.pk == target.pk:
        raise TieError(_("A tie needs two different participants."))
    broker = data.get("initiated_by")
    if broker is not None and broker.pk in (source.pk, target.pk):
        raise TieError(
            _("The broker must be a third person; leave it empty when the two did it themselves.")
        )
    if data.get("ended_on") and data["ended_on"] < data["started_on"]:
        raise TieError(_("A tie cannot end before it started."))
    event = data.get("origin_event")
    if event is not None and event.network_id != network.pk:
        raise TieError(_("The event must belong to this network."))


FORM_FIELDS = [
    "source",
    "target",
    "kind",
    "started_on",
    "ended_on",
    "initiated_by",
    "origin_event",
    "note",
]


@transaction.atomic
def tie_save(*, network: Network, tie: Tie | None = None, data: dict, user) -> Tie:
    """Create or edit a tie on the staff side; a new one is confirmed at once."""
    _validate(network=network, data=data)
    _check_duplicate(
        network=network,
        source_id=data["source"].pk,
        target_id=data["target"].pk,
        kind=data["kind"],
        started_on=data["started_on"],
        ended_on=data.get("ended_on"),
        exclude_pk=tie.pk if tie else None,
    )
    if tie is None:
        tie = Tie(network=network, status=Tie.Status.CONFIRMED, created_by=user)
    for name in FORM_FIELDS:
        if name in data:
            setattr(tie, name, data[name])
    _save_once(tie)
    return tie


def _save_once(tie: Tie) -> None:
    # Two people saving the same tie at once both pass the check above; the unique
    # constraint lets one win, and the other gets the same message instead of an error.
    try:
        with transaction.atomic():
            tie.save()
            indicators_mark_dirty(tie.network_id)
    except IntegrityError:
        raise TieError(
            _("These two already have a tie of this kind starting on %(date)s.")
            % {"date": tie.started_on.isoformat()}
        ) from None


@transaction.atomic
def tie_report(*, participant: Participant, data: dict) -> Tie:
    """A participant says they started a collaboration; it counts once confirmed."""
    other = data["other"]
    values = {
        "source": participant,
        "target": other,
        "kind": data["kind"],
        "started_on": data["started_on"],
        "ended_on": None,
        "origin_event": data.get("origin_event"),
    }
    network = participant.network
    _validate(network=network, data=values)
    _check_duplicate(
        network=network,
        source_id=participant.pk,
        target_id=other.pk,
        kind=data["kind"],
        started_on=data["started_on"],
        ended_on=None,
    )
    tie = Tie(
        network=network,
        status=Tie.Status.REPORTED,
        reported_by=participant,
        created_by=participant.user,
        note=data.get("note", ""),
        **values,
    )
    _save_once(tie)
    return tie


def _locked(tie: Tie) -> Tie:
    # Locked so that two coordinators clicking at once act once, on the current state.
    return Tie.objects.select_for_update().get(pk=tie.pk, deleted_at__isnull=True)


@transaction.atomic
def tie_confirm(*, tie: Tie) -> Tie:
    current = _locked(tie)
    if current.status != Tie.Status.REPORTED:
        raise TieError(_("Only a reported tie can be confirmed."))
    current.status = Tie.Status.CONFIRMED
    current.save()
    indicators_mark_dirty(current.network_id)
    return current


@transaction.atomic
def tie_reject(*, tie: Tie) -> Tie:
    current = _locked(tie)
    if current.status != Tie.Status.REPORTED:
        raise TieError(_("Only a reported tie can be rejected."))
    current.status = Tie.Status.REJECTED
    current.save()
    indicators_mark_dirty(current.network_id)
    return current


@transaction.atomic
def tie_delete(*, tie: Tie) -> Tie:
    """Soft delete: hidden from lists and indicators, kept with its history."""
    current = _locked(tie)
    current.deleted_at = timezone.now()
    current.save()
    indicators_mark_dirty(current.network_id)
    return current


# --- import ------------------------------------------------------------------------------


def ties_import(*, network: Network, data: bytes, filename: str, dry_run: bool) -> ImportResult:
    """All or nothing. Rows are matched to existing ties by the unordered pair, kind and
    start; ended_on, initiated_by and note are updated in place. New ties are confirmed
    (a coordinator's file is the record); an existing tie keeps its status."""
    table = tables.read_table(data, filename, allowed=TIE_COLUMNS, required=TIE_REQUIRED)
    parsers = {
        "source_email": tables.email,
        "target_email": tables.email,
        "kind": lambda v: tables.choice(v, choices=Tie.Kind.values, default=None),
        "started_on": lambda v: tables.date(v, required=True),
        "ended_on": tables.date,
        "initiated_by": lambda v: tables.email(v, required=False),
        "note": lambda v: tables.text(v, max_length=5000),
    }
    people = {p.email.lower(): p for p in Participant.objects.filter(network=network)}
    existing = {
        (*_pair(t.source_id, t.target_id), t.kind, t.started_on): t
        for t in Tie.objects.filter(network=network, deleted_at__isnull=True)
    }

    errors: list[RowError] = []
    planned: list[tuple[int, dict]] = []
    seen: dict[tuple, int] = {}
    for number, row in table.rows:
        values = _cells(number, row, parsers, errors)
        if values["kind"] is None and "kind" not in [e.column for e in errors if e.row == number]:
            errors.append(RowError(number, "kind", _("This field is required.")))
        ends = {}
        for column in ("source_email", "target_email", "initiated_by"):
            mail = values[column]
            if mail and mail not in people:
                errors.append(
                    RowError(
                        number,
                        column,
                        _("%(email)s is not a participant of this network.") % {"email": mail},
                    )
                )
            ends[column] = people.get(mail) if mail else None
        source, target, broker = ends["source_email"], ends["target_email"], ends["initiated_by"]
        if values["source_email"] and values["source_email"] == values["target_email"]:
            errors.append(
                RowError(number, "target_email", _("A tie needs two different participants."))
            )
        elif broker is not None and broker in (source, target):
            errors.append(
                RowError(
                    number,
                    "initiated_by",
                    _(
                        "The broker must be a third person; leave it empty when the two did it "
                        "themselves."
                    ),
                )
            )
        started, ended = values["started_on"], values["ended_on"]
        if started and ended and ended < started:
            errors.append(RowError(number, "ended_on", _("Ends before it started (started_on).")))
        if source and target and source != target and values["kind"] and started:
            key = (*_pair(source.pk, target.pk), values["kind"], started)
            if key in seen:
                errors.append(
                    RowError(
                        number,
                        "started_on",
                        _("The same pair, kind and start are already on row %(row)s.")
                        % {"row": seen[key]},
                    )
                )
            else:
                seen[key] = number
            planned.append(
                (
                    number,
                    {
                        "key": key,
                        "source": source,
                        "target": target,
                        "kind": values["kind"],
                        "started_on": started,
                        "ended_on": ended,
                        "initiated_by": broker,
                        "note": values["note"] or "",
                    },
                )
            )
    if errors:
        raise TableError(errors)

    def work(result: ImportResult) -> None:
        for number, values in planned:
            tie = existing.get(values["key"])
            if tie is None:
                tie = Tie(
                    network=network,
                    source=values["source"],
                    target=values["target"],
                    kind=values["kind"],
                    started_on=values["started_on"],
                    status=Tie.Status.CONFIRMED,
                )
            wanted = {"ended_on": values["ended_on"], "initiated_by": values["initiated_by"]}
            # A file without a note column leaves the stored notes alone.
            if "note" in table.columns:
                wanted["note"] = values["note"]
            if "initiated_by" not in table.columns:
                wanted.pop("initiated_by")
            if "ended_on" not in table.columns:
                wanted.pop("ended_on")
            action = _apply(tie, wanted)
            label = _("%(a)s – %(b)s (%(kind)s, %(date)s)") % {
                "a": values["source"].full_name,
                "b": values["target"].full_name,
                "kind": Tie.Kind(values["kind"]).label,
                "date": values["started_on"].isoformat(),
            }
            result.rows.append(RowOutcome(number, action, label))

    return _run(dry_run, work, network_id=network.pk)
