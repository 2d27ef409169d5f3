"""Research exports of the observation log: CSV (a ZIP of four tables), XLSX, JSON.

One query layer turns the network's observations (filtered by the log's `criteria`)
into plain rows, chunk by chunk: a server-side cursor gives `CHUNK_SIZE` observations
at a time, and their participants, organizations, regions and codings come in one
query each per chunk, so memory stays flat and the query count grows with the chunks,
never with the rows.
The writers stream those rows: CSV and JSON as generators of bytes (the web streams
them, the command writes them to a file), XLSX through openpyxl's write-only workbook.

Pseudonymised exports replace participants, organizations, authors and events by the
stable pseudonyms of `pseudonyms.pseudonym` and pass every free text (titles, texts,
quotes, memos, code names and descriptions) through the network's Masker, plus the
cases it misses (see `_TextMasker`). Metric and region names are the study's
variables and stay.

Large XLSX files are built in the background: `export_job_create` records an
ExportJob and enqueues `observations.tasks.build_observation_export`, which calls
`export_job_run`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import logging
import re
import secrets
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from itertools import islice
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import connection, transaction
from django.db.models import BooleanField, CharField, F, Func, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone

from coordination.models import Network, Organization, Participant, Region

from .models import Code, Coding, ExportJob, Memo, Observation
from .pseudonyms import AMBIGUOUS, EMAIL_MASK, Masker, _variants, pseudonym
from .selectors.log import Criteria, observation_queryset

log = logging.getLogger(__name__)

# Rows fetched from the server-side cursor at a time; the subjects and codings of one
# chunk come in one query each.
CHUNK_SIZE = 2000
# Up to this many observations an XLSX file is built during the request; above it a
# background job builds it (openpyxl needs about a millisecond per row).
XLSX_INLINE_MAX_ROWS = 5000
# How lists (participants, regions, codes) are joined in a CSV or XLSX cell.
LIST_SEPARATOR = "; "
BOM = codecs.BOM_UTF8

OBSERVATION_COLUMNS = [
    "id",
    "observed_on",
    "observed_time",
    "event_id",
    "event_title",
    "event_date",
    "author",
    "kind",
    "category",
    "title",
    "body",
    "participants",
    "organizations",
    "regions",
    "metric",
    "value",
    "unit",
    "rating",
    "created_at",
    "updated_at",
    "codes",
    "passage_codes",
    "passages",
]
CODING_COLUMNS = [
    "id",
    "observation_id",
    "code_id",
    "code",
    "start",
    "end",
    "quote",
    "needs_review",
    "by",
    "at",
]
CODE_COLUMNS = ["id", "name", "path", "parent_id", "description", "colour"]
MEMO_COLUMNS = [
    "id",
    "observation_id",
    "code_id",
    "code",
    "author",
    "body",
    "created_at",
    "updated_at",
]
TABLES = {
    "observations": OBSERVATION_COLUMNS,
    "codings": CODING_COLUMNS,
    "codes": CODE_COLUMNS,
    "memos": MEMO_COLUMNS,
}
# Columns holding lists (joined by LIST_SEPARATOR in CSV and XLSX, lists in JSON),
# timestamps and numbers, by position, for the writers.
_LISTS = [OBSERVATION_COLUMNS.index(c) for c in ("participants", "organizations", "regions")]
_LISTS += [OBSERVATION_COLUMNS.index(c) for c in ("codes", "passage_codes")]
_VALUE = OBSERVATION_COLUMNS.index("value")
_STAMPS = {
    "observations": [OBSERVATION_COLUMNS.index(c) for c in ("created_at", "updated_at")],
    "codings": [CODING_COLUMNS.index("at")],
    "codes": [],
    "memos": [MEMO_COLUMNS.index(c) for c in ("created_at", "updated_at")],
}
_BOOLEANS = {"codings": [CODING_COLUMNS.index("needs_review")]}

# What the observation query reads, in this order (see _Export.observation_row). The
# timestamps come as text, parsed by datetime.fromisoformat: Django's time-zone-aware
# loader parses each one in Python, which took a quarter of the export's time.
_OBSERVATION_SQL = (
    "pk",
    "observed_on",
    "observed_time",
    "event_id",
    "event__title",
    Cast("event__starts_at", output_field=CharField()),
    "author_id",
    "author__email",
    "kind",
    "category",
    "title",
    "body",
    "metric__name",
    "value",
    "unit",
    "rating",
    Cast("created_at", output_field=CharField()),
    Cast("updated_at", output_field=CharField()),
)
_CODING_SQL = (
    "pk",
    "observation_id",
    "code_id",
    "start",
    "end",
    "quote",
    "needs_review",
    "created_by_id",
    "created_by__email",
    "created_at",
)
_MEMO_SQL = (
    "pk",
    "observation_id",
    "code_id",
    "author_id",
    "author__email",
    "body",
    "created_at",
    "updated_at",
)

Row = list[Any]
# Codings of the whole observation before its passages, on every database.
_WHOLE_FIRST = F("start").asc(nulls_first=True)


@dataclass(frozen=True)
class LogFormat:
    extension: str
    content_type: str


FORMATS: dict[str, LogFormat] = {
    "csv": LogFormat("zip", "application/zip"),
    "xlsx": LogFormat("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "json": LogFormat("json", "application/json"),
}


def export_filename(network: Network, fmt: str, *, day: dt.date | None = None) -> str:
    extension = FORMATS[fmt].extension
    return f"observations-{network.slug}-{(day or timezone.localdate()).isoformat()}.{extension}"


# --- masking ---------------------------------------------------------------------------

# Pseudonyms and masks already in a text: the second pass leaves them alone.
_TOKENS = r"[POEU]-[0-9a-f]{8}|" + re.escape(AMBIGUOUS) + "|" + re.escape(EMAIL_MASK)
_KATAKANA = re.compile(r"[\u30a1-\u30f6]")
_HIRAGANA = re.compile(r"[\u3041-\u3096]")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _half_width_table() -> dict[str, str]:
    """Full-width katakana → half-width ("ダ" → "ﾀﾞ"), read off NFKC's own mapping."""
    table: dict[str, str] = {}
    for code in range(0xFF66, 0xFF9E):
        half = chr(code)
        for mark in ("", "\uff9e", "\uff9f"):
            full = unicodedata.normalize("NFKC", half + mark)
            if len(full) == 1:
                table.setdefault(full, half + mark)
    return table


