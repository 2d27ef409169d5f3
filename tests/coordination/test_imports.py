"""The import machinery: reading tables, importing regions and participants (all or
nothing), the preview/apply flow of the web upload, and the command-line contract."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from coordination import services, tables
from coordination.models import (
    ImportRun,
    Network,
    Organization,
    OrganizationKind,
    Participant,
    Region,
)
from coordination.tables import RowError, TableError
from tests import factories

# --- test data helpers --------------------------------------------------------------

PARTICIPANT_HEADER = [
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
]
REGION_HEADER = ["name", "prefecture", "latitude", "longitude", "population", "municipality_code"]


def csv_bytes(rows, *, encoding: str = "utf-8", bom: bool = False, delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return b"\xef\xbb\xbf" + data if bom else data


def xlsx_bytes(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bytes(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def damaged_xlsx(part: str, content: bytes | None) -> bytes:
    """A good workbook with one of its parts replaced (or, for None, left out)."""
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes([["name"], ["Tsubame"]]))) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    if content is None:
        del parts[part]
    else:
        parts[part] = content
    return zip_bytes(parts)


def people_rows():
    """A good participants table: header + 3 rows (rows 2, 3, 4 of the sheet).

    Row 3 is recruited by row 2, which is allowed (an earlier row)."""
    return [
        list(PARTICIPANT_HEADER),
        [
            "Kenichi Yamamoto",
            "K.Yamamoto@Example.jp",
            "Yamamoto Seisakusho",
            "firm",
            "Tsubame",
            "member",
            "2025-04-19",
            "",
            "",
            "37.65",
            "138.93",
        ],
        [
            "Hanako Sato",
            "h.sato@example.jp",
            "Tsubame Chamber",
            "chamber_of_commerce",
            "Tsubame",
            "observer",
            "2025-04-19",
            "",
            "k.yamamoto@example.jp",
            "",
            "",
        ],
        [
            "Taro Suzuki",
            "t.suzuki@example.jp",
            "Uonuma Works",
            "",
            "Uonuma",
            "",
            "2025-05-01",
            "2026-03-31",
            "",
            "",
            "",
        ],
    ]


def with_cells(rows, sheet_row: int, **cells):
    """A copy of `rows` with some cells of one sheet row (header = row 1) replaced."""
    rows = [list(r) for r in rows]
    header = rows[0]
    for column, value in cells.items():
        rows[sheet_row - 1][header.index(column)] = value
    return rows


def import_people(network, data: bytes, filename: str = "people.csv", dry_run: bool = False):
    return services.participants_import(
        network=network, data=data, filename=filename, dry_run=dry_run
    )


def import_regions(network, data: bytes, filename: str = "regions.csv", dry_run: bool = False):
    return services.regions_import(network=network, data=data, filename=filename, dry_run=dry_run)


def problems(call) -> list[tuple[int | None, str | None, str]]:
    """Run `call`, which must raise TableError; its errors as (row, column, message)."""
    with pytest.raises(TableError) as info:
        call()
    return [(e.row, e.column, e.message) for e in info.value.errors]


def where(errors) -> list[tuple[int | None, str | None]]:
    return [(row, column) for row, column, _message in errors]


def snapshot() -> dict:
    """Everything an import could change, to prove that nothing did."""
    return {
        "regions": sorted(
            Region.objects.values_list(
                "network_id",
                "name",
                "prefecture",
                "latitude",
                "longitude",
                "population",
                "municipality_code",
            )
        ),
        "organizations": sorted(
            Organization.objects.values_list(
                "network_id", "name", "kind", "region__name", "latitude", "longitude"
            )
        ),
        "participants": sorted(
            Participant.objects.values_list(
                "network_id",
                "email",
                "full_name",
                "name_kana",
                "organization__name",
                "role",
                "joined_on",
                "left_on",
                "recruited_by__email",
            ),
            key=str,
        ),
        "counts": (
            Region.objects.count(),
            Organization.objects.count(),
            Participant.objects.count(),
            Network.objects.count(),
        ),
    }


@pytest.fixture
def regions(region_a, region_b):
    return region_a, region_b


@pytest.fixture(autouse=True)
def _english_cli(monkeypatch):
    """The commands choose their language from the shell's locale: make it English."""
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "C")


# --- reading tables --------------------------------------------------------------------


class TestReadTable:
    allowed = ["name", "prefecture", "population"]

    def read(self, data: bytes, filename: str = "t.csv", required=("name",)):
        return tables.read_table(data, filename, allowed=self.allowed, required=required)

    @pytest.mark.parametrize(
        ("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("cp932", False)]
    )
    def test_csv_encodings(self, encoding, bom):
        data = csv_bytes(
            [["name", "prefecture"], ["燕市", "新潟県"], ["髙橋㈱", "①"]],
            encoding=encoding,
            bom=bom,
        )
        table = self.read(data)
        assert table.columns == ["name", "prefecture"]
        assert table.rows == [
            (2, {"name": "燕市", "prefecture": "新潟県"}),
            (3, {"name": "髙橋㈱", "prefecture": "①"}),
        ]

    def test_bom_does_not_stick_to_the_first_column_name(self):
        table = self.read(b"\xef\xbb\xbfname\r\nTsubame\r\n")
        assert table.columns == ["name"]
        assert table.rows == [(2, {"name": "Tsubame"})]

    @pytest.mark.parametrize("delimiter", [",", ";", "\t"])
    def test_delimiters(self, delimiter):
        data = csv_bytes(
            [["name", "prefecture"], ["Tsubame", "Niigata"], ["Uonuma", "Niigata"]],
            delimiter=delimiter,
        )
        assert self.read(data).rows == [
            (2, {"name": "Tsubame", "prefecture": "Niigata"}),
            (3, {"name": "Uonuma", "prefecture": "Niigata"}),
        ]

    def test_header_is_case_and_space_insensitive_and_cells_are_trimmed(self):
        table = self.read(b" Name , PREFECTURE \n  Tsubame  , Niigata \n")
        assert table.columns == ["name", "prefecture"]
        assert table.rows == [(2, {"name": "Tsubame", "prefecture": "Niigata"})]

    def test_blank_lines_are_skipped_but_row_numbers_stay_those_of_the_sheet(self):
        table = self.read(b"\nname\n\nTsubame\n,\nUonuma\n")
        assert table.rows == [(4, {"name": "Tsubame"}), (6, {"name": "Uonuma"})]

    def test_short_rows_are_padded_and_trailing_empty_cells_allowed(self):
        table = self.read(b"name,prefecture,population\nTsubame\nUonuma,Niigata,3,,\n")
        assert table.rows == [
            (2, {"name": "Tsubame", "prefecture": "", "population": ""}),
            (3, {"name": "Uonuma", "prefecture": "Niigata", "population": "3"}),
        ]

    def test_quoted_cells_keep_commas_and_quotes(self):
        table = self.read(b'name,prefecture\n"Tsubame, Niigata","say ""hi"""\n')
        assert table.rows == [(2, {"name": "Tsubame, Niigata", "prefecture": 'say "hi"'})]

    def test_row_with_more_cells_than_the_header(self):
        data = b"name,prefecture\nTsubame,Niigata\nUonuma,Niigata,extra\nSanjo,,,,x\n"
        assert problems(lambda: self.read(data)) == [
            (3, None, "This row has more cells than the header has columns."),
            (4, None, "This row has more cells than the header has columns."),
        ]

    def test_unknown_duplicate_nameless_and_missing_columns_are_all_reported(self):
        data = b"prefecture,phone,Prefecture,,population\nNiigata,1,Niigata,,3\n"
        errors = problems(lambda: self.read(data))
        assert where(errors) == [(1, "phone"), (1, "prefecture"), (1, None), (1, "name")]
        assert errors[0][2].startswith("Unknown column. Allowed columns: name, prefecture,")
        assert errors[1][2] == "This column appears twice."
        assert errors[2][2] == "Column 4 has no name."
        assert errors[3][2] == "Required column is missing."

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "The file is empty."),
            (b"   \r\n\r\n", "The file is empty."),
            (b"\n,,\n , \n", "The file has no header row."),
            (xlsx_bytes([]), "The file has no header row."),
        ],
    )
    def test_empty_file(self, data, message):
        assert problems(lambda: self.read(data, "t.xlsx" if data[:2] == b"PK" else "t.csv")) == [
            (None, None, message)
        ]

    @pytest.mark.parametrize("data", [b"name,prefecture\r\n", b"name\n\n,\n"])
    def test_header_only(self, data):
        assert problems(lambda: self.read(data)) == [
            (None, None, "The file has a header but no data rows.")
        ]

    @pytest.mark.parametrize(
        "data",
        [
            "name\nMüller, Zürich\n".encode("latin-1"),
            b"name\n\x81\x7f\n",
            "name\nTsubame\n".encode("utf-16"),
        ],
        ids=["latin-1", "broken-cp932", "utf-16"],
    )
    def test_neither_utf8_nor_cp932(self, data):
        assert problems(lambda: self.read(data)) == [
            (None, None, "The file is neither UTF-8 nor CP932 (Shift_JIS) text.")
        ]

    def test_xlsx_values_numbers_and_dates(self):
        data = xlsx_bytes(
            [
                ["Name", "Prefecture", "Population"],
                ["燕市", dt.date(2025, 4, 19), 79000],
                [None, None, None],
                ["  Uonuma ", None, 37.5],
            ]
        )
        table = self.read(data, "regions.xlsx")
        assert table.columns == ["name", "prefecture", "population"]
        (n1, first), (n2, second) = table.rows
        assert (n1, n2) == (2, 4)
        assert first["name"] == "燕市"
        # A real Excel date cell comes back as a date(time), not as text or a serial number.
        assert isinstance(first["prefecture"], dt.date)
        assert first["prefecture"].date() == dt.date(2025, 4, 19)
        assert first["population"] == 79000
        assert second == {"name": "Uonuma", "prefecture": "", "population": 37.5}

    def test_xlsx_recognised_by_content_whatever_the_name(self):
        table = self.read(xlsx_bytes([["name"], ["Tsubame"]]), "upload.csv")
        assert table.rows == [(2, {"name": "Tsubame"})]

    def test_xlsx_row_with_more_cells(self):
        data = xlsx_bytes([["name"], ["Tsubame"], ["Uonuma", None, "x"]])
        assert problems(lambda: self.read(data, "t.xlsx")) == [
            (3, None, "This row has more cells than the header has columns.")
        ]

    def test_xlsx_header_only(self):
        assert problems(lambda: self.read(xlsx_bytes([["name"]]), "t.xlsx")) == [
            (None, None, "The file has a header but no data rows.")
        ]

    @pytest.mark.parametrize(
        "data",
        [
            b"name\nTsubame\n",
            b"PK\x03\x04 truncated",
            zip_bytes({"hello.txt": b"not a workbook"}),
            xlsx_bytes([["name"], ["Tsubame"]])[:1500],
            damaged_xlsx("xl/worksheets/sheet1.xml", b"<sheetData><row"),
            damaged_xlsx("xl/worksheets/sheet1.xml", None),
            damaged_xlsx("xl/workbook.xml", b"<workbook"),
            damaged_xlsx("[Content_Types].xml", b"<Types"),
            damaged_xlsx("xl/styles.xml", b"\x00\x01"),
        ],
        ids=[
            "text-named-xlsx",
            "bad-zip",
            "zip-without-workbook",
            "truncated",
            "broken-sheet-xml",
            "sheet-missing",
            "broken-workbook-xml",
            "broken-content-types",
            "broken-styles",
        ],
    )
    def test_broken_xlsx(self, data):
        assert problems(lambda: self.read(data, "broken.xlsx")) == [
            (None, None, "The file is not a readable Excel (.xlsx) workbook.")
        ]


