"""All-or-nothing imports of regions and participants (CSV or XLSX)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hubless.indicators_dirty import indicators_mark_dirty

from .. import tables
from ..models import (
    ImportRun,
    Network,
    Organization,
    OrganizationKind,
    Participant,
    Region,
)
from ..tables import CellError, RowError, TableError

REGION_COLUMNS = ["name", "prefecture", "latitude", "longitude", "population", "municipality_code"]
PARTICIPANT_COLUMNS = [
    "full_name",
    "email",
    "organization",
    "organization_kind",
    "region",
    "role",
    "joined_on",
    "left_on",
    "recruited_by",
    "latitude",
    "longitude",
    "name_kana",
]
PARTICIPANT_REQUIRED = ["full_name", "email", "organization", "region", "joined_on"]


# --- imports -------------------------------------------------------------------------


@dataclass
class RowOutcome:
    row: int
    action: str  # created, updated, unchanged
    label: str


@dataclass
class ImportResult:
    dry_run: bool
    rows: list[RowOutcome] = field(default_factory=list)
    organizations_created: int = 0

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    def summary(self) -> str:
        return _("%(created)s created, %(updated)s updated, %(unchanged)s unchanged") % {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "organizations_created": self.organizations_created,
            "rows": [{"row": r.row, "action": r.action, "label": r.label} for r in self.rows],
        }


class _DryRunRollback(Exception):
    pass


def _apply(obj, values: dict) -> str:
    """Set the values; say whether the object was created, updated or left unchanged."""
    if obj.pk is None:
        for key, value in values.items():
            setattr(obj, key, value)
        obj.save()
        return "created"
    changed = [key for key, value in values.items() if getattr(obj, key) != value]
    if not changed:
        return "unchanged"
    for key in changed:
        setattr(obj, key, values[key])
    obj.save()
    return "updated"


def _run(dry_run: bool, work, *, network_id: int | None = None) -> ImportResult:
    """All or nothing: run `work` in one transaction, rolled back for a dry run. An
    applied import of `network_id` asks for its indicators to be recomputed."""
    result = ImportResult(dry_run=dry_run)
    try:
        with transaction.atomic():
            work(result)
            if network_id is not None:
                indicators_mark_dirty(network_id)  # dropped with a rolled-back dry run
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    return result


def _cells(row_number: int, row: dict, parsers: dict, errors: list[RowError]) -> dict:
    """Parse every cell; a cell that fails is reported and reads as None, so that the
    row's other checks still run and the whole list of problems comes out at once."""
    values = {}
    for column, parse in parsers.items():
        try:
            values[column] = parse(row.get(column, ""))
        except CellError as exc:
            errors.append(RowError(row_number, column, str(exc)))
            values[column] = None
    return values


def _coordinates(row_number: int, row: dict, values: dict, errors: list[RowError]) -> None:
    given = [row.get(c, "") not in ("", None) for c in ("latitude", "longitude")]
    if given[0] != given[1]:
        errors.append(
            RowError(row_number, "latitude", _("Give both latitude and longitude, or neither."))
        )