_HALF_WIDTH = str.maketrans(_half_width_table())
# ASCII letters and digits → their full-width forms ("ABC" → "ＡＢＣ").
_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def _kana_forms(text: str) -> set[str]:
    """A reading in katakana, hiragana and half-width katakana: texts write any."""
    hiragana = _KATAKANA.sub(lambda m: chr(ord(m.group(0)) - 0x60), text)
    katakana = _HIRAGANA.sub(lambda m: chr(ord(m.group(0)) + 0x60), text)
    return {text, hiragana, katakana, katakana.translate(_HALF_WIDTH)}


def _more_variants(name: str, *, legal_forms: bool = False, kana: bool = False) -> set[str]:
    normal = unicodedata.normalize("NFKC", name)
    forms = {name, normal, normal.translate(_FULL_WIDTH)}
    if kana:
        forms = set().union(*(_kana_forms(form) for form in forms))
    return set().union(*(_variants(form, legal_forms=legal_forms) for form in forms))


class _TextMasker:
    """The network's Masker, then a second pass for what it misses (reported to the
    owner of pseudonyms.py; delete this pass once Masker covers them):

    - names whose case folding changes their length or letters ("Straße" folds to
      "strasse", "İ" to "i̇"): Masker's pattern holds the folded form only;
    - names stored in full-width letters or with "㈱"/"㈲" and written in ASCII or
      with "(株)" (NFKC forms), names stored in ASCII and written in full-width
      letters, and kana readings written in the other script (hiragana, half-width);
    - the display names of the network's staff (authors are pseudonymised, so their
      names in texts are masked too)."""

    def __init__(self, network: Network):
        self.network = network
        self._masker = Masker(network)

    @cached_property
    def _extra(self) -> tuple[re.Pattern | None, dict[str, str]]:
        owners: dict[str, set[str]] = defaultdict(set)
        spelled: set[str] = set()

        def add(variants: set[str], label: str, handled: set[str] = frozenset()) -> None:
            for variant in variants:
                owners[_fold(variant)].add(label)
                if variant not in handled:
                    spelled.add(variant)

        def handled(*names: str, legal_forms: bool = False) -> set[str]:
            """What the first pass finds already: Masker's own variants, unless case
            folding changes them (its pattern holds the folded form)."""
            found = set().union(*(_variants(n, legal_forms=legal_forms) for n in names))
            return {v for v in found if v.casefold() == v.lower()}

        people = Participant.objects.filter(network=self.network).values_list(
            "pk", "full_name", "name_kana"
        )
        for pk, full_name, kana in people:
            label = pseudonym(self.network, pk, "participant")
            add(
                _more_variants(full_name) | _more_variants(kana, kana=True),
                label,
                handled(full_name) | handled(kana),
            )
        organizations = Organization.objects.filter(network=self.network).values_list(
            "pk", "name", "name_kana"
        )
        for pk, name, kana in organizations:
            label = pseudonym(self.network, pk, "organization")
            add(
                _more_variants(name, legal_forms=True) | _more_variants(kana, kana=True),
                label,
                handled(name, legal_forms=True) | handled(kana),
            )
        staff = get_user_model().objects.filter(network_roles__network=self.network)
        for pk, display_name in staff.values_list("pk", "display_name"):
            add(_more_variants(display_name), pseudonym(self.network, pk, "user"))
        if not spelled:
            return None, {}
        replacements = {
            key: (next(iter(labels)) if len(labels) == 1 else AMBIGUOUS)
            for key, labels in owners.items()
        }
        names = sorted(spelled, key=len, reverse=True)
        # The look-ahead lets the scan skip, with one character test, every position
        # where no name (and no pseudonym) can start.
        first = sorted({name[0] for name in names} | set("POEU["))
        pattern = re.compile(
            "(?=["
            + "".join(re.escape(c) for c in first)
            + "])(?:"
            + _TOKENS
            + "|"
            + "|".join(re.escape(name) for name in names)
            + ")",
            re.IGNORECASE,
        )
        return pattern, replacements

    def mask(self, text: str) -> str:
        if not text:
            return text or ""
        text = self._masker.mask(text)
        pattern, replacements = self._extra
        if pattern is None:
            return text
        return pattern.sub(lambda m: replacements.get(_fold(m.group(0)), m.group(0)), text)