class TestCells:
    def test_email(self):
        assert tables.email("  Someone@Example.JP ") == "someone@example.jp"
        assert tables.email("", required=False) == ""
        with pytest.raises(tables.CellError, match="required"):
            tables.email("")
        with pytest.raises(tables.CellError, match="not a valid e-mail"):
            tables.email("someone@")

    def test_date(self):
        assert tables.date("2025-04-19") == dt.date(2025, 4, 19)
        assert tables.date(dt.datetime(2025, 4, 19, 13, 5)) == dt.date(2025, 4, 19)
        assert tables.date(dt.date(2025, 4, 19)) == dt.date(2025, 4, 19)
        assert tables.date("") is None
        with pytest.raises(tables.CellError, match="required"):
            tables.date("", required=True)
        for bad in ("19/04/2025", "2025-02-30", "April 19", "45766"):
            with pytest.raises(tables.CellError, match="write it as YYYY-MM-DD"):
                tables.date(bad)

    def test_number(self):
        assert tables.number("37.5", low=-90, high=90) == 37.5
        assert tables.number(38, low=-90, high=90) == 38.0
        assert tables.number("", low=-90, high=90) is None
        with pytest.raises(tables.CellError, match="is not a number"):
            tables.number("north", low=-90, high=90)
        for bad in ("90.01", "-91", "nan", "inf"):
            with pytest.raises(tables.CellError):
                tables.number(bad, low=-90, high=90)

    def test_whole_number(self):
        assert tables.whole_number("79,000") == 79000
        assert tables.whole_number(79000) == 79000
        assert tables.whole_number("") is None
        with pytest.raises(tables.CellError, match="not a whole number"):
            tables.whole_number("many")
        with pytest.raises(tables.CellError, match="not a whole number"):
            tables.whole_number("12.5")
        with pytest.raises(tables.CellError, match="negative"):
            tables.whole_number("-1")

    def test_choice(self):
        kinds = ["firm", "other"]
        assert tables.choice(" FIRM ", choices=kinds, default=None) == "firm"
        assert tables.choice("", choices=kinds, default="other") == "other"
        with pytest.raises(tables.CellError, match="'bank' is not one of: firm, other"):
            tables.choice("Bank", choices=kinds, default=None)

    def test_row_error_text(self):
        assert str(RowError(3, "email", "Bad.")) == "row 3, column email: Bad."
        assert str(RowError(None, None, "The file is empty.")) == "The file is empty."
        assert RowError(4, None, "x").as_dict() == {"row": 4, "column": None, "message": "x"}
        error = TableError([RowError(2, "a", "One."), RowError(5, None, "Two.")])
        assert str(error) == "row 2, column a: One.; row 5: Two."


# --- regions ---------------------------------------------------------------------------


def region_values(network) -> dict:
    return {
        r.name: (r.prefecture, r.latitude, r.longitude, r.population, r.municipality_code)
        for r in Region.objects.filter(network=network)
    }


REGION_ROWS = [
    REGION_HEADER,
    ["燕市", "新潟県", "37.67", "138.88", "77,000", "15213"],
    ["Uonuma", "Niigata", "37.23", "138.96", "34000", "15225"],
    ["Sapporo", "Hokkaido", "", "", "", "01100"],
]