def regions_import(*, network: Network, data: bytes, filename: str, dry_run: bool) -> ImportResult:
    table = tables.read_table(data, filename, allowed=REGION_COLUMNS, required=["name"])
    parsers = {
        "name": lambda v: tables.text(v, required=True),
        "prefecture": lambda v: tables.text(v, max_length=50),
        "latitude": lambda v: tables.number(v, low=-90, high=90),
        "longitude": lambda v: tables.number(v, low=-180, high=180),
        "population": tables.whole_number,
        "municipality_code": lambda v: tables.text(v, max_length=6),
    }
    errors: list[RowError] = []
    planned: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    for number, row in table.rows:
        values = _cells(number, row, parsers, errors)
        # Only the columns present in the file are written: a file without population
        # leaves the stored population alone.
        values = {k: v for k, v in values.items() if k in table.columns}
        values.setdefault("latitude", None)
        values.setdefault("longitude", None)
        _coordinates(number, row, values, errors)
        code = values.get("municipality_code", "")
        if code and not (code.isdigit() and len(code) in (5, 6)):
            errors.append(
                RowError(
                    number,
                    "municipality_code",
                    _("%(value)r is not a 5- or 6-digit code.") % {"value": code},
                )
            )
        key = values["name"]
        if key and key in seen:
            errors.append(
                RowError(
                    number,
                    "name",
                    _("Region %(name)r is already on row %(row)s.")
                    % {"name": key, "row": seen[key]},
                )
            )
        seen[key] = number
        if "latitude" not in table.columns:
            values.pop("latitude")
            values.pop("longitude")
        planned.append((number, values))
    if errors:
        raise TableError(errors)

    existing = {r.name: r for r in Region.objects.filter(network=network)}

    def work(result: ImportResult) -> None:
        for number, values in planned:
            region = existing.get(values["name"]) or Region(network=network)
            result.rows.append(RowOutcome(number, _apply(region, values), values["name"]))

    return _run(dry_run, work, network_id=network.pk)


def participants_import(
    *, network: Network, data: bytes, filename: str, dry_run: bool
) -> ImportResult:
    table = tables.read_table(
        data, filename, allowed=PARTICIPANT_COLUMNS, required=PARTICIPANT_REQUIRED
    )
    parsers = {
        "full_name": lambda v: tables.text(v, required=True),
        "name_kana": tables.text,
        "email": tables.email,
        "organization": lambda v: tables.text(v, required=True),
        "organization_kind": lambda v: tables.choice(
            v, choices=OrganizationKind.values, default=None
        ),
        "region": lambda v: tables.text(v, required=True),
        "role": lambda v: tables.choice(
            v, choices=Participant.Role.values, default=Participant.Role.MEMBER
        ),
        "joined_on": lambda v: tables.date(v, required=True),
        "left_on": tables.date,
        "recruited_by": lambda v: tables.email(v, required=False),
        "latitude": lambda v: tables.number(v, low=-90, high=90),
        "longitude": lambda v: tables.number(v, low=-180, high=180),
    }
    regions = {r.name: r for r in Region.objects.filter(network=network)}
    organizations = {o.name: o for o in Organization.objects.filter(network=network)}
    people = {p.email.lower(): p for p in Participant.objects.filter(network=network)}

    errors: list[RowError] = []
    planned: list[tuple[int, dict]] = []
    emails_in_file: dict[str, int] = {}
    # What the file says about each organization, and the row that first said it, so a
    # contradiction between two rows is reported instead of the last row winning.
    org_facts: dict[str, dict] = {}
    for number, row in table.rows:
        values = _cells(number, row, parsers, errors)
        _coordinates(number, row, values, errors)
        if values["left_on"] and values["joined_on"] and values["left_on"] < values["joined_on"]:
            errors.append(
                RowError(number, "left_on", _("Left before joining (joined_on is later)."))
            )
        if values["region"] and values["region"] not in regions:
            known = ", ".join(sorted(regions)) or _("none yet; import regions first")
            errors.append(
                RowError(
                    number,
                    "region",
                    _("%(value)r is not a region of this network (known: %(known)s).")
                    % {"value": values["region"], "known": known},
                )
            )
        mail = values["email"]
        if mail and mail in emails_in_file:
            errors.append(
                RowError(
                    number,
                    "email",
                    _("%(email)s is already on row %(row)s.")
                    % {"email": mail, "row": emails_in_file[mail]},
                )
            )
        recruiter = values["recruited_by"]
        if recruiter:
            if recruiter == mail:
                errors.append(
                    RowError(number, "recruited_by", _("A person cannot recruit themself."))
                )
            elif recruiter not in people and recruiter not in emails_in_file:
                errors.append(
                    RowError(
                        number,
                        "recruited_by",
                        _(
                            "%(email)s is neither a participant of this network nor on an earlier row."
                        )
                        % {"email": recruiter},
                    )
                )
        if mail:
            emails_in_file.setdefault(mail, number)
        if not (values["organization"] and values["region"]):
            continue

        facts = {"region": values["region"]}
        if values["organization_kind"]:
            facts["kind"] = values["organization_kind"]
        if values["latitude"] is not None:
            facts["location"] = (values["latitude"], values["longitude"])
        known_facts = org_facts.setdefault(values["organization"], {})
        for key, value in facts.items():
            if key in known_facts and known_facts[key][0] != value:
                errors.append(
                    RowError(
                        number,
                        {"region": "region", "kind": "organization_kind", "location": "latitude"}[
                            key
                        ],
                        _("Row %(row)s gives organization %(org)r a different value (%(value)s).")
                        % {
                            "row": known_facts[key][1],
                            "org": values["organization"],
                            "value": known_facts[key][0],
                        },
                    )
                )
            known_facts.setdefault(key, (value, number))
        planned.append((number, values))
    if errors:
        raise TableError(errors)

    def work(result: ImportResult) -> None:
        for name, facts in org_facts.items():
            organization = organizations.get(name) or Organization(network=network, name=name)
            wanted = {"region": regions[facts["region"][0]]}
            if "kind" in facts:
                wanted["kind"] = facts["kind"][0]
            elif organization.pk is None:
                wanted["kind"] = OrganizationKind.FIRM
            if "location" in facts:
                wanted["latitude"], wanted["longitude"] = facts["location"][0]
            if _apply(organization, wanted) == "created":
                result.organizations_created += 1
            organizations[name] = organization
        for number, values in planned:
            participant = people.get(values["email"]) or Participant(
                network=network, email=values["email"]
            )
            wanted = {
                "full_name": values["full_name"],
                "organization": organizations[values["organization"]],
                "role": values["role"],
                "joined_on": values["joined_on"],
                "left_on": values["left_on"],
            }
            if "name_kana" in table.columns:
                wanted["name_kana"] = values["name_kana"]
            if "recruited_by" in table.columns:
                wanted["recruited_by"] = (
                    people.get(values["recruited_by"]) if values["recruited_by"] else None
                )
            action = _apply(participant, wanted)
            people[values["email"]] = participant
            result.rows.append(
                RowOutcome(number, action, f"{values['full_name']} <{values['email']}>")
            )

    return _run(dry_run, work, network_id=network.pk)