# --- rows ------------------------------------------------------------------------------


def _batched(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def _grouped(pairs: Iterable[tuple[int, Any]]) -> dict[int, list]:
    groups: dict[int, list] = defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return groups


def _in_chunk(ids: list[int]) -> Q:
    """The filter "observation in this chunk". On PostgreSQL one parameter, the ids as
    an array literal (observation_id = ANY('{1,2,...}'::bigint[])): an IN list of
    2,000 parameters made Django and psycopg prepare and quote every id, which took
    most of the export's time. The redundant range tells the planner how few rows
    that is (a log's order follows its ids closely); without it, it scanned the whole
    coding table for every chunk."""
    if connection.vendor == "postgresql":
        return Q(
            Func(
                F("observation_id"),
                Value("{" + ",".join(map(str, ids)) + "}"),
                arg_joiner=" = ANY((",
                template="%(expressions)s)::bigint[])",
                output_field=BooleanField(),
            ),
            observation_id__gte=min(ids),
            observation_id__lte=max(ids),
        )
    return Q(observation_id__in=ids)


def _parse_stamp(text: str) -> dt.datetime:
    """A timestamp as the database writes it: PostgreSQL with its offset (the
    connection's time zone is UTC), SQLite without one, in UTC."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


class _Export:
    """One export: the network, how it names things, and its caches."""

    def __init__(
        self,
        *,
        network: Network,
        criteria: Criteria | None,
        pseudonymized: bool,
        chunk_size: int = CHUNK_SIZE,
    ):
        self.network = network
        self.criteria = criteria or {}
        self.pseudonymized = pseudonymized
        self.chunk_size = chunk_size
        self.tz = timezone.get_default_timezone()
        self.exported_at = timezone.now().astimezone(self.tz)
        self.observations = 0  # written so far
        self._masker = _TextMasker(network) if pseudonymized else None
        self._pseudonyms: dict[tuple[str, int], str] = {}

    # naming
    def _pseudonym(self, kind: str, pk: int) -> str:
        key = (kind, pk)
        found = self._pseudonyms.get(key)
        if found is None:
            found = self._pseudonyms[key] = pseudonym(self.network, pk, kind)
        return found

    def text(self, text: str) -> str:
        return self._masker.mask(text) if self._masker else text

    def user(self, pk: int | None, email: str | None) -> str:
        if pk is None:
            return ""
        return self._pseudonym("user", pk) if self.pseudonymized else email or ""

    def stamp(self, value: dt.datetime | None) -> dt.datetime | None:
        return value.astimezone(self.tz) if value is not None else None

    @cached_property
    def code_paths(self) -> dict[int, str]:
        """ "Parent/Child" for every code of the network (deleted ones too, so that a
        live child of a deleted parent keeps its path), masked when pseudonymised."""
        codes = {
            pk: (parent, self.text(name))
            for pk, parent, name in Code.objects.filter(network=self.network).values_list(
                "pk", "parent_id", "name"
            )
        }
        paths: dict[int, str] = {}

        def path(pk: int, seen: frozenset = frozenset()) -> str:
            if pk not in paths:
                parent, name = codes[pk]
                if parent is None or parent in seen or parent not in codes:
                    paths[pk] = name
                else:
                    paths[pk] = path(parent, seen | {pk}) + "/" + name
            return paths[pk]

        for pk in codes:
            path(pk)
        return paths

    # queries
    def observations_by_pk(self) -> QuerySet:
        """The filtered log by primary key: observation_queryset's DISTINCT (needed for
        its joins) then applies to one column, not to every exported text."""
        filtered = observation_queryset(network=self.network, criteria=self.criteria)
        return Observation.objects.filter(pk__in=filtered.values("pk")).order_by(
            "-observed_on", "-observed_time", "-pk"
        )

    def _live_codings(self) -> QuerySet:
        return Coding.objects.filter(deleted_at__isnull=True, code__deleted_at__isnull=True)

    # participants, organizations and regions
    @cached_property
    def _names(self) -> dict[str, dict[int, str]]:
        """Names by primary key, loaded once: the chunks' subject queries then need no
        joins (participants and organizations only when names are shown)."""
        names: dict[str, dict[int, str]] = {
            "region": dict(Region.objects.filter(network=self.network).values_list("pk", "name"))
        }
        if not self.pseudonymized:
            names["participant"] = dict(
                Participant.objects.filter(network=self.network).values_list("pk", "full_name")
            )
            names["organization"] = dict(
                Organization.objects.filter(network=self.network).values_list("pk", "name")
            )
        return names

    def _namer(self, kind: str) -> Callable[[list[int]], list[str]]:
        """How a row names its participants, organizations or regions from their keys:
        in the order of the records, never by name (sorted by name, a pseudonymised
        export would give away the names' alphabetical order); regions, which are
        not personal, by name."""
        if self.pseudonymized and kind != "region":

            def pseudonyms(pks: list[int]) -> list[str]:
                pks.sort()
                return [self._pseudonym(kind, pk) for pk in pks]

            return pseudonyms
        names = self._names[kind]
        lookup = names.__getitem__

        def named(pks: list[int]) -> list[str]:
            pks.sort()
            try:
                found = list(map(lookup, pks))
            except KeyError:  # linked to a record of another network: look it up
                model = {"participant": Participant, "organization": Organization}
                field = "full_name" if kind == "participant" else "name"
                rows = model.get(kind, Region).objects.filter(pk__in=pks).values_list("pk", field)
                names.update(rows)
                found = [names.get(pk, "") for pk in pks]
            return sorted(found) if kind == "region" else found

        return named

    def _subjects(self, in_chunk: Q) -> tuple[dict[int, list[int]], ...]:
        """A chunk's participant, organization and region keys by observation: one
        query per through table, keys only (the names come from `_names`)."""
        return tuple(
            _grouped(through.objects.filter(in_chunk).values_list("observation_id", column))
            for through, column in (
                (Observation.participants.through, "participant_id"),
                (Observation.organizations.through, "organization_id"),
                (Observation.regions.through, "region_id"),
            )
        )

    # observations
    def observation_batches(self, *, details: bool = False) -> Iterator[tuple[list[Row], list]]:
        """Chunks of observation rows (OBSERVATION_COLUMNS); with `details`, also each
        row's codings (CODING_COLUMNS) and memos (MEMO_COLUMNS)."""
        paths = self.code_paths
        name_people = self._namer("participant")
        name_firms = self._namer("organization")
        name_places = self._namer("region")
        rows = (
            self.observations_by_pk()
            .values_list(*_OBSERVATION_SQL)
            .iterator(chunk_size=self.chunk_size)
        )
        for batch in _batched(rows, self.chunk_size):
            in_chunk = _in_chunk([row[0] for row in batch])
            subjects = self._subjects(in_chunk)
            codings: dict[int, list] = defaultdict(list)
            if details:
                for coding in (
                    self._live_codings()
                    .filter(in_chunk)
                    .order_by("observation_id", _WHOLE_FIRST, "pk")
                    .values_list(*_CODING_SQL)
                ):
                    codings[coding[1]].append(self.coding_row(coding))
                memos = _grouped(
                    (memo[1], self.memo_row(memo))
                    for memo in Memo.objects.filter(in_chunk, deleted_at__isnull=True)
                    .order_by("observation_id", "created_at", "pk")
                    .values_list(*_MEMO_SQL)
                )
                applied = {
                    pk: [(coding[2], coding[4]) for coding in coded]
                    for pk, coded in codings.items()
                }
            else:
                memos = {}
                applied = _grouped(
                    (observation_id, (code_id, start))
                    for observation_id, code_id, start in self._live_codings()
                    .filter(in_chunk)
                    .order_by()  # Coding's default order joins the observation
                    .values_list("observation_id", "code_id", "start")
                )
            out = []
            people, firms, places = subjects
            for row in batch:
                pk = row[0]
                whole: set[str] = set()
                passages: set[str] = set()
                count = 0
                for code_id, start in applied.get(pk, ()):
                    if start is None:
                        whole.add(paths[code_id])
                    else:
                        passages.add(paths[code_id])
                        count += 1
                out.append(
                    self.observation_row(
                        row,
                        name_people(people[pk]) if pk in people else [],
                        name_firms(firms[pk]) if pk in firms else [],
                        name_places(places[pk]) if pk in places else [],
                        sorted(whole),
                        sorted(passages),
                        count,
                    )
                )
            self.observations += len(out)
            if details:
                yield out, [(codings.get(r[0], []), memos.get(r[0], [])) for r in out]
            else:
                yield out, []

    def observation_row(
        self,
        raw: tuple,
        people: list[str],
        organizations: list[str],
        regions: list[str],
        codes: list[str],
        passage_codes: list[str],
        passages: int,
    ) -> Row:
        (pk, observed_on, observed_time, event_id, event_title, event_starts) = raw[:6]
        (author_id, author_email, kind, category, title, body, metric) = raw[6:13]
        (value, unit, rating, created_at, updated_at) = raw[13:]
        if self.pseudonymized:
            if event_id is not None:
                # Event titles often name a host firm; the id and date stay.
                event_title = self._pseudonym("event", event_id)
            title = self.text(title)
            body = self.text(body)
        tz = self.tz
        return [
            pk,
            observed_on,
            observed_time,
            event_id,
            event_title or "",
            _parse_stamp(event_starts).astimezone(tz).date() if event_starts else None,
            self.user(author_id, author_email),
            kind,
            category,
            title,
            body,
            people,
            organizations,
            regions,
            metric or "",
            value,
            unit,
            rating,
            _parse_stamp(created_at).astimezone(tz),
            _parse_stamp(updated_at).astimezone(tz),
            codes,
            passage_codes,
            passages,
        ]

    # codings, codes, memos
    def coding_row(self, raw: tuple) -> Row:
        pk, observation_id, code_id, start, end, quote, needs_review, by_id, by_email, at = raw
        return [
            pk,
            observation_id,
            code_id,
            self.code_paths[code_id],
            start,
            end,
            self.text(quote),
            needs_review,
            self.user(by_id, by_email),
            self.stamp(at),
        ]

    def memo_row(self, raw: tuple) -> Row:
        pk, observation_id, code_id, author_id, author_email, body, created_at, updated_at = raw
        return [
            pk,
            observation_id,
            code_id,
            self.code_paths[code_id] if code_id else "",
            self.user(author_id, author_email),
            self.text(body),
            self.stamp(created_at),
            self.stamp(updated_at),
        ]

    def coding_batches(self) -> Iterator[list[Row]]:
        codings = (
            self._live_codings()
            .filter(
                observation__in=observation_queryset(
                    network=self.network, criteria=self.criteria
                ).values("pk")
            )
            .order_by("observation_id", _WHOLE_FIRST, "pk")
            .values_list(*_CODING_SQL)
            .iterator(chunk_size=self.chunk_size)
        )
        for batch in _batched(codings, self.chunk_size):
            yield [self.coding_row(raw) for raw in batch]

    def code_rows(self) -> list[Row]:
        """The live codebook (a few hundred codes at most, so one list)."""
        paths = self.code_paths
        return [
            [pk, self.text(name), paths[pk], parent_id, self.text(description), colour]
            for pk, name, parent_id, description, colour in Code.objects.filter(
                network=self.network, deleted_at__isnull=True
            )
            .order_by("pk")
            .values_list("pk", "name", "parent_id", "description", "colour")
        ]

    def _memos(self) -> QuerySet:
        return Memo.objects.filter(network=self.network, deleted_at__isnull=True).filter(
            Q(code__isnull=True) | Q(code__deleted_at__isnull=True)
        )

    def memo_batches(self, *, observations: bool = True) -> Iterator[list[Row]]:
        """The journal and code memos, then (with `observations`) the memos of the
        exported observations."""
        memos = self._memos()
        if observations:
            memos = memos.filter(
                Q(observation__isnull=True)
                | Q(
                    observation__in=observation_queryset(
                        network=self.network, criteria=self.criteria
                    ).values("pk")
                )
            )
        else:
            memos = memos.filter(observation__isnull=True)
        rows = (
            memos.order_by("observation_id", "code_id", "created_at", "pk")
            .values_list(*_MEMO_SQL)
            .iterator(chunk_size=self.chunk_size)
        )
        for batch in _batched(rows, self.chunk_size):
            yield [self.memo_row(raw) for raw in batch]

    def criteria_description(self) -> dict[str, str]:
        """The filters as text, for the JSON file's header."""
        described = {}
        for key, value in self.criteria.items():
            if value in (None, ""):
                continue
            if key == "code":
                text = self.code_paths.get(value.pk, "")
            elif key == "participant":
                text = (
                    self._pseudonym("participant", value.pk)
                    if self.pseudonymized
                    else value.full_name
                )
            elif key == "event":
                text = self._pseudonym("event", value.pk) if self.pseudonymized else value.title
            elif key == "author":
                text = self.user(value.pk, value.email)
            elif key == "region":
                text = value.name
            elif isinstance(value, dt.date):
                text = value.isoformat()
            else:
                text = self.text(str(value))  # search words may be a name
            described[key] = text
        return described


@contextmanager
def _snapshot():
    """One read-only transaction for the whole export: the server-side cursor streams
    (outside a transaction Django declares it WITH HOLD, which makes PostgreSQL
    materialise the whole result first), and on PostgreSQL every table of the export
    sees the same snapshot. Reads only, so nothing to lose when a download is aborted."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                # The chunks' lookups are small; starting parallel workers for each of
                # them took longer than the lookup (a cursor's query is never parallel).
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


# --- CSV -------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


def _csv_cells(table: str, rows: list[Row]) -> list[Row]:
    stamps = _STAMPS[table]
    booleans = _BOOLEANS.get(table, ())
    out = []
    for row in rows:
        row = list(row)
        for i in stamps:
            row[i] = _iso(row[i])
        for i in booleans:
            row[i] = "true" if row[i] else "false"
        if table == "observations":
            for i in _LISTS:
                row[i] = LIST_SEPARATOR.join(row[i])
            if row[_VALUE] is not None:
                row[_VALUE] = format(row[_VALUE].normalize(), "f")
        out.append(row)
    return out


def _csv_table(table: str, batches: Iterable[list[Row]]) -> Iterator[bytes]:
    """A table as UTF-8 CSV with a BOM (Excel, also on Japanese Windows, then reads it
    as UTF-8) and CRLF line ends, one chunk of bytes per batch of rows; the writer and
    its buffer are reused for every batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TABLES[table])
    yield BOM + buffer.getvalue().encode("utf-8")
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_csv_cells(table, batch))
        yield buffer.getvalue().encode("utf-8")