class TestRegionsImport:
    @pytest.mark.parametrize(
        ("data", "filename"),
        [
            (csv_bytes(REGION_ROWS), "regions.csv"),
            (csv_bytes(REGION_ROWS, bom=True), "regions.csv"),
            (csv_bytes(REGION_ROWS, encoding="cp932"), "regions.csv"),
        ],
        ids=["utf-8", "utf-8-bom", "cp932"],
    )
    def test_good_csv(self, network, data, filename):
        result = import_regions(network, data, filename)
        assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
        assert [(r.row, r.action, r.label) for r in result.rows] == [
            (2, "created", "燕市"),
            (3, "created", "Uonuma"),
            (4, "created", "Sapporo"),
        ]
        assert region_values(network) == {
            "燕市": ("新潟県", 37.67, 138.88, 77000, "15213"),
            "Uonuma": ("Niigata", 37.23, 138.96, 34000, "15225"),
            # The code is text: its leading zero stays.
            "Sapporo": ("Hokkaido", None, None, None, "01100"),
        }

    def test_good_xlsx_with_numbers(self, network):
        data = xlsx_bytes(
            [
                REGION_HEADER,
                ["燕市", "新潟県", 37.67, 138.88, 77000, 15213],
                ["Uonuma", "Niigata", 37, 139, 34000.0, "15225"],
            ]
        )
        result = import_regions(network, data, "regions.xlsx")
        assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
        assert region_values(network) == {
            "燕市": ("新潟県", 37.67, 138.88, 77000, "15213"),
            "Uonuma": ("Niigata", 37.0, 139.0, 34000, "15225"),
        }

    def test_reimport_is_unchanged_and_creates_no_duplicates(self, network):
        import_regions(network, csv_bytes(REGION_ROWS))
        before = snapshot()
        result = import_regions(network, csv_bytes(REGION_ROWS))
        assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
        assert snapshot() == before
        assert Region.objects.filter(network=network).count() == 3

    def test_changed_row_is_updated(self, network):
        import_regions(network, csv_bytes(REGION_ROWS))
        changed = with_cells(REGION_ROWS, 3, population="35000", prefecture="新潟県")
        result = import_regions(network, csv_bytes(changed))
        assert [(r.row, r.action) for r in result.rows] == [
            (2, "unchanged"),
            (3, "updated"),
            (4, "unchanged"),
        ]
        uonuma = Region.objects.get(network=network, name="Uonuma")
        assert (uonuma.population, uonuma.prefecture) == (35000, "新潟県")
        assert Region.objects.filter(network=network).count() == 3

    def test_columns_absent_from_the_file_are_left_alone(self, network, region_a):
        region_a.population = 77000
        region_a.prefecture = "Niigata"
        region_a.save()
        result = import_regions(network, b"name,municipality_code\nTsubame,15213\n")
        assert [(r.row, r.action) for r in result.rows] == [(2, "updated")]
        region_a.refresh_from_db()
        assert (region_a.population, region_a.prefecture, region_a.latitude) == (
            77000,
            "Niigata",
            37.67,
        )
        assert region_a.municipality_code == "15213"

    def test_same_names_in_another_network_are_separate(self, network, other_network, region_a):
        import_regions(other_network, b"name\nTsubame\n")
        assert Region.objects.filter(name="Tsubame").count() == 2
        assert region_values(network)["Tsubame"][1] == 37.67

    @pytest.mark.parametrize(
        ("cells", "expected"),
        [
            ({"latitude": "37.2", "longitude": ""}, [(3, "latitude", "Give both")]),
            ({"latitude": "", "longitude": "138.9"}, [(3, "latitude", "Give both")]),
            ({"latitude": "95"}, [(3, "latitude", "95 is outside -90 to 90.")]),
            ({"longitude": "-181"}, [(3, "longitude", "-181 is outside -180 to 180.")]),
            ({"latitude": "north"}, [(3, "latitude", "'north' is not a number.")]),
            ({"population": "many"}, [(3, "population", "'many' is not a whole number.")]),
            ({"population": "12.5"}, [(3, "population", "'12.5' is not a whole number.")]),
            ({"population": "-5"}, [(3, "population", "Must not be negative.")]),
            # Larger than the database's integer column: an error, not a crash.
            (
                {"population": "3000000000"},
                [(3, "population", "3000000000 is outside 0 to 2147483647.")],
            ),
            (
                {"municipality_code": "15-22"},
                [(3, "municipality_code", "'15-22' is not a 5- or 6-digit code.")],
            ),
            ({"municipality_code": "1234"}, [(3, "municipality_code", "not a 5- or 6-digit")]),
            ({"municipality_code": "1234567"}, [(3, "municipality_code", "Longer than 6")]),
            ({"name": ""}, [(3, "name", "This field is required.")]),
            ({"name": "燕市"}, [(3, "name", "Region '燕市' is already on row 2.")]),
            ({"prefecture": "x" * 51}, [(3, "prefecture", "Longer than 50 characters.")]),
        ],
    )
    def test_bad_row_names_row_and_column_and_changes_nothing(
        self, network, region_a, cells, expected
    ):
        before = snapshot()
        errors = problems(
            lambda: import_regions(network, csv_bytes(with_cells(REGION_ROWS, 3, **cells)))
        )
        assert where(errors) == [(row, column) for row, column, _m in expected]
        for (_r, _c, message), (_er, _ec, wanted) in zip(errors, expected, strict=True):
            assert wanted in message
        assert snapshot() == before

    def test_every_problem_is_reported_at_once(self, network):
        rows = [
            REGION_HEADER,
            ["Tsubame", "", "37.6", "", "", ""],
            ["", "", "", "", "x", ""],
            ["Tsubame", "", "", "", "", "99"],
        ]
        errors = problems(lambda: import_regions(network, csv_bytes(rows)))
        assert where(errors) == [
            (2, "latitude"),
            (3, "name"),
            (3, "population"),
            (4, "municipality_code"),
            (4, "name"),
        ]
        assert Region.objects.count() == 0

    def test_unknown_column(self, network):
        errors = problems(lambda: import_regions(network, b"name,area\nTsubame,100\n"))
        assert where(errors) == [(1, "area")]

    def test_dry_run_reports_but_changes_nothing(self, network, region_a):
        before = snapshot()
        result = import_regions(
            network, csv_bytes(with_cells(REGION_ROWS, 2, name="Tsubame")), dry_run=True
        )
        assert result.dry_run is True
        assert (result.created, result.updated, result.unchanged) == (2, 1, 0)
        assert snapshot() == before


# --- participants ------------------------------------------------------------------------


def people_in(network, *, besides: str = "") -> dict:
    """The network's participants by e-mail, without the one named `besides`."""
    return {
        p.email: (
            p.full_name,
            p.organization.name,
            p.organization.region.name,
            p.role,
            p.joined_on,
            p.left_on,
            p.recruited_by.email if p.recruited_by else None,
        )
        for p in Participant.objects.filter(network=network).select_related(
            "organization__region", "recruited_by"
        )
        if p.email != besides
    }


EXPECTED_PEOPLE = {
    "k.yamamoto@example.jp": (
        "Kenichi Yamamoto",
        "Yamamoto Seisakusho",
        "Tsubame",
        "member",
        dt.date(2025, 4, 19),
        None,
        None,
    ),
    "h.sato@example.jp": (
        "Hanako Sato",
        "Tsubame Chamber",
        "Tsubame",
        "observer",
        dt.date(2025, 4, 19),
        None,
        "k.yamamoto@example.jp",
    ),
    "t.suzuki@example.jp": (
        "Taro Suzuki",
        "Uonuma Works",
        "Uonuma",
        "member",
        dt.date(2025, 5, 1),
        dt.date(2026, 3, 31),
        None,
    ),
}


def organizations_in(network) -> dict:
    return {
        o.name: (o.kind, o.region.name, o.latitude, o.longitude)
        for o in Organization.objects.filter(network=network).select_related("region")
    }


EXPECTED_ORGANIZATIONS = {
    "Yamamoto Seisakusho": ("firm", "Tsubame", 37.65, 138.93),
    "Tsubame Chamber": ("chamber_of_commerce", "Tsubame", None, None),
    # No kind given: a new organization is a firm; no location: its region's centre.
    "Uonuma Works": ("firm", "Uonuma", None, None),
}