IMPORTERS = {
    ImportRun.Kind.REGIONS: regions_import,
    ImportRun.Kind.PARTICIPANTS: participants_import,
}


def import_run_preview(
    *, network: Network, kind: str, filename: str, data: bytes, user
) -> ImportRun:
    """Keep the upload and its dry-run report, for the preview page."""
    run = ImportRun(
        network=network, kind=kind, filename=filename[:255], content=data, created_by=user
    )
    try:
        result = IMPORTERS[kind](network=network, data=data, filename=filename, dry_run=True)
    except TableError as exc:
        run.status = ImportRun.Status.INVALID
        run.report = {"errors": [e.as_dict() for e in exc.errors]}
    else:
        run.status = ImportRun.Status.PREVIEWED
        run.report = result.as_dict()
    run.save()
    return run


class ImportNotApplicable(Exception):
    pass


@transaction.atomic
def import_run_apply(*, run_id: int) -> ImportRun:
    # Locked so that a double-clicked "Apply" imports once.
    run = ImportRun.objects.select_for_update().select_related("network").get(pk=run_id)
    if run.status != ImportRun.Status.PREVIEWED:
        raise ImportNotApplicable(_("This import was already applied or has errors."))
    try:
        result = IMPORTERS[run.kind](
            network=run.network, data=bytes(run.content), filename=run.filename, dry_run=False
        )
    except TableError as exc:
        run.status = ImportRun.Status.INVALID
        run.report = {"errors": [e.as_dict() for e in exc.errors]}
    else:
        run.status = ImportRun.Status.APPLIED
        run.applied_at = timezone.now()
        run.report = result.as_dict()
    run.save()
    return run