def _tables(export: _Export) -> Iterator[tuple[str, Iterator[list[Row]]]]:
    yield "observations", (rows for rows, _details in export.observation_batches())
    yield "codings", export.coding_batches()
    yield "codes", iter([export.code_rows()])
    yield "memos", export.memo_batches()


class _Sink(io.RawIOBase):
    """A write-only stream whose bytes a generator takes out as they come."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _csv_zip(export: _Export) -> Iterator[bytes]:
    sink = _Sink()
    # The sink cannot seek, so zipfile writes data descriptors after each member;
    # ZIP64 because the size of a member is not known when it starts.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table, batches in _tables(export):
            with archive.open(f"{table}.csv", "w", force_zip64=True) as member:
                for chunk in _csv_table(table, batches):
                    member.write(chunk)
                    if data := sink.take():
                        yield data
            if data := sink.take():
                yield data
    if data := sink.take():
        yield data


# --- JSON ------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _number(value)
    return value


def _record(columns: list[str], row: Row, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        column: _json_value(value)
        for column, value in zip(columns, row, strict=True)
        if column not in drop
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json(export: _Export) -> Iterator[bytes]:
    """One object, written as it goes: the header, the codebook, one observation per
    line (with its codings and memos), then the journal and code memos."""
    header = {
        "network": export.network.slug,
        "name": export.network.name,
        "exported_at": export.exported_at.isoformat(timespec="seconds"),
        "pseudonymized": export.pseudonymized,
        "filters": export.criteria_description(),
    }
    codes = [_record(CODE_COLUMNS, row) for row in export.code_rows()]
    yield ("{" + _dumps(header)[1:-1] + ',\n"codes": ' + _dumps(codes)).encode("utf-8")
    yield b',\n"observations": ['
    first = True
    for rows, details in export.observation_batches(details=True):
        parts = []
        for row, (codings, memos) in zip(rows, details, strict=True):
            record = _record(OBSERVATION_COLUMNS, row)
            record["codings"] = [
                _record(CODING_COLUMNS, coding, drop=("observation_id",)) for coding in codings
            ]
            record["memos"] = [
                _record(MEMO_COLUMNS, memo, drop=("observation_id", "code_id", "code"))
                for memo in memos
            ]
            parts.append(_dumps(record))
        if parts:
            yield (("\n" if first else ",\n") + ",\n".join(parts)).encode("utf-8")
            first = False
    yield b'\n],\n"memos": ['
    first = True
    for batch in export.memo_batches(observations=False):
        parts = [_dumps(_record(MEMO_COLUMNS, row, drop=("observation_id",))) for row in batch]
        if parts:
            yield (("\n" if first else ",\n") + ",\n".join(parts)).encode("utf-8")
            first = False
    yield b"\n]}\n"


# --- XLSX ------------------------------------------------------------------------------

# Characters XML 1.0 cannot hold (openpyxl refuses them).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _write_xlsx(export: _Export, fp: IO[bytes]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES

    workbook = Workbook(write_only=True)

    def cells(sheet, table: str, row: Row) -> Row:
        row = list(row)
        for i, value in enumerate(row):
            if isinstance(value, str):
                if _ILLEGAL_XML.search(value):
                    value = row[i] = _ILLEGAL_XML.sub("", value)
                if value.startswith("=") or value in ERROR_CODES:
                    # A text, never a formula or an error value.
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"
                    row[i] = cell
            elif isinstance(value, list):
                row[i] = LIST_SEPARATOR.join(value)
            elif isinstance(value, dt.datetime):
                row[i] = value.replace(tzinfo=None)  # Excel has no time zones: local time
        return row

    for table, batches in _tables(export):
        sheet = workbook.create_sheet(table)
        sheet.append(TABLES[table])
        for batch in batches:
            for row in batch:
                sheet.append(cells(sheet, table, row))
    workbook.save(fp)


# --- entry points ----------------------------------------------------------------------


def observation_count(*, network: Network, criteria: Criteria | None = None) -> int:
    return observation_queryset(network=network, criteria=criteria).count()


def log_export_stream(
    *,
    network: Network,
    fmt: str,
    pseudonymized: bool,
    criteria: Criteria | None = None,
    observations_only: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """The export as a generator of bytes: "csv" (a ZIP of the four tables, or with
    `observations_only` observations.csv alone) or "json"."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"{fmt} cannot be streamed")
    export = _Export(
        network=network, criteria=criteria, pseudonymized=pseudonymized, chunk_size=chunk_size
    )
    with _snapshot():
        if fmt == "json":
            yield from _json(export)
        elif observations_only:
            yield from _csv_table(
                "observations", (rows for rows, _details in export.observation_batches())
            )
        else:
            yield from _csv_zip(export)