class TestParticipantsImportGoodFiles:
    @pytest.mark.parametrize(
        "make",
        [
            lambda rows: (csv_bytes(rows), "people.csv"),
            lambda rows: (csv_bytes(rows, bom=True), "people.csv"),
            lambda rows: (csv_bytes(rows, delimiter=";"), "people.csv"),
            lambda rows: (csv_bytes(rows, encoding="cp932"), "people.csv"),
        ],
        ids=["utf-8", "utf-8-bom", "semicolons", "cp932"],
    )
    def test_good_csv(self, network, regions, make):
        data, filename = make(people_rows())
        result = import_people(network, data, filename)
        assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
        assert result.organizations_created == 3
        assert [(r.row, r.action, r.label) for r in result.rows] == [
            (2, "created", "Kenichi Yamamoto <k.yamamoto@example.jp>"),
            (3, "created", "Hanako Sato <h.sato@example.jp>"),
            (4, "created", "Taro Suzuki <t.suzuki@example.jp>"),
        ]
        assert people_in(network) == EXPECTED_PEOPLE
        assert organizations_in(network) == EXPECTED_ORGANIZATIONS

    def test_cp932_japanese_names(self, network):
        factories.RegionFactory(network=network, name="燕市")
        factories.RegionFactory(network=network, name="魚沼市")
        rows = [
            [
                "full_name",
                "name_kana",
                "email",
                "organization",
                "organization_kind",
                "region",
                "joined_on",
            ],
            [
                "山本 健一",
                "やまもと けんいち",
                "yamamoto@example.jp",
                "㈱山本製作所",
                "firm",
                "燕市",
                "2025-04-19",
            ],
            [
                "髙橋 花子",
                "たかはし はなこ",
                "takahashi@example.jp",
                "燕商工会議所",
                "chamber_of_commerce",
                "燕市",
                "2025-04-19",
            ],
            ["鈴木 一郎", "", "suzuki@example.jp", "魚沼精機", "", "魚沼市", "2025-04-19"],
        ]
        data = csv_bytes(rows, encoding="cp932")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really not UTF-8
        result = import_people(network, data)
        assert result.created == 3
        yamamoto = Participant.objects.get(network=network, email="yamamoto@example.jp")
        assert (yamamoto.full_name, yamamoto.name_kana) == ("山本 健一", "やまもと けんいち")
        assert yamamoto.organization.name == "㈱山本製作所"
        assert yamamoto.organization.region.name == "燕市"
        takahashi = Participant.objects.get(network=network, email="takahashi@example.jp")
        assert takahashi.full_name == "髙橋 花子"
        assert takahashi.organization.kind == OrganizationKind.CHAMBER_OF_COMMERCE
        assert Organization.objects.get(network=network, name="魚沼精機").region.name == "魚沼市"

    def test_good_xlsx_with_date_cells_and_numbers(self, network, regions):
        rows = people_rows()
        for row in rows[1:]:
            for column in ("joined_on", "left_on"):
                i = PARTICIPANT_HEADER.index(column)
                row[i] = dt.date.fromisoformat(row[i]) if row[i] else None
            for column in ("latitude", "longitude"):
                i = PARTICIPANT_HEADER.index(column)
                row[i] = float(row[i]) if row[i].strip() else None
        data = xlsx_bytes(rows)
        # The dates really are Excel date cells and the coordinates numbers.
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        assert sheet["G2"].is_date
        assert sheet["H4"].is_date
        assert sheet["J2"].data_type == "n"
        result = import_people(network, data, "people.xlsx")
        assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
        assert people_in(network) == EXPECTED_PEOPLE
        assert organizations_in(network) == EXPECTED_ORGANIZATIONS

    def test_xlsx_reimport_of_the_csv_is_unchanged(self, network, regions):
        import_people(network, csv_bytes(people_rows()))
        rows = people_rows()
        for row in rows[1:]:
            i = PARTICIPANT_HEADER.index("joined_on")
            row[i] = dt.datetime.fromisoformat(row[i])
        result = import_people(network, xlsx_bytes(rows), "people.xlsx")
        assert (result.created, result.updated, result.unchanged) == (0, 0, 3)

    def test_reimport_creates_no_duplicates_and_reports_all_unchanged(self, network, regions):
        data = csv_bytes(people_rows())
        import_people(network, data)
        before = snapshot()
        result = import_people(network, data)
        assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
        assert result.organizations_created == 0
        assert [r.action for r in result.rows] == ["unchanged"] * 3
        assert snapshot() == before
        assert Participant.objects.filter(network=network).count() == 3
        assert Organization.objects.filter(network=network).count() == 3

    def test_changed_row_is_updated_and_stored(self, network, regions):
        import_people(network, csv_bytes(people_rows()))
        changed = with_cells(
            people_rows(), 4, full_name="Taro Suzuki Jr.", left_on="", role="Coordinator"
        )
        result = import_people(network, csv_bytes(changed))
        assert [(r.row, r.action) for r in result.rows] == [
            (2, "unchanged"),
            (3, "unchanged"),
            (4, "updated"),
        ]
        suzuki = Participant.objects.get(network=network, email="t.suzuki@example.jp")
        assert (suzuki.full_name, suzuki.left_on, suzuki.role) == (
            "Taro Suzuki Jr.",
            None,
            "coordinator",
        )
        assert Participant.objects.filter(network=network).count() == 3

    def test_moving_to_another_organization_and_updating_an_organization(self, network, regions):
        import_people(network, csv_bytes(people_rows()))
        changed = with_cells(people_rows(), 4, organization="Yamamoto Seisakusho", region="Tsubame")
        changed = with_cells(changed, 2, organization_kind="other")
        result = import_people(network, csv_bytes(changed))
        assert [(r.row, r.action) for r in result.rows] == [
            (2, "unchanged"),
            (3, "unchanged"),
            (4, "updated"),
        ]
        assert result.organizations_created == 0
        suzuki = Participant.objects.get(network=network, email="t.suzuki@example.jp")
        assert suzuki.organization.name == "Yamamoto Seisakusho"
        assert suzuki.organization.kind == "other"

    def test_email_matching_ignores_case(self, network, member_a):
        before = Participant.objects.count()
        rows = [
            ["full_name", "email", "organization", "region", "joined_on"],
            ["Member A Renamed", "MEMBER.A@Example.COM", "A Works", "Tsubame", "2025-04-19"],
        ]
        result = import_people(network, csv_bytes(rows))
        assert [(r.row, r.action) for r in result.rows] == [(2, "updated")]
        assert Participant.objects.count() == before
        member_a.refresh_from_db()
        assert member_a.full_name == "Member A Renamed"
        assert member_a.email == "member.a@example.com"

    def test_stored_mixed_case_email_is_matched(self, network, region_a):
        person = factories.ParticipantFactory(
            network=network,
            email="Mixed.Case@Example.com",
            full_name="Mixed",
            organization__region=region_a,
        )
        rows = [
            ["full_name", "email", "organization", "region", "joined_on"],
            ["Mixed", "mixed.case@example.com", person.organization.name, "Tsubame", "2025-04-19"],
        ]
        result = import_people(network, csv_bytes(rows))
        assert [r.action for r in result.rows] == ["unchanged"]
        assert Participant.objects.filter(network=network).count() == 1

    def test_new_emails_are_stored_in_lower_case(self, network, regions):
        import_people(network, csv_bytes(people_rows()))
        assert Participant.objects.filter(network=network, email="k.yamamoto@example.jp").exists()
        assert not Participant.objects.filter(email="K.Yamamoto@Example.jp").exists()

    def test_recruited_by_an_existing_participant_any_case(self, network, regions, member_a):
        rows = with_cells(people_rows(), 4, recruited_by="Member.A@EXAMPLE.com")
        import_people(network, csv_bytes(rows))
        suzuki = Participant.objects.get(network=network, email="t.suzuki@example.jp")
        assert suzuki.recruited_by == member_a

    def test_recruited_by_on_an_earlier_row_is_allowed(self, network, regions):
        rows = with_cells(people_rows(), 4, recruited_by="H.SATO@example.jp")
        import_people(network, csv_bytes(rows))
        assert people_in(network)["t.suzuki@example.jp"][6] == "h.sato@example.jp"
        assert people_in(network)["h.sato@example.jp"][6] == "k.yamamoto@example.jp"

    def test_file_without_recruited_by_column_keeps_the_recruiter(self, network, regions):
        import_people(network, csv_bytes(people_rows()))
        rows = [r[:8] for r in people_rows()]  # up to left_on
        result = import_people(network, csv_bytes(rows))
        assert result.unchanged == 3
        assert people_in(network)["h.sato@example.jp"][6] == "k.yamamoto@example.jp"

    def test_row_without_kind_keeps_the_organizations_kind(self, network, regions):
        import_people(network, csv_bytes(people_rows()))
        rows = with_cells(people_rows(), 3, organization_kind="")
        result = import_people(network, csv_bytes(rows))
        assert result.unchanged == 3
        assert organizations_in(network)["Tsubame Chamber"][0] == "chamber_of_commerce"

    def test_one_organization_on_several_rows_agreeing(self, network, regions):
        rows = with_cells(
            people_rows(),
            3,
            organization="Yamamoto Seisakusho",
            organization_kind="",
            latitude="37.65",
            longitude="138.93",
        )
        result = import_people(network, csv_bytes(rows))
        assert result.organizations_created == 2
        assert Participant.objects.filter(organization__name="Yamamoto Seisakusho").count() == 2

    def test_participants_of_another_network_are_not_matched(self, network, other_network, regions):
        other_region = factories.RegionFactory(network=other_network, name="Tsubame")
        factories.ParticipantFactory(
            network=other_network, email="k.yamamoto@example.jp", organization__region=other_region
        )
        result = import_people(network, csv_bytes(people_rows()))
        assert result.created == 3
        assert Participant.objects.filter(email="k.yamamoto@example.jp").count() == 2

    def test_dry_run_reports_counts_and_changes_nothing(self, network, regions, member_a):
        rows = [
            *people_rows(),
            [
                "Member A",
                "member.a@example.com",
                "A Works",
                "",
                "Tsubame",
                "",
                "2025-04-19",
                "",
                "",
                "",
                "",
            ],
        ]
        import_people(network, csv_bytes(rows[:2]))
        rows = with_cells(rows, 2, full_name="Kenichi Yamamoto (CEO)")
        before = snapshot()
        result = import_people(network, csv_bytes(rows), dry_run=True)
        assert result.dry_run is True
        assert (result.created, result.updated, result.unchanged) == (2, 1, 1)
        assert result.organizations_created == 2
        assert result.as_dict()["rows"][0] == {
            "row": 2,
            "action": "updated",
            "label": "Kenichi Yamamoto (CEO) <k.yamamoto@example.jp>",
        }
        assert snapshot() == before


