"""The plain rows the indicators are computed from. `observations.indicator_data` loads
them from the database; tests build them by hand. Nothing here knows about Django.

Rows are NamedTuples: immutable, cheap to build by the hundred thousand, and built
straight from `values_list` rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

MEMBER = "member"
COORDINATOR = "coordinator"
OBSERVER = "observer"
ROLES = (MEMBER, COORDINATOR, OBSERVER)

JOINT_PROJECT = "joint_project"
TIE_KINDS = (
    "acquaintance",
    "information_exchange",
    "transaction",
    JOINT_PROJECT,
    "shared_customer",
    "mutual_support_agreement",
)


class PersonRow(NamedTuple):
    """A participant. `latitude`/`longitude` locate their organization: its own point,
    else its region's centre, else None."""

    id: int
    role: str
    organization: int
    organization_kind: str
    region: int
    latitude: float | None
    longitude: float | None
    joined_on: dt.date
    left_on: dt.date | None = None
    recruited_by: int | None = None


class TieRow(NamedTuple):
    """One confirmed, not deleted tie record (undirected)."""

    source: int
    target: int
    kind: str
    started_on: dt.date
    ended_on: dt.date | None = None
    initiated_by: int | None = None


class EventRow(NamedTuple):
    """An event with its invitations counted. Dates are local (Asia/Tokyo) dates:
    `answer_by` is the RSVP deadline's date, else the start's."""

    id: int
    cancelled: bool
    starts_on: dt.date
    answer_by: dt.date
    attendance_recorded: bool
    proposed_by: int | None
    invitations: int = 0
    answered: int = 0
    attended: int = 0


class BulletinRow(NamedTuple):
    """A bulletin whose sending started (`started_on`, a local date)."""

    id: int
    started_on: dt.date
    cancelled: bool = False


class DeliveryCount(NamedTuple):
    """How many deliveries of one bulletin were sent on `sent_on` and first read on
    `read_on` (None: not read)."""

    bulletin: int
    sent_on: dt.date
    read_on: dt.date | None
    count: int


@dataclass
class NetworkData:
    """Everything the indicators of one network need, for any date."""

    regions: dict[int, str] = field(default_factory=dict)
    people: list[PersonRow] = field(default_factory=list)
    ties: list[TieRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    bulletins: list[BulletinRow] = field(default_factory=list)
    deliveries: list[DeliveryCount] = field(default_factory=list)

    @property
    def start(self) -> dt.date | None:
        """The network's start: the first day anyone joined."""
        return min((p.joined_on for p in self.people), default=None)