def log_export_write(
    *,
    network: Network,
    fmt: str,
    fp: IO[bytes],
    pseudonymized: bool,
    criteria: Criteria | None = None,
    observations_only: bool = False,
) -> int:
    """Writes the export to the binary file `fp`; returns the number of observations."""
    if fmt == "xlsx":
        export = _Export(network=network, criteria=criteria, pseudonymized=pseudonymized)
        with _snapshot():
            _write_xlsx(export, fp)
        return export.observations
    if fmt not in FORMATS:
        raise KeyError(fmt)
    export = _Export(network=network, criteria=criteria, pseudonymized=pseudonymized)
    with _snapshot():
        if fmt == "json":
            chunks = _json(export)
        elif observations_only:
            chunks = _csv_table(
                "observations", (rows for rows, _details in export.observation_batches())
            )
        else:
            chunks = _csv_zip(export)
        for chunk in chunks:
            fp.write(chunk)
    return export.observations


# --- background jobs -------------------------------------------------------------------


def export_job_list(*, network: Network, user, limit: int = 10) -> list[ExportJob]:
    return list(
        ExportJob.objects.filter(network=network, requested_by=user, what="observations").order_by(
            "-created_at", "-pk"
        )[:limit]
    )


@transaction.atomic
def export_job_create(
    *, network: Network, user, fmt: str, pseudonymized: bool, parameters: dict[str, str]
) -> ExportJob:
    """Records the job and enqueues its build once the record is committed.
    `parameters` are the log's filters as submitted (re-validated by the task)."""
    from . import tasks

    job = ExportJob.objects.create(
        network=network,
        requested_by=user,
        what="observations",
        format=fmt,
        pseudonymized=pseudonymized,
        parameters=parameters,
    )
    transaction.on_commit(lambda: tasks.build_observation_export.delay(job.pk))
    return job