class TestParticipantsImportBadFiles:
    @pytest.mark.parametrize(
        ("cells", "expected"),
        [
            ({"full_name": ""}, [(3, "full_name", "This field is required.")]),
            ({"full_name": "x" * 201}, [(3, "full_name", "Longer than 200 characters.")]),
            ({"email": "  "}, [(3, "email", "This field is required.")]),
            ({"email": "h.sato@"}, [(3, "email", "'h.sato@' is not a valid e-mail address.")]),
            ({"organization": ""}, [(3, "organization", "This field is required.")]),
            ({"region": ""}, [(3, "region", "This field is required.")]),
            ({"joined_on": ""}, [(3, "joined_on", "This field is required.")]),
            (
                {"joined_on": "19/04/2025"},
                [(3, "joined_on", "'19/04/2025' is not a date; write it as YYYY-MM-DD.")],
            ),
            ({"joined_on": "2025-02-30"}, [(3, "joined_on", "is not a date")]),
            ({"left_on": "someday"}, [(3, "left_on", "is not a date")]),
            (
                {"left_on": "2025-04-18"},
                [(3, "left_on", "Left before joining (joined_on is later).")],
            ),
            (
                {"region": "Nagaoka"},
                [
                    (
                        3,
                        "region",
                        "'Nagaoka' is not a region of this network (known: Tsubame, Uonuma).",
                    )
                ],
            ),
            (
                {"organization_kind": "bank"},
                [(3, "organization_kind", "'bank' is not one of: firm, chamber_of_commerce,")],
            ),
            ({"role": "admin"}, [(3, "role", "'admin' is not one of: member, coordinator,")]),
            (
                {"email": "K.YAMAMOTO@example.jp", "recruited_by": ""},
                [(3, "email", "k.yamamoto@example.jp is already on row 2.")],
            ),
            (
                {"recruited_by": "nobody@example.jp"},
                [
                    (
                        3,
                        "recruited_by",
                        "nobody@example.jp is neither a participant of this network nor on an earlier row.",
                    )
                ],
            ),
            (
                {"recruited_by": "H.Sato@Example.jp"},
                [(3, "recruited_by", "A person cannot recruit themself.")],
            ),
            (
                {"recruited_by": "t.suzuki@example.jp"},  # defined on the later row 4
                [(3, "recruited_by", "t.suzuki@example.jp is neither a participant")],
            ),
            ({"recruited_by": "yamamoto"}, [(3, "recruited_by", "not a valid e-mail address")]),
            (
                {"latitude": "37.6"},
                [(3, "latitude", "Give both latitude and longitude, or neither.")],
            ),
            ({"longitude": "138.9"}, [(3, "latitude", "Give both latitude and longitude")]),
            (
                {"latitude": "91", "longitude": "138.9"},
                [(3, "latitude", "91 is outside -90 to 90.")],
            ),
            (
                {"latitude": "37.6", "longitude": "200"},
                [(3, "longitude", "200 is outside -180 to 180.")],
            ),
            (
                {"latitude": "north", "longitude": "138.9"},
                [(3, "latitude", "'north' is not a number.")],
            ),
            # Row 2 already said where Yamamoto Seisakusho is, what it is and its point.
            (
                {
                    "organization": "Yamamoto Seisakusho",
                    "organization_kind": "firm",
                    "region": "Uonuma",
                },
                [
                    (
                        3,
                        "region",
                        "Row 2 gives organization 'Yamamoto Seisakusho' a different value (Tsubame).",
                    )
                ],
            ),
            (
                {"organization": "Yamamoto Seisakusho"},
                [
                    (
                        3,
                        "organization_kind",
                        "Row 2 gives organization 'Yamamoto Seisakusho' a different value (firm).",
                    )
                ],
            ),
            (
                {
                    "organization": "Yamamoto Seisakusho",
                    "organization_kind": "",
                    "latitude": "37.0",
                    "longitude": "138.0",
                },
                [
                    (
                        3,
                        "latitude",
                        "Row 2 gives organization 'Yamamoto Seisakusho' a different value",
                    )
                ],
            ),
        ],
    )
    def test_bad_row_names_row_and_column_and_changes_nothing(
        self, network, regions, member_a, cells, expected
    ):
        before = snapshot()
        rows = with_cells(people_rows(), 3, **cells)
        errors = problems(lambda: import_people(network, csv_bytes(rows)))
        assert where(errors) == [(row, column) for row, column, _m in expected]
        for (_r, _c, message), (_er, _ec, wanted) in zip(errors, expected, strict=True):
            assert wanted in message, message
        assert snapshot() == before

    def test_same_problems_found_in_xlsx(self, network, regions):
        rows = with_cells(people_rows(), 3, joined_on="soon", region="Nagaoka")
        rows = with_cells(rows, 4, joined_on=dt.date(2025, 5, 1), left_on=dt.date(2025, 4, 1))
        errors = problems(lambda: import_people(network, xlsx_bytes(rows), "people.xlsx"))
        # A bad cell does not hide the row's other problems.
        assert where(errors) == [(3, "joined_on"), (3, "region"), (4, "left_on")]
        assert Participant.objects.count() == 0

    def test_every_problem_is_reported_in_row_order(self, network, regions):
        rows = people_rows()
        rows = with_cells(rows, 2, email="bad", role="boss")
        rows = with_cells(rows, 3, region="Nowhere", recruited_by="")
        rows = with_cells(rows, 4, left_on="2025-01-01", latitude="1")
        errors = problems(lambda: import_people(network, csv_bytes(rows)))
        assert where(errors) == [
            (2, "email"),
            (2, "role"),
            (3, "region"),
            (4, "latitude"),
            (4, "left_on"),
        ]

    def test_one_bad_row_among_good_ones_changes_nothing(self, network, regions, member_a):
        # The good rows would create people and organizations and update member_a.
        rows = [
            *people_rows(),
            [
                "Member A, renamed",
                "member.a@example.com",
                "New Org",
                "other",
                "Uonuma",
                "",
                "2025-04-19",
                "",
                "",
                "",
                "",
            ],
            [
                "Bad Date",
                "bad.date@example.jp",
                "New Org",
                "",
                "Uonuma",
                "",
                "2025-13-01",
                "",
                "",
                "",
                "",
            ],
        ]
        before = snapshot()
        counts = (Participant.objects.count(), Organization.objects.count())
        errors = problems(lambda: import_people(network, csv_bytes(rows)))
        assert where(errors) == [(6, "joined_on")]
        assert snapshot() == before
        assert (Participant.objects.count(), Organization.objects.count()) == counts
        member_a.refresh_from_db()
        assert member_a.full_name == "Member A"
        assert member_a.organization.name == "A Works"

    def test_no_regions_yet(self, network):
        rows = people_rows()[:2]
        assert problems(lambda: import_people(network, csv_bytes(rows))) == [
            (
                2,
                "region",
                "'Tsubame' is not a region of this network (known: none yet; import regions first).",
            )
        ]

    def test_regions_of_another_network_do_not_count(self, network, other_network):
        factories.RegionFactory(network=other_network, name="Tsubame")
        errors = problems(lambda: import_people(network, csv_bytes(people_rows()[:2])))
        assert where(errors) == [(2, "region")]

    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (
                ["full_name", "email", "organization", "region"],
                [(1, "joined_on", "Required column is missing.")],
            ),
            (
                ["full_name", "email", "organization", "region", "joined_on", "phone"],
                [(1, "phone", "Unknown column. Allowed columns: full_name, email,")],
            ),
            (
                ["full_name", "email", "organization", "region", "joined_on", "E-Mail"],
                [(1, "e-mail", "Unknown column.")],
            ),
            (
                ["full_name", "email", "organization", "region", "joined_on", "Email"],
                [(1, "email", "This column appears twice.")],
            ),
            (
                ["name", "email", "organization", "region", "joined_on"],
                [(1, "name", "Unknown column."), (1, "full_name", "Required column is missing.")],
            ),
        ],
    )
    def test_bad_header(self, network, regions, header, expected):
        values = ["A", "a@example.jp", "Org", "Tsubame", "2025-04-19", "x"][: len(header)]
        errors = problems(lambda: import_people(network, csv_bytes([header, values])))
        assert where(errors) == [(row, column) for row, column, _m in expected]
        for (_r, _c, message), (_er, _ec, wanted) in zip(errors, expected, strict=True):
            assert message.startswith(wanted)
        assert Participant.objects.count() == 0

    def test_row_with_more_cells_than_the_header(self, network, regions):
        rows = people_rows()
        rows[2] = [*rows[2], "surplus"]
        assert problems(lambda: import_people(network, csv_bytes(rows))) == [
            (3, None, "This row has more cells than the header has columns.")
        ]
        assert Participant.objects.count() == 0

    @pytest.mark.parametrize(
        ("data", "filename", "message"),
        [
            (b"", "people.csv", "The file is empty."),
            (
                csv_bytes([PARTICIPANT_HEADER]),
                "people.csv",
                "The file has a header but no data rows.",
            ),
            (
                csv_bytes([PARTICIPANT_HEADER], bom=True),
                "people.csv",
                "The file has a header but no data rows.",
            ),
            (
                "full_name,email,organization,region,joined_on\nJürgen Müller,j@example.de,Müller GmbH,Tsubame,2025-04-19\n".encode(
                    "latin-1"
                ),
                "people.csv",
                "The file is neither UTF-8 nor CP932 (Shift_JIS) text.",
            ),
            (
                "full_name,email,organization,region,joined_on\nA,a@example.jp,O,Tsubame,2025-04-19\n".encode(
                    "utf-16"
                ),
                "people.csv",
                "The file is neither UTF-8 nor CP932 (Shift_JIS) text.",
            ),
            (
                b"PK\x03\x04\x14\x00\x00\x00broken",
                "people.xlsx",
                "The file is not a readable Excel (.xlsx) workbook.",
            ),
            (
                b"not really excel",
                "people.xlsx",
                "The file is not a readable Excel (.xlsx) workbook.",
            ),
        ],
        ids=[
            "empty",
            "header-only",
            "header-only-bom",
            "latin-1",
            "utf-16",
            "bad-zip",
            "text-as-xlsx",
        ],
    )
    def test_unreadable_files(self, network, regions, data, filename, message):
        assert problems(lambda: import_people(network, data, filename)) == [(None, None, message)]
        assert Participant.objects.count() == 0

    def test_nul_character_is_an_error_not_a_crash(self, network, regions):
        # PostgreSQL cannot store NUL in text; such a file is not text anyway.
        rows = with_cells(people_rows(), 2, full_name="Ken\x00ichi")
        errors = problems(lambda: import_people(network, csv_bytes(rows)))
        assert where(errors) == [(None, None)]
        assert Participant.objects.count() == 0