def export_job_claim(*, job_id: int) -> ExportJob | None:
    """pending → running, or None when another run has it (or had it): the conditional
    UPDATE lets exactly one delivery of the task through."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.PENDING).update(
        status=ExportJob.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    return ExportJob.objects.select_related("network", "requested_by").get(pk=job_id)


def _job_criteria(job: ExportJob) -> Criteria:
    from .forms.log import ObservationFilterForm
    from .pseudonyms import Namer

    if not job.parameters:
        return {}
    form = ObservationFilterForm(
        job.parameters, network=job.network, namer=Namer(job.network, pseudonymous=True)
    )
    if not form.is_valid():
        # Exporting everything instead would hand out more than was asked for.
        raise ValueError(f"the filters are no longer valid: {form.errors.as_text()}")
    return form.criteria


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Builds the job's file; None when the job is gone or already claimed. A failure
    marks the job failed with the error kept (nothing is retried)."""
    job = export_job_claim(job_id=job_id)
    if job is None:
        return None
    try:
        criteria = _job_criteria(job)
        with tempfile.TemporaryFile() as fp:
            rows = log_export_write(
                network=job.network,
                fmt=job.format,
                fp=fp,
                pseudonymized=job.pseudonymized,
                criteria=criteria,
            )
            fp.seek(0)
            # A random folder: the file name alone never finds the file.
            name = f"{secrets.token_urlsafe(16)}/" + export_filename(
                job.network, job.format, day=timezone.localdate(job.created_at)
            )
            job.file.save(name, File(fp), save=False)
    except Exception as exc:
        log.exception("export job %s failed", job_id)
        ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
            status=ExportJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return job
    ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.DONE,
        file=job.file.name,
        row_count=rows,
        error="",
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job