# --- preview and apply (ImportRun) ---------------------------------------------------


class TestImportRun:
    def test_preview_then_apply_once(self, network, regions, coordinator):
        data = csv_bytes(people_rows())
        before = snapshot()
        run = services.import_run_preview(
            network=network,
            kind=ImportRun.Kind.PARTICIPANTS,
            filename="people.csv",
            data=data,
            user=coordinator,
        )
        assert run.status == ImportRun.Status.PREVIEWED
        assert (run.report["created"], run.report["updated"], run.report["unchanged"]) == (3, 0, 0)
        assert run.report["organizations_created"] == 3
        assert run.report["dry_run"] is True
        assert bytes(ImportRun.objects.get(pk=run.pk).content) == data
        assert (run.filename, run.created_by) == ("people.csv", coordinator)
        assert snapshot() == before

        run = services.import_run_apply(run_id=run.pk)
        assert run.status == ImportRun.Status.APPLIED
        assert run.applied_at is not None
        assert (run.report["created"], run.report["dry_run"]) == (3, False)
        assert people_in(network, besides=coordinator.email) == EXPECTED_PEOPLE
        after = snapshot()

        with pytest.raises(services.ImportNotApplicable):
            services.import_run_apply(run_id=run.pk)
        assert snapshot() == after
        assert ImportRun.objects.get(pk=run.pk).status == ImportRun.Status.APPLIED

    def test_regions_preview_and_apply(self, network, coordinator):
        run = services.import_run_preview(
            network=network,
            kind=ImportRun.Kind.REGIONS,
            filename="regions.xlsx",
            data=xlsx_bytes([["name", "population"], ["燕市", 77000]]),
            user=coordinator,
        )
        assert run.status == ImportRun.Status.PREVIEWED
        assert not Region.objects.filter(name="燕市").exists()
        services.import_run_apply(run_id=run.pk)
        assert Region.objects.get(network=network, name="燕市").population == 77000

    def test_invalid_preview_keeps_errors_and_cannot_be_applied(
        self, network, regions, coordinator
    ):
        rows = with_cells(people_rows(), 3, email="bad")
        before = snapshot()
        run = services.import_run_preview(
            network=network,
            kind=ImportRun.Kind.PARTICIPANTS,
            filename="people.csv",
            data=csv_bytes(rows),
            user=coordinator,
        )
        assert run.status == ImportRun.Status.INVALID
        assert run.report == {
            "errors": [
                {"row": 3, "column": "email", "message": "'bad' is not a valid e-mail address."}
            ]
        }
        with pytest.raises(services.ImportNotApplicable):
            services.import_run_apply(run_id=run.pk)
        assert snapshot() == before

    def test_data_changed_since_the_preview(self, network, region_a, coordinator):
        uonuma = factories.RegionFactory(network=network, name="Uonuma")
        run = services.import_run_preview(
            network=network,
            kind=ImportRun.Kind.PARTICIPANTS,
            filename="people.csv",
            data=csv_bytes(people_rows()),
            user=coordinator,
        )
        assert run.status == ImportRun.Status.PREVIEWED
        uonuma.delete()
        before = snapshot()
        run = services.import_run_apply(run_id=run.pk)
        assert run.status == ImportRun.Status.INVALID
        assert [(e["row"], e["column"]) for e in run.report["errors"]] == [(4, "region")]
        assert snapshot() == before
        with pytest.raises(services.ImportNotApplicable):
            services.import_run_apply(run_id=run.pk)


# --- management commands -------------------------------------------------------------


def run_command(name: str, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing_command(name: str, *args) -> tuple[str, str]:
    """Run a command that must fail; its CommandError message and its stderr."""
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(name, *args, stdout=io.StringIO(), stderr=err)
    return str(info.value), err.getvalue()


class TestCreateNetworkCommand:
    def test_creates(self, db):
        out, _err = run_command("create_network", "tsubame-uonuma", "--name", " Tsubame × Uonuma ")
        assert out.strip() == "Created network tsubame-uonuma."
        assert Network.objects.get(slug="tsubame-uonuma").name == "Tsubame × Uonuma"

    def test_existing_slug(self, network):
        message, _err = failing_command("create_network", "alpha", "--name", "Again")
        assert message == "A network with the slug alpha already exists."
        assert Network.objects.get(slug="alpha").name == "Alpha network"
        assert Network.objects.count() == 1

    @pytest.mark.parametrize("slug", ["not a slug", "a/b", "燕"])
    def test_bad_slug(self, db, slug):
        message, _err = failing_command("create_network", slug, "--name", "X")
        assert "is not a valid slug" in message
        assert Network.objects.count() == 0

    def test_empty_name(self, db):
        message, _err = failing_command("create_network", "gamma", "--name", "  ")
        assert message == "--name must not be empty."
        assert Network.objects.count() == 0

    def test_name_is_required(self, db):
        with pytest.raises(CommandError):
            call_command("create_network", "gamma", stdout=io.StringIO(), stderr=io.StringIO())
        assert Network.objects.count() == 0


class TestImportCommands:
    def test_import_regions(self, network, tmp_path):
        path = tmp_path / "regions.csv"
        path.write_bytes(csv_bytes(REGION_ROWS, encoding="cp932"))
        out, _err = run_command("import_regions", "alpha", str(path))
        assert out.strip() == "Imported: 3 created, 0 updated, 0 unchanged."
        assert set(region_values(network)) == {"燕市", "Uonuma", "Sapporo"}
        out, _err = run_command("import_regions", "alpha", str(path))
        assert out.strip() == "Imported: 0 created, 0 updated, 3 unchanged."
        assert Region.objects.count() == 3

    def test_import_regions_dry_run(self, network, tmp_path):
        path = tmp_path / "regions.xlsx"
        path.write_bytes(xlsx_bytes(REGION_ROWS))
        out, _err = run_command("import_regions", "alpha", str(path), "--dry-run")
        assert out.strip() == "Dry run, nothing changed: 3 created, 0 updated, 0 unchanged."
        assert Region.objects.count() == 0

    def test_import_regions_bad_file(self, network, region_a, tmp_path):
        path = tmp_path / "regions.csv"
        path.write_bytes(csv_bytes(with_cells(REGION_ROWS, 2, latitude="100", population="x")))
        before = snapshot()
        message, err = failing_command("import_regions", "alpha", str(path))
        assert message == "2 problem(s) found; nothing was imported."
        assert err.splitlines() == [
            "regions.csv: row 2, column latitude: 100 is outside -90 to 90.",
            "regions.csv: row 2, column population: 'x' is not a whole number.",
        ]
        assert snapshot() == before

    def test_import_participants(self, network, regions, tmp_path):
        path = tmp_path / "people.xlsx"
        path.write_bytes(xlsx_bytes(people_rows()))
        out, _err = run_command("import_participants", "alpha", str(path))
        assert out.strip() == "Imported: 3 created, 0 updated, 0 unchanged."
        assert people_in(network) == EXPECTED_PEOPLE

    def test_import_participants_dry_run(self, network, regions, member_a, tmp_path):
        path = tmp_path / "people.csv"
        extra = [
            "Member A2",
            "member.a@example.com",
            "A Works",
            "",
            "Tsubame",
            "",
            "2025-04-19",
            "",
            "",
            "",
            "",
        ]
        path.write_bytes(csv_bytes([*people_rows(), extra]))
        before = snapshot()
        out, err = run_command("import_participants", "alpha", str(path), "--dry-run")
        assert out.strip() == "Dry run, nothing changed: 3 created, 1 updated, 0 unchanged."
        assert err == ""
        assert snapshot() == before

    def test_import_participants_bad_file_prints_every_problem(
        self, network, regions, member_a, tmp_path
    ):
        rows = with_cells(people_rows(), 3, email="not-an-email", recruited_by="")
        rows = with_cells(rows, 4, recruited_by="h.sato@example.jp", region="Nagaoka")
        path = tmp_path / "people.csv"
        path.write_bytes(csv_bytes(rows))
        before = snapshot()
        message, err = failing_command("import_participants", "alpha", str(path))
        assert message == "3 problem(s) found; nothing was imported."
        assert err.splitlines() == [
            "people.csv: row 3, column email: 'not-an-email' is not a valid e-mail address.",
            "people.csv: row 4, column region: 'Nagaoka' is not a region of this network "
            "(known: Tsubame, Uonuma).",
            "people.csv: row 4, column recruited_by: h.sato@example.jp is neither a participant "
            "of this network nor on an earlier row.",
        ]
        assert snapshot() == before

    def test_bad_file_with_dry_run_also_fails(self, network, regions, tmp_path):
        path = tmp_path / "people.csv"
        path.write_bytes(csv_bytes([PARTICIPANT_HEADER]))
        message, err = failing_command("import_participants", "alpha", str(path), "--dry-run")
        assert message == "1 problem(s) found; nothing was imported."
        assert err.strip() == "people.csv: The file has a header but no data rows."

    def test_damaged_workbook(self, network, regions, tmp_path):
        path = tmp_path / "people.xlsx"
        path.write_bytes(damaged_xlsx("xl/workbook.xml", b"<workbook"))
        message, err = failing_command("import_participants", "alpha", str(path))
        assert message == "1 problem(s) found; nothing was imported."
        assert err.strip() == "people.xlsx: The file is not a readable Excel (.xlsx) workbook."

    def test_unknown_network(self, db, tmp_path):
        path = tmp_path / "people.csv"
        path.write_bytes(csv_bytes(people_rows()))
        message, _err = failing_command("import_participants", "nope", str(path))
        assert message == "No network with the slug nope."
        assert Participant.objects.count() == 0

    def test_missing_file(self, network, tmp_path):
        missing = tmp_path / "missing.csv"
        message, _err = failing_command("import_regions", "alpha", str(missing))
        assert message == f"No such file: {missing}"
        message, _err = failing_command("import_regions", "alpha", str(tmp_path))
        assert message == f"No such file: {tmp_path}"


def _python() -> str:
    venv = Path(settings.BASE_DIR) / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@pytest.fixture
def cli(tmp_path):
    """Run manage.py in a subprocess with its own, freshly migrated SQLite database."""
    database = Path(f"/tmp/hubless-import-test-{uuid.uuid4().hex}.sqlite3")
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env.update(DATABASE_URL=f"sqlite:///{database}", LANG="C", PYTHONIOENCODING="utf-8")
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by tests/e2e/conftest.py

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_python(), "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )

    migrated = run("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    run.database = database
    yield run
    database.unlink(missing_ok=True)


def test_commands_in_a_real_process(cli, tmp_path):
    def count(table: str) -> int:
        with sqlite3.connect(cli.database) as connection:
            return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    done = cli("create_network", "niigata", "--name", "Niigata")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Created network niigata."

    again = cli("create_network", "niigata", "--name", "Niigata")
    assert again.returncode != 0
    assert "A network with the slug niigata already exists." in again.stderr

    regions_file = tmp_path / "regions.csv"
    regions_file.write_bytes(csv_bytes([["name"], ["Tsubame"], ["Uonuma"]], encoding="cp932"))
    done = cli("import_regions", "niigata", str(regions_file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Imported: 2 created, 0 updated, 0 unchanged."

    bad = with_cells(people_rows(), 3, joined_on="2025/04/19")
    bad = with_cells(bad, 4, organization_kind="bank")
    bad_file = tmp_path / "people.csv"
    bad_file.write_bytes(csv_bytes(bad, bom=True))
    failed = cli("import_participants", "niigata", str(bad_file))
    assert failed.returncode == 1
    assert failed.stdout == ""
    lines = failed.stderr.splitlines()
    assert lines[:2] == [
        "people.csv: row 3, column joined_on: '2025/04/19' is not a date; write it as YYYY-MM-DD.",
        "people.csv: row 4, column organization_kind: 'bank' is not one of: firm, "
        "chamber_of_commerce, municipality, support_agency, university, trade_association, "
        "other.",
    ]
    assert "2 problem(s) found; nothing was imported." in lines[2]
    assert "Traceback" not in failed.stderr
    assert (count("coordination_participant"), count("coordination_organization")) == (0, 0)

    good_file = tmp_path / "people-good.csv"
    good_file.write_bytes(csv_bytes(people_rows(), bom=True))
    dry = cli("import_participants", "niigata", str(good_file), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "Dry run, nothing changed: 3 created, 0 updated, 0 unchanged."
    assert count("coordination_participant") == 0

    done = cli("import_participants", "niigata", str(good_file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Imported: 3 created, 0 updated, 0 unchanged."
    assert count("coordination_participant") == 3
    assert count("coordination_organization") == 3

    done = cli("import_participants", "niigata", str(good_file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Imported: 0 created, 0 updated, 3 unchanged."
    assert count("coordination_participant") == 3


# --- the web upload ------------------------------------------------------------------


def upload(client, kind: str, data: bytes, name: str, slug: str = "alpha"):
    return client.post(
        reverse("import_upload", args=[slug, kind]),
        {"file": SimpleUploadedFile(name, data, content_type="application/octet-stream")},
    )


def error_table(html: str) -> list[tuple[str, str, str]]:
    table = re.search(r'id="import-errors">(.*?)</table>', html, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", body, re.S)
    return [(row, re.sub(r"</?code>", "", column), message) for row, column, message in cells]


def row_table(html: str) -> list[tuple[str, str]]:
    table = re.search(r'id="import-rows">(.*?)</table>', html, re.S).group(1)
    return re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td>", table, re.S)


class TestWebUpload:
    def test_upload_preview_apply(self, client, network, regions, coordinator):
        client.force_login(coordinator)
        before = snapshot()
        response = upload(client, "participants", xlsx_bytes(people_rows()), "people.xlsx")
        run = ImportRun.objects.get()
        assert response.status_code == 302
        assert response.url == reverse("import_detail", args=["alpha", run.pk])
        assert (run.kind, run.status, run.filename) == ("participants", "previewed", "people.xlsx")
        assert run.created_by == coordinator
        assert snapshot() == before  # a preview changes nothing

        page = client.get(response.url)
        assert page.status_code == 200
        html = page.content.decode()
        assert "Preview: 3 to create, 0 to update, 0 unchanged." in html
        assert "3 new organizations." in html
        assert row_table(html) == [
            ("2", "Kenichi Yamamoto &lt;k.yamamoto@example.jp&gt;"),
            ("3", "Hanako Sato &lt;h.sato@example.jp&gt;"),
            ("4", "Taro Suzuki &lt;t.suzuki@example.jp&gt;"),
        ]
        assert reverse("import_apply", args=["alpha", run.pk]) in html

        response = client.post(reverse("import_apply", args=["alpha", run.pk]))
        assert response.status_code == 302
        assert response.url == reverse("import_detail", args=["alpha", run.pk])
        assert people_in(network, besides=coordinator.email) == EXPECTED_PEOPLE
        run.refresh_from_db()
        assert run.status == ImportRun.Status.APPLIED
        html = client.get(response.url).content.decode()
        assert "Imported: 3 created, 0 updated, 0 unchanged." in html

        after = snapshot()
        response = client.post(reverse("import_apply", args=["alpha", run.pk]), follow=True)
        assert "This import was already applied or has errors." in response.content.decode()
        assert snapshot() == after

    def test_upload_with_errors_shows_rows_and_columns(self, client, network, regions, coordinator):
        client.force_login(coordinator)
        rows = with_cells(people_rows(), 3, left_on="2025-01-01")
        rows = with_cells(rows, 4, region="Nagaoka", recruited_by="nobody@example.jp")
        data = csv_bytes(rows, encoding="cp932")
        before = snapshot()
        response = upload(client, "participants", data, "people.csv")
        run = ImportRun.objects.get()
        assert response.url == reverse("import_detail", args=["alpha", run.pk])
        assert run.status == ImportRun.Status.INVALID
        html = client.get(response.url).content.decode()
        assert "The file has 3 problems. Nothing was imported" in html
        assert error_table(html) == [
            ("3", "left_on", "Left before joining (joined_on is later)."),
            (
                "4",
                "region",
                "&#x27;Nagaoka&#x27; is not a region of this network (known: Tsubame, Uonuma).",
            ),
            (
                "4",
                "recruited_by",
                "nobody@example.jp is neither a participant of this network nor on an earlier row.",
            ),
        ]
        assert reverse("import_apply", args=["alpha", run.pk]) not in html
        client.post(reverse("import_apply", args=["alpha", run.pk]))
        assert snapshot() == before
        assert ImportRun.objects.get().status == ImportRun.Status.INVALID

    @pytest.mark.parametrize(
        "data",
        [b"PK\x03\x04broken", damaged_xlsx("xl/worksheets/sheet1.xml", b"<sheetData><row")],
        ids=["bad-zip", "broken-sheet-xml"],
    )
    def test_unreadable_upload_shows_a_file_level_error(self, client, network, coordinator, data):
        client.force_login(coordinator)
        response = upload(client, "regions", data, "regions.xlsx")
        assert response.status_code == 302
        assert ImportRun.objects.get().status == ImportRun.Status.INVALID
        html = client.get(response.url).content.decode()
        assert error_table(html) == [
            ("–", "–", "The file is not a readable Excel (.xlsx) workbook.")
        ]

    def test_regions_upload(self, client, network, coordinator):
        client.force_login(coordinator)
        response = upload(client, "regions", csv_bytes(REGION_ROWS, bom=True), "regions.csv")
        run = ImportRun.objects.get()
        assert run.report["created"] == 3
        client.post(reverse("import_apply", args=["alpha", run.pk]))
        assert response.status_code == 302
        assert set(region_values(network)) == {"Tsubame", "燕市", "Uonuma", "Sapporo"}

    def test_unknown_kind_is_404(self, client, network, coordinator):
        client.force_login(coordinator)
        response = upload(client, "ties", b"a,b\n1,2\n", "ties.csv")
        assert response.status_code == 404
        assert ImportRun.objects.count() == 0

    def test_wrong_file_type_is_refused_by_the_form(self, client, network, coordinator):
        client.force_login(coordinator)
        response = upload(client, "participants", b"%PDF-1.4", "people.pdf")
        assert response.status_code == 200
        assert ImportRun.objects.count() == 0

    @pytest.mark.parametrize("who", ["researcher", "member_a", "outsider", "stranger"])
    def test_only_the_coordinator_may_upload(self, client, request, network, regions, who):
        user = request.getfixturevalue(who)
        user = user.user if isinstance(user, Participant) else user
        client.force_login(user)
        before = snapshot()
        response = upload(client, "participants", csv_bytes(people_rows()), "people.csv")
        assert response.status_code == 404
        assert (
            client.get(reverse("import_upload", args=["alpha", "participants"])).status_code == 404
        )
        assert ImportRun.objects.count() == 0
        assert snapshot() == before

    @pytest.mark.parametrize("who", ["researcher", "member_a", "outsider"])
    def test_only_the_coordinator_may_see_or_apply_a_preview(
        self, client, request, network, regions, coordinator, who
    ):
        run = services.import_run_preview(
            network=network,
            kind=ImportRun.Kind.PARTICIPANTS,
            filename="people.csv",
            data=csv_bytes(people_rows()),
            user=coordinator,
        )
        user = request.getfixturevalue(who)
        client.force_login(user.user if isinstance(user, Participant) else user)
        before = snapshot()
        assert client.get(reverse("import_detail", args=["alpha", run.pk])).status_code == 404
        assert client.post(reverse("import_apply", args=["alpha", run.pk])).status_code == 404
        run.refresh_from_db()
        assert run.status == ImportRun.Status.PREVIEWED
        assert snapshot() == before

    def test_outsiders_own_network_does_not_reach_this_one(
        self, client, network, other_network, regions, coordinator, outsider
    ):
        run = services.import_run_preview(
            network=network,
            kind=ImportRun.Kind.PARTICIPANTS,
            filename="people.csv",
            data=csv_bytes(people_rows()),
            user=coordinator,
        )
        client.force_login(outsider)  # coordinator of "beta"
        response = client.post(reverse("import_apply", args=["beta", run.pk]))
        assert response.status_code == 404
        assert client.get(reverse("import_detail", args=["beta", run.pk])).status_code == 404
        assert ImportRun.objects.get(pk=run.pk).status == ImportRun.Status.PREVIEWED
        assert Participant.objects.filter(network=network).count() == 1  # the coordinator

    def test_anonymous_is_sent_to_sign_in(self, client, network, regions):
        response = upload(client, "participants", csv_bytes(people_rows()), "people.csv")
        assert response.status_code == 302
        assert reverse("account_login") in response.url
        assert ImportRun.objects.count() == 0


def test_a_decimal_comma_is_refused_rather_than_misread(network):
    data = b'name,latitude,longitude\nTsubame,"37,67",138.88\n'
    with pytest.raises(tables.TableError) as caught:
        services.regions_import(network=network, data=data, filename="r.csv", dry_run=False)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "latitude")]
